/**
 * The admin HTTP API of one node: JSON in and out, bearer-secret auth, every failure a
 * 4xx/5xx in the one error shape of util/http-reply.ts. Attached to a started node from
 * above (lib/start.ts); the node never imports it.
 */
import http from 'node:http';
import https from 'node:https';
import {
  AdminBodyTooLargeError,
  AdminForbiddenError,
  AdminMethodNotAllowedError,
  AdminNoAppError,
  AdminNoEntryError,
  AdminNoSessionError,
  AdminNotFoundError,
  AdminUnauthorizedError,
  InvalidArgumentError,
  InvalidJsonError,
  TransportError,
  asCastmirrorError,
} from '../errors.js';
import type { AdminCredential } from '../config/types.js';
import type { CacheNode } from '../node/cache-node.js';
import { sendError, sendJson, type HeaderMap } from '../util/http-reply.js';
import { PROMETHEUS_CONTENT_TYPE } from '../metrics/prometheus.js';
import { viewOf } from '../session/view.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { listen } from '../util/listen.js';
import { AdminAccess } from './access.js';
import { ClusterViewSource } from './cluster-view.js';
import { ADMIN_PAGE_HTML } from './page.js';

const MAX_BODY_BYTES = 1024 * 1024;
/** Liveness and readiness, answered without credentials. */
export const HEALTH_PATH = '/healthz';
export const READY_PATH = '/readyz';
const EVENTS_INTERVAL_MS = 1000;

/** What the admin API reads and drives on its node. */
export type AdminTarget = Pick<
  CacheNode,
  'name' | 'config' | 'caches' | 'sessions' | 'apps' | 'status' | 'metrics' | 'applications' | 'reload' | 'close' | 'setApplicationState' | 'readiness'
>;

export interface AdminServerOptions {
  readonly node: AdminTarget;
  readonly host: string;
  readonly port: number;
  /** The cluster secret: the CLI's bearer token, and the key of login cookies; undefined only for a standalone node without <Secret>. */
  readonly secret: Buffer | undefined;
  /** `<Admin><User>` logins (lib/admin/access.ts). */
  readonly users?: readonly AdminCredential[];
  /** The node's certificate and key: serve HTTPS (`<Encryption admin="https">`). */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer } | undefined;
  readonly logger?: Logger;
}

type Handler = (request: AdminRequest) => Promise<unknown> | unknown;

interface AdminRequest {
  readonly params: readonly string[];
  body(): Promise<unknown>;
}

interface Route {
  readonly pattern: RegExp;
  readonly methods: Readonly<Record<string, Handler>>;
}

export class AdminServer {
  private readonly server: http.Server | https.Server;
  private readonly routes: Route[];
  private readonly access: AdminAccess;
  private readonly logger: Logger;
  private readonly views: ClusterViewSource;

  private constructor(private readonly options: AdminServerOptions) {
    this.logger = options.logger ?? silentLogger;
    this.access = new AdminAccess({ cluster: options.node.config.cluster.name, secret: options.secret, users: options.users ?? [], https: options.tls !== undefined });
    if (!this.access.open && !this.access.usesLogins) this.logger.warn({}, 'the admin page logs in with the cluster secret: give it logins of its own with <Admin><User name role env|file/></Admin>');
    this.routes = buildRoutes(options.node);
    this.views = new ClusterViewSource(options.node, options.secret);
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => void this.handle(req, res);
    this.server = options.tls ? https.createServer({ ...options.tls, minVersion: 'TLSv1.2' }, handler) : http.createServer(handler);
    this.server.keepAliveTimeout = 5000;
  }

  static async listen(options: AdminServerOptions): Promise<AdminServer> {
    const admin = new AdminServer(options);
    try {
      await listen(admin.server, options.port, options.host);
    } catch (error) {
      throw new TransportError(`admin API cannot listen on ${options.host}:${options.port}: ${(error as Error).message}`, { cause: error });
    }
    return admin;
  }

