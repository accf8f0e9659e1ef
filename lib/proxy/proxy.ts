/**
 * StickyProxy: the HTTP front of a castmirror cluster (`castmirror proxy`).
 *
 * Routing is the Router's; this file moves bytes and decides what is safe to retry:
 * - The request body is not read until a connection to the node is open, so when a node
 *   refuses or cannot be reached, nothing was sent and the next node is tried, whatever the
 *   method.
 * - Once a request may have reached a node, only a bodiless idempotent request (GET, HEAD,
 *   OPTIONS) is tried elsewhere; anything else gets a 502 saying the node failed while
 *   handling it and the outcome is unknown.
 * Bodies stream both ways (no buffering); connections to each node are pooled (keep-alive).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { unlistedProcessHint, type ClusterConfig, type NodeEntry } from '../config/types.js';
import { RouteCookie } from '../http/route-cookie.js';
import { NOT_APPLIED_HEADER } from '../http/headers.js';
import { forwardedHeaders, hasBody, responseHeaders } from './forwarding.js';
import { tunnel } from './upgrade.js';
import { InvalidArgumentError, NoNodeError, TransportError, UpstreamFailedError, UpstreamTimeoutError } from '../errors.js';
import { sendError, sendJson } from '../util/http-reply.js';
import { listen } from '../util/listen.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { MemberWatch } from './member-watch.js';
import { Router, type ProxyMode } from './router.js';

/** The proxy's own status page; no application path starts with it. */
export const PROXY_STATUS_PATH = '/_castmirror/proxy';

const RETRYABLE_AFTER_SEND = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Request bodies up to this size are kept while sent, so a request a node did not apply can go to another. */
const REPLAY_LIMIT_BYTES = 64 * 1024;
const DEFAULT_READINESS_INTERVAL_MS = 1_000;

export interface ProxyOptions {
  readonly config: ClusterConfig;
  /** The cluster secret: verifies route cookies and heartbeats. */
  readonly secret: Buffer | undefined;
  readonly host: string;
  readonly port: number;
  readonly mode?: ProxyMode;
  /** Give up on a node that has not answered a request's headers in this time (504). */
  readonly timeoutMs?: number;
  /** Give up opening a connection to a node after this long and try the next. */
  readonly connectTimeoutMs?: number;
  /** How often each node's `GET /readyz` is asked (default 1000; 0: never, heartbeats alone decide). */
  readonly readinessIntervalMs?: number;
  readonly logger?: Logger;
  /** Reads the config again (the CLI passes the file's loader); used when an unknown node appears. */
  readonly reloadConfig?: () => Promise<ClusterConfig>;
}

export interface ProxyStats {
  requests: number;
  /** Requests that went to another node because the first choice could not be reached. */
  retried: number;
  /** 502s: the node failed after the request may have reached it. */
  failedAfterSend: number;
  /** 503s: no node could be reached. */
  noNode: number;
  /** Requests a leaving node answered "not applied", sent to another node. */
  notApplied: number;
  /** WebSocket (Upgrade) requests, tunnelled or refused. */
  upgrades: number;
  timeouts: number;
  /** Requests given up because their node stopped answering (silent for deadAfterMs). */
  abandoned: number;
  forgedCookies: number;
  byNode: Record<string, number>;
  byReason: Record<string, number>;
}

export class StickyProxy {
  readonly stats: ProxyStats;
  readonly mode: ProxyMode;
  private readonly agents = new Map<string, http.Agent>();
  private readonly nodes: Map<string, NodeEntry>;
  private readonly cookie: RouteCookie | undefined;
  private readonly router: Router;
  private readonly logger: Logger;
  private readonly timeoutMs: number;
  private readonly connectTimeoutMs: number;
  private server: http.Server | undefined;
  /** Per node, how to give up each request waiting on it (when the node stops answering). */
  private readonly waiting = new Map<string, Set<(error: Error) => void>>();
  private watchdog: NodeJS.Timeout | undefined;