  get address(): { host: string; port: number } {
    const address = this.server.address();
    return typeof address === 'object' && address ? { host: address.address, port: address.port } : { host: this.options.host, port: this.options.port };
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const method = req.method ?? 'GET';
      const url = new URL(req.url ?? '/', 'http://admin');
      // Without credentials: the probes, the page itself (its data comes through /events), the login.
      if (method === 'GET' && (url.pathname === HEALTH_PATH || url.pathname === READY_PATH)) return await this.probe(url.pathname, res);
      if (method === 'GET' && url.pathname === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-frame-options': 'DENY' });
        res.end(ADMIN_PAGE_HTML);
        return;
      }
      if (method === 'POST' && url.pathname === '/login') return await this.login(req, res);
      if (method === 'POST' && url.pathname === '/logout') {
        sendJson(res, 200, { loggedOut: true }, { 'set-cookie': this.access.logout(req) });
        return;
      }
      const principal = this.access.authenticate(req);
      // A browser login is sent by the browser on its own: actions need a header that a page
      // of another origin cannot add without the (never granted) CORS preflight.
      if (principal.via === 'browser' && method !== 'GET' && req.headers['x-castmirror-admin'] !== '1') {
        throw new AdminForbiddenError('actions from a browser need the X-Castmirror-Admin: 1 header (the admin page sends it)');
      }
      this.access.authorize(principal, method);
      if (method === 'GET' && url.pathname === '/whoami') {
        sendJson(res, 200, { user: principal.user, role: principal.role, logins: this.access.usesLogins });
        return;
      }
      if (method === 'GET' && url.pathname === '/events') return this.streamEvents(req, res);
      const { handler, params } = this.match(req.method ?? 'GET', url.pathname);
      const result = await handler({ params, body: () => readJson(req) });
      if (typeof result === 'string') {
        res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE });
        res.end(result);
      } else {
        sendJson(res, 200, result);
      }
    } catch (error) {
      if (asCastmirrorError(error).httpStatus >= 500) this.logger.error({ err: error, url: req.url }, 'admin request failed');
      sendError(res, error, headersFor(error, this.access.usesLogins));
    }
  }

  /**
   * For load balancers, without credentials: liveness (the node answers) and readiness (it
   * should get traffic), as 200 or 503 with the state and nothing else.
   */
  private async probe(path: string, res: http.ServerResponse): Promise<void> {
    const headers = { 'cache-control': 'no-store' };
    if (path === HEALTH_PATH) return sendJson(res, 200, { status: 'alive' }, headers);
    const { ready, reasons } = await this.options.node.readiness();
    sendJson(res, ready ? 200 : 503, ready ? { status: 'ready' } : { status: 'not-ready', reasons }, headers);
  }

  /**
   * The admin page's login form: `{user, password}` as JSON (a form of another site cannot
   * send JSON without a CORS preflight), answered with an HttpOnly, SameSite=Strict cookie.
   */
  private async login(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) throw new AdminForbiddenError('POST /login takes JSON: {"user", "password"}');
    const body = (await readJson(req)) as { user?: unknown; password?: unknown } | undefined;
    if (typeof body?.user !== 'string' || typeof body.password !== 'string') throw new InvalidArgumentError('POST /login takes {"user": "...", "password": "..."}');
    if (!this.access.usesLogins) throw new AdminUnauthorizedError('this node has no admin users (<Admin><User>): log in with the cluster secret');
    const login = this.access.login(body.user, body.password);
    if (!login) {
      this.logger.warn({ user: body.user.slice(0, 64) }, 'admin login refused');
      throw new AdminUnauthorizedError('wrong user name or password');
    }
    sendJson(res, 200, { user: login.principal.user, role: login.principal.role }, { 'set-cookie': login.setCookie });
  }

  /** Server-sent events: the cluster view every second, until the client goes away. */
  private streamEvents(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    let busy = false;
    const send = async (): Promise<void> => {
      if (busy) return; // a slow peer: skip a beat rather than pile up
      busy = true;
      try {
        const view = await this.views.view();
        if (!res.writableEnded) res.write(`event: view\ndata: ${JSON.stringify(view)}\n\n`);
      } catch (error) {
        this.logger.warn({ err: error }, 'admin page view failed');
      } finally {
        busy = false;
      }
    };
    void send();
    const timer = setInterval(() => void send(), EVENTS_INTERVAL_MS);
    req.socket.setTimeout(0);
    res.on('close', () => clearInterval(timer));
  }

  private match(method: string, pathname: string): { handler: Handler; params: string[] } {
    for (const route of this.routes) {
      const found = route.pattern.exec(pathname);
      if (!found) continue;
      const handler = route.methods[method];
      if (!handler) {
        throw new AdminMethodNotAllowedError(method, pathname, Object.keys(route.methods));
      }
      let params: string[];
      try {
        params = found.slice(1).map((p) => decodeURIComponent(p));
      } catch {
        throw new InvalidArgumentError('malformed percent-encoding in the path');
      }
      return { handler, params };
    }
    throw new AdminNotFoundError(pathname);
  }
}