  private constructor(
    options: ProxyOptions,
    readonly members: MemberWatch,
  ) {
    this.mode = options.mode ?? 'sticky';
    this.logger = options.logger ?? silentLogger;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 1_000;
    this.nodes = new Map(options.config.nodes.map((n) => [n.name, n]));
    // The name every node writes: <Sessions cookie> of the same server.xml.
    this.cookie = options.secret ? new RouteCookie({ secret: options.secret, cluster: options.config.name, name: options.config.sessions.cookie }) : undefined;
    this.router = new Router(members, this.mode);
    this.stats = { requests: 0, retried: 0, failedAfterSend: 0, noNode: 0, notApplied: 0, upgrades: 0, timeouts: 0, abandoned: 0, forgedCookies: 0, byNode: {}, byReason: {} };
    for (const node of options.config.nodes) {
      this.agents.set(node.name, newAgent());
      this.stats.byNode[node.name] = 0;
    }
    // A heartbeat from a node the config does not list: re-read the config (it may have been
    // added by `castmirror reload`), so the new node gets requests without a proxy restart.
    members.onUnknownNode = (name) => {
      if (!options.reloadConfig) return;
      options.reloadConfig().then(
        (config) => {
          const { added } = this.reconfigure(config);
          if (!added.includes(name)) this.logger.warn({ node: name, hint: unlistedProcessHint([...this.nodes.keys()], name) }, 'heartbeats from a node that server.xml does not list');
        },
        (error: unknown) => this.logger.warn({ err: error }, 'could not re-read the config for a new node'),
      );
    };
  }

  static async start(options: ProxyOptions): Promise<StickyProxy> {
    checkOptions(options);
    const members = await MemberWatch.open(options.config, options.secret);
    const proxy = new StickyProxy(options, members);
    try {
      const server = http.createServer({ keepAliveTimeout: 5_000 }, (req, res) => proxy.handle(req, res));
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => proxy.upgrade(req, socket, head));
      await listen(server, options.port, options.host);
      proxy.server = server;
      proxy.watchdog = setInterval(() => proxy.abandonSilentNodes(), members.checkIntervalMs).unref();
      const readinessIntervalMs = options.readinessIntervalMs ?? DEFAULT_READINESS_INTERVAL_MS;
      if (readinessIntervalMs > 0) members.pollReadiness(readinessIntervalMs);
    } catch (error) {
      await members.close();
      throw error;
    }
    return proxy;
  }

  /**
   * Takes a (re)loaded config: nodes added get a connection pool and are routed to once
   * their heartbeats arrive; nodes removed are no longer routed to.
   */
  reconfigure(config: ClusterConfig): { added: string[]; removed: string[] } {
    const added = config.nodes.filter((n) => !this.nodes.has(n.name)).map((n) => n.name);
    const removed = [...this.nodes.keys()].filter((name) => !config.nodes.some((n) => n.name === name));
    for (const node of config.nodes) {
      this.nodes.set(node.name, node);
      if (!this.agents.has(node.name)) this.agents.set(node.name, newAgent());
      this.stats.byNode[node.name] ??= 0;
    }
    for (const name of removed) {
      this.nodes.delete(name);
      this.agents.get(name)?.destroy();
      this.agents.delete(name);
    }
    this.members.reconfigure(config);
    if (added.length > 0 || removed.length > 0) this.logger.info({ added, removed }, 'proxy nodes changed');
    return { added, removed };
  }

  get address(): { host: string; port: number } {
    const address = this.server?.address();
    if (!address || typeof address === 'string') throw new TransportError('the proxy is not listening');
    return { host: address.address, port: address.port };
  }

  get url(): string {
    const { host, port } = this.address;
    return `http://${host}:${port}`;
  }

  async close(): Promise<void> {
    clearInterval(this.watchdog);
    const server = this.server;
    this.server = undefined;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
    }
    for (const agent of this.agents.values()) agent.destroy();
    await this.members.close();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (req.url === PROXY_STATUS_PATH) return this.status(res);
    this.stats.requests++;
    const reading = this.cookie?.read(req.headers.cookie) ?? { status: 'absent' as const };
    if (reading.status === 'forged') this.stats.forgedCookies++;
    const choice = this.router.choose(reading.status === 'valid' ? reading.hint : undefined);
    this.stats.byReason[choice.reason] = (this.stats.byReason[choice.reason] ?? 0) + 1;
    const headers = forwardedHeaders(req);
    const isNewSession = choice.reason === 'new-session';
    const replay = new BodyReplay(req, REPLAY_LIMIT_BYTES);
    let attempt = 0;

    const tryNext = (): void => {
      const name = choice.order[attempt++];
      if (name === undefined) {
        this.stats.noNode++;
        return sendError(res, new NoNodeError());
      }
      if (attempt > 1) this.stats.retried++;
      // Counted when chosen, not when answered: a burst of new sessions then spreads out
      // instead of all going to the node that was least loaded at its last heartbeat.
      if (isNewSession) this.members.assigned(name);
      this.forward(name, req, res, headers, replay, {
        unreachable: () => {
          this.members.markRefused(name);
          tryNext();
        },
        notApplied: () => {
          // The node is leaving (a drain): it did not run the request; another node will.
          this.members.markRefused(name);
          this.stats.notApplied++;
          tryNext();
        },
        failedAfterSend: (error) => {
          if (RETRYABLE_AFTER_SEND.has(req.method ?? '') && !hasBody(req)) return tryNext();
          this.stats.failedAfterSend++;
          this.logger.warn({ node: name, method: req.method, url: req.url, err: error }, 'node failed while handling a request');
          sendError(res, new UpstreamFailedError(name, `${req.method} ${req.url}: ${error.message}; not retried`));
        },
        responded: () => {
          this.stats.byNode[name] = (this.stats.byNode[name] ?? 0) + 1;
        },
      });
    };
    tryNext();
  }

  /** A WebSocket (HTTP Upgrade): routed as a request is, then tunnelled (upgrade.ts). */
  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.stats.upgrades++;
    const reading = this.cookie?.read(req.headers.cookie) ?? { status: 'absent' as const };
    if (reading.status === 'forged') this.stats.forgedCookies++;
    const { order } = this.router.choose(reading.status === 'valid' ? reading.hint : undefined);
    tunnel({
      req,
      client: socket,
      head,
      order,
      headers: forwardedHeaders(req),
      connectTimeoutMs: this.connectTimeoutMs,
      target: (name) => {
        const node = this.nodes.get(name)!;
        return { host: node.host, port: node.httpPort };
      },
      on: {
        unreachable: (name) => this.members.markRefused(name),
        notApplied: (name) => {
          this.members.markRefused(name);
          this.stats.notApplied++;
        },
        joined: (name) => (this.stats.byNode[name] = (this.stats.byNode[name] ?? 0) + 1),
        noNode: () => this.stats.noNode++,
      },
    });
  }

  /**
   * A node silent for deadAfterMs (stalled, killed, cut off) is not waited on for the 30 s
   * request timeout: what it was handling is given up, as if its connection had failed, so
   * a bodiless GET goes to the next node (the session's backup) and anything else gets a 502.
   */
  private abandonSilentNodes(): void {
    const now = performance.now();
    for (const [name, requests] of this.waiting) {
      if (requests.size === 0 || !this.members.stoppedAnswering(name, now)) continue;
      this.stats.abandoned += requests.size;
      const error = new Error(`${name} stopped answering (no heartbeat for deadAfterMs)`);
      for (const abandon of [...requests]) abandon(error);
    }
  }

  private forward(
    name: string,
    req: IncomingMessage,
    res: ServerResponse,
    headers: http.OutgoingHttpHeaders,
    replay: BodyReplay,
    on: { unreachable: () => void; notApplied: () => void; failedAfterSend: (error: Error) => void; responded: () => void },
  ): void {
    const node = this.nodes.get(name)!;
    let sent = false;
    let settled = false;
    const upstream = http.request({ host: node.host, port: node.httpPort, method: req.method, path: req.url, headers, agent: this.agents.get(name)! });
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      outcome();
    };
    let requests = this.waiting.get(name);
    if (!requests) this.waiting.set(name, (requests = new Set()));
    const abandon = (error: Error): void => {
      upstream.destroy();
      settle(() => (sent ? on.failedAfterSend(error) : on.unreachable()));
    };
    requests.add(abandon);
    upstream.once('close', () => requests.delete(abandon));
    const send = (): void => {
      sent = true;
      clearTimeout(connectTimer);
      // A retried request was read to its end by the first attempt: its body is replayed.
      if (req.readableEnded) upstream.end(replay.body ?? undefined);
      else {
        replay.record();
        req.pipe(upstream);
      }
    };
    const connectTimer = setTimeout(() => {
      if (sent) return;
      upstream.destroy();
      settle(on.unreachable);
    }, this.connectTimeoutMs);
    upstream.setTimeout(this.timeoutMs, () => {
      upstream.destroy();
      settle(() => {
        this.stats.timeouts++;
        sendError(res, new UpstreamTimeoutError(name, this.timeoutMs));
      });
    });
    upstream.once('socket', (socket: Socket) => {
      // A pooled socket is already open; a new one is not sent on until it connects.
      if (socket.connecting) socket.once('connect', send);
      else send();
    });
    upstream.on('error', (error) => {
      clearTimeout(connectTimer);
      settle(() => (sent ? on.failedAfterSend(error) : on.unreachable()));
    });
    upstream.on('response', (response) => {
      clearTimeout(connectTimer);
      if (response.statusCode === 503 && response.headers[NOT_APPLIED_HEADER.toLowerCase()] === '1' && replay.replayable) {
        response.resume();
        return settle(on.notApplied);
      }
      settle(on.responded);
      res.writeHead(response.statusCode ?? 502, response.statusMessage, responseHeaders(response));
      response.pipe(res);
      response.on('error', () => res.destroy());
    });
    // The client went away: stop the node's work on its behalf.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
  }

  private status(res: ServerResponse): void {
    const now = performance.now();
    const members = [...this.members.members.values()].map((m) => ({
      name: m.node.name,
      alive: this.members.isAlive(m.node.name, now),
      state: this.members.stateOf(m.node.name, now),
      incarnation: m.incarnation ?? null,
      sessions: m.load?.sessions ?? null,
      msSinceHeard: Number.isFinite(m.lastHeard) ? Math.round(now - m.lastHeard) : null,
    }));
    sendJson(res, 200, { mode: this.mode, listening: this.members.listening, members, stats: this.stats });
  }
}