function buildRoutes(node: AdminTarget): Route[] {
  const cache = (type: string) => node.caches.require(type);
  return [
    { pattern: /^\/status$/, methods: { GET: () => node.status() } },
    { pattern: /^\/metrics$/, methods: { GET: () => node.metrics() } },
    { pattern: /^\/caches$/, methods: { GET: () => ({ caches: node.caches.stats() }) } },
    { pattern: /^\/apps$/, methods: { GET: () => ({ node: node.name, applications: node.applications() }) } },
    // Re-reads server.xml: applies what can change live, lists what needs a restart.
    { pattern: /^\/reload$/, methods: { POST: () => node.reload() } },
    {
      pattern: /^\/drain$/,
      methods: {
        // Answers at once; the node then hands its sessions over and stops (watch GET /status).
        POST: () => {
          const { primaries, backups } = node.sessions.snapshotStats();
          void node.close();
          return { node: node.name, draining: true, primaries, backups };
        },
      },
    },
    {
      pattern: /^\/apps\/([^/]+)\/(enable|disable)$/,
      methods: {
        POST: async ({ params: [name, action], body }) => {
          const raw = await body();
          const { graceful = false } = raw === undefined ? {} : requireObject(raw, ['graceful']);
          if (typeof graceful !== 'boolean') throw new InvalidArgumentError('body must be {"graceful": true|false}');
          if (!node.apps.get(name!)) throw new AdminNoAppError(name!);
          const report = await node.setApplicationState(name!, action === 'enable' ? 'enabled' : graceful ? 'draining' : 'disabled');
          return { ...report, scope: 'cluster' };
        },
      },
    },
    {
      pattern: /^\/sessions\/([^/]+)$/,
      methods: {
        GET: ({ params: [id] }) => {
          const held = node.sessions.inspect(id!);
          if (!held) throw new AdminNoSessionError(node.name, id!);
          return viewOf(held.session, held.role);
        },
      },
    },
    { pattern: /^\/caches\/([^/]+)$/, methods: { GET: ({ params }) => cache(params[0]!).stats() } },
    {
      pattern: /^\/caches\/([^/]+)\/entries\/(.+)$/,
      methods: {
        GET: ({ params: [type, key] }) => {
          const c = cache(type!);
          if (!c.has(key!)) throw new AdminNoEntryError(type!, key!);
          return { type, key, value: c.get(key!) };
        },
        PUT: async ({ params: [type, key], body }) => {
          const value = await body();
          if (value === undefined) throw new InvalidArgumentError('PUT needs a JSON body: the value to store');
          cache(type!).set(key!, value);
          return { type, key, stored: true };
        },
        DELETE: ({ params: [type, key] }) => ({ type, key, deleted: cache(type!).delete(key!) }),
      },
    },
    {
      pattern: /^\/caches\/([^/]+)\/invalidate$/,
      methods: {
        POST: async ({ params: [type], body }) => {
          const { key } = requireObject(await body(), ['key']);
          if (typeof key !== 'string') throw new InvalidArgumentError('body must be {"key": "<string>"}');
          await cache(type!).invalidate(key);
          return { type, key, invalidated: true, scope: 'cluster' };
        },
      },
    },
    {
      pattern: /^\/caches\/([^/]+)\/clear$/,
      methods: {
        POST: async ({ params: [type] }) => {
          await cache(type!).clear();
          return { type, cleared: true, scope: 'cluster' };
        },
      },
    },
    {
      pattern: /^\/caches\/([^/]+)\/reload$/,
      methods: {
        POST: async ({ params: [type] }) => {
          // Cleared everywhere; this node loads again at once the keys it held, the others on next use.
          const { warmed } = await cache(type!).reload({ warm: true });
          return { type, reloaded: true, warmed, scope: 'cluster' };
        },
      },
    },
    {
      pattern: /^\/caches\/([^/]+)\/ttl$/,
      methods: {
        GET: ({ params: [type] }) => ({ type, ttlSeconds: cache(type!).ttlSeconds, scope: 'node' }),
        PUT: async ({ params: [type], body }) => {
          const { ttlSeconds } = requireObject(await body(), ['ttlSeconds']);
          if (typeof ttlSeconds !== 'number') throw new InvalidArgumentError('body must be {"ttlSeconds": <whole number, 0 = no expiry>}');
          const c = cache(type!);
          c.setTtl(ttlSeconds);
          return { type, ttlSeconds: c.ttlSeconds, scope: 'node' };
        },
      },
    },
    {
      pattern: /^\/caches\/([^/]+)\/capacity$/,
      methods: {
        GET: ({ params: [type] }) => ({ type, capacity: cache(type!).capacity, scope: 'node' }),
        PUT: async ({ params: [type], body }) => {
          const { capacity } = requireObject(await body(), ['capacity']);
          if (typeof capacity !== 'number') throw new InvalidArgumentError('body must be {"capacity": <positive integer>}');
          const c = cache(type!);
          c.setCapacity(capacity);
          return { type, capacity: c.capacity, scope: 'node' };
        },
      },
    },
  ];
}

function requireObject(value: unknown, keys: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(`body must be a JSON object with ${keys.join(', ')}`);
  }
  return value as Record<string, unknown>;
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new AdminBodyTooLargeError(MAX_BODY_BYTES);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidJsonError((error as Error).message);
  }
}

/** The headers an error's status calls for (RFC 9110: 401 names the schemes, 405 the methods). */
/** With logins, no Basic challenge: the page shows its own form instead of the browser's prompt. */
function headersFor(error: unknown, usesLogins: boolean): HeaderMap {
  if (error instanceof AdminUnauthorizedError) return { 'www-authenticate': usesLogins ? ['Bearer realm="castmirror"'] : ['Basic realm="castmirror admin", charset="UTF-8"', 'Bearer realm="castmirror"'] };
  if (error instanceof AdminMethodNotAllowedError) return { allow: error.allow.join(', ') };
  return {};
}