function newAgent(): http.Agent {
  // Idle sockets close before the nodes' 5 s keep-alive timeout, so none is reused as the node closes it.
  return new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64, timeout: 4_000, scheduling: 'lifo' });
}

/** Keeps a copy of a request body as it is sent (up to a limit), to send it again. */
class BodyReplay {
  private chunks: Buffer[] | undefined = [];
  private size = 0;
  private recording = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly limit: number,
  ) {}

  record(): void {
    if (this.recording) return;
    this.recording = true;
    this.req.on('data', (chunk: Buffer) => {
      if (!this.chunks) return;
      this.size += chunk.length;
      if (this.size > this.limit) this.chunks = undefined;
      else this.chunks.push(chunk);
    });
  }

  /** Whether the whole body has been read and kept (or there was none). */
  get replayable(): boolean {
    return this.req.readableEnded && this.chunks !== undefined;
  }

  get body(): Buffer | undefined {
    return this.chunks && this.chunks.length > 0 ? Buffer.concat(this.chunks) : undefined;
  }
}

const MODES: readonly ProxyMode[] = ['sticky', 'dumb'];

/** Every option, once, at the door: nothing below re-checks them. */
function checkOptions(options: ProxyOptions): void {
  const { mode, timeoutMs, connectTimeoutMs, readinessIntervalMs, port } = options;
  if (mode !== undefined && !MODES.includes(mode)) throw new InvalidArgumentError(`proxy mode must be one of ${MODES.join(', ')}, not ${JSON.stringify(mode)}`);
  if (readinessIntervalMs !== undefined && (!Number.isSafeInteger(readinessIntervalMs) || readinessIntervalMs < 0)) {
    throw new InvalidArgumentError(`proxy readinessIntervalMs must be a whole number of milliseconds >= 0, not ${String(readinessIntervalMs)}`);
  }
  for (const [name, value] of [['timeoutMs', timeoutMs], ['connectTimeoutMs', connectTimeoutMs]] as const) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) throw new InvalidArgumentError(`proxy ${name} must be a positive whole number of milliseconds, not ${String(value)}`);
  }
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`proxy port must be 0-65535, not ${String(port)}`);
}
