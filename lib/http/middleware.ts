/**
 * Session middleware for node:http, express and connect: `(req, res, next)`.
 *
 * Before the handler: the route cookie (verified, see route-cookie.ts) says which session
 * the request belongs to; the node finds it here or by takeover, fetch or locate, and puts
 * it on `req.castmirror`. After the handler: when the handler ends the response, the end is
 * held back while the session's changes are committed (in sync mode, until the backup has
 * acknowledged them), then the cookie is refreshed if anything in it changed and the
 * response is released. Requests on one session run one at a time (the session's queue),
 * so a handler that never ends its response holds its session until the client goes away.
 *
 * With node:http: `createServer((req, res) => sessions(req, res, () => app(req, res)))`;
 * `next` may return a promise, and a rejection becomes a 500 once the session is committed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CacheNode } from '../node/cache-node.js';
import type { Outcome, RouteHint } from '../replication/route-hint.js';
import type { SessionObject } from '../session/session.js';
import { AppDisabledError, HandlerFailedError, SessionTooLargeError } from '../errors.js';
import { errorBody } from '../util/http-reply.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { RouteCookie, type RouteCookieAttributes, type RouteCookieReading } from './route-cookie.js';
import { admit, markUse } from '../apps/admission.js';
import type { AppState } from '../wire/messages.js';

import { markNotApplied, MIRRORED_HEADER, NODE_HEADER, NOT_APPLIED_HEADER } from './headers.js';

export { MIRRORED_HEADER, NODE_HEADER, NOT_APPLIED_HEADER };

/** What the middleware puts on `req.castmirror`. */
export interface RequestSession {
  readonly session: SessionObject;
  /** How the session was found: created, served, took-over, fetched, restored (from `<Store>`), expired or lost (the last two: a new session). */
  readonly outcome: Outcome;
  /** The route cookie as received: absent, forged (ignored) or valid. */
  readonly cookie: RouteCookieReading['status'];
  /** The node serving this request. */
  readonly node: string;
  /** Ends the session everywhere once this request is done (a logout); the cookie is removed. */
  invalidate(): void;
}

export type SessionRequest = IncomingMessage & { castmirror?: RequestSession };

export interface SessionMiddlewareOptions {
  readonly node: Pick<CacheNode, 'name' | 'sessions' | 'routeToken' | 'config' | 'apps'>;
  /** Attributes of the route cookie (its name is `<Sessions cookie>` in server.xml). */
  readonly cookie?: RouteCookieAttributes;
  /** Set `X-Castmirror-Node` on every response (default true). */
  readonly nodeHeader?: boolean;
  /**
   * Keep a new session even when the handler stored nothing in it (default false: such a
   * session is dropped, with no cookie and no mirror, so anonymous traffic costs nothing).
   */
  readonly keepEmptySessions?: boolean;
  /**
   * The application these requests belong to (a name in `<Applications>`). When it is
   * disabled, requests get a 503 naming it; while it drains (a graceful disable), only
   * sessions that already used it are served.
   */
  readonly application?: string;
  readonly logger?: Logger;
}

export type SessionMiddleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => unknown) => void;

type End = ServerResponse['end'];
type WriteHead = ServerResponse['writeHead'];

export function sessionMiddleware(options: SessionMiddlewareOptions): SessionMiddleware {
  const { node } = options;
  const nodeHeader = options.nodeHeader ?? true;
  const runOptions = { discardEmpty: !options.keepEmptySessions };
  const app = options.application;
  const logger = options.logger ?? silentLogger;
  const routeCookie = RouteCookie.forNode(node, options.cookie);

  return function castmirrorSession(req, res, next) {
    if (nodeHeader) res.setHeader(NODE_HEADER, node.name);
    // Disabled outright: refused before any session work.
    if (app && node.apps.get(app)?.state === 'disabled') return refuse(req, res, app, 'disabled');
    const reading = routeCookie.read(req.headers.cookie);
    const received = reading.status === 'valid' ? reading.hint : undefined;

    const originalEnd = res.end;
    const originalWrite = res.write;
    const originalWriteHead = res.writeHead;
    const originalFlushHeaders = res.flushHeaders;
    let heldHead: Parameters<WriteHead> | undefined;
    let heldEnd: Parameters<End> | undefined;
    let handlerFailure: unknown;
    let handlerDone!: () => void;
    const finished = new Promise<void>((resolve) => (handlerDone = resolve));
    let session: SessionObject | undefined;
    let refused: Exclude<AppState, 'enabled'> | undefined;
    let invalidated = false;

    /** Puts the cookie on, then lets the held headers (if any) go. */
    const sendHead = (hint: RouteHint | undefined): void => {
      res.writeHead = originalWriteHead;
      res.write = originalWrite;
      res.flushHeaders = originalFlushHeaders;
      if (res.headersSent) return;
      if (hint && node.sessions.clientNeeds(received, hint)) res.appendHeader('Set-Cookie', routeCookie.serialize(hint));
      // A cookie that did not verify is removed, so it is not sent (and counted) again.
      else if (!hint && reading.status === 'forged') res.appendHeader('Set-Cookie', routeCookie.clearing());
      if (heldHead) originalWriteHead.apply(res, heldHead);
    };
    // Headers wait for the end (and the commit) unless the handler streams: then they go
    // with the first write, the cookie carrying the version as it stands (the committed one
    // is at most one step newer).
    const streamHead = (): void => sendHead(session && node.sessions.hintFor(session));
    res.writeHead = function (this: ServerResponse, ...args: Parameters<WriteHead>) {
      heldHead = args;
      return this;
    } as WriteHead;
    res.write = function (this: ServerResponse, ...args: Parameters<ServerResponse['write']>) {
      streamHead();
      return originalWrite.apply(this, args);
    } as ServerResponse['write'];
    res.flushHeaders = function (this: ServerResponse) {
      streamHead();
      originalFlushHeaders.call(this);
    };
    res.end = function (this: ServerResponse, ...args: Parameters<End>) {
      heldEnd ??= args;
      handlerDone();
      return this;
    } as End;
    // The client went away before the handler ended: commit what was done and move on.
    res.once('close', () => handlerDone());

    const release = (hint: RouteHint | undefined, failure?: { readonly status: number; readonly error: unknown }): void => {
      res.end = originalEnd;
      if (res.writableEnded || res.destroyed) return;
      if (failure !== undefined && !res.headersSent) {
        heldHead = undefined;
        // Whatever the handler meant to send is not what goes: its length must not either.
        res.removeHeader('Content-Length');
        sendHead(hint);
        res.statusCode = failure.status;
        res.setHeader('Content-Type', 'application/json; charset=utf-8');
        res.end(JSON.stringify(errorBody(failure.error)));
        return;
      }
      if (refused && app) {
        sendHead(hint);
        return refuse(req, res, app, refused);
      }
      sendHead(hint);
      if (heldEnd) res.end(...(heldEnd as Parameters<End>));
      else res.end();
    };

    node.sessions
      .run(received, (found, outcome) => {
        session = found;
        if (app) {
          const admission = admit(node.apps.get(app), found);
          if (!admission.admitted) {
            refused = admission.state;
            return;
          }
        }
        (req as SessionRequest).castmirror = { session: found, outcome, cookie: reading.status, node: node.name, invalidate: () => (invalidated = true) };
        try {
          const returned = next();
          if (returned instanceof Promise) returned.catch((error: unknown) => fail(error));
        } catch (error) {
          fail(error);
        }
        // A session that this application stored something in now uses it (graceful disables spare it).
        return app ? finished.then(() => markUse(found, app)) : finished;
      }, runOptions)
      .then(async (result) => {
        if (!invalidated) return result;
        await node.sessions.destroy(result.hint);
        return { ...result, kept: false };
      })
      .then(
        (result) => {
          const hint = result.kept ? result.hint : undefined;
          if (invalidated && !res.headersSent) res.appendHeader('Set-Cookie', routeCookie.clearing());
          // Acknowledged, but held on this node only: said, never silent.
          if (result.kept && !result.mirrored && node.config.cluster.clustered && !res.headersSent) res.setHeader(MIRRORED_HEADER, '0');
          if (handlerFailure === undefined) return release(hint);
          logger.error({ err: handlerFailure, url: req.url }, 'request handler failed');
          release(hint, { status: HandlerFailedError.httpStatus, error: new HandlerFailedError() });
        },
        (error: unknown) => {
          // The session could not be found or committed (the node is closing, say).
          logger.error({ err: error, url: req.url }, 'session middleware failed');
          // The handler never ran: the request may safely go to another node (the proxy does so).
          if (!session && !res.headersSent) markNotApplied(res);
          // 503: the session could not be served or committed here, another node may; 413 for
          // a session too large to mirror, which no other node can take either.
          release(undefined, { status: error instanceof SessionTooLargeError ? SessionTooLargeError.httpStatus : 503, error });
        },
      );

    function fail(error: unknown): void {
      handlerFailure ??= error;
      handlerDone();
    }
  };
}

/** 503 naming the application: an HTML page for browsers, JSON for everyone else. */
function refuse(req: IncomingMessage, res: ServerResponse, app: string, state: Exclude<AppState, 'enabled'>): void {
  const refusal = new AppDisabledError(app, state);
  const { message } = refusal;
  res.statusCode = refusal.httpStatus;
  res.setHeader('Retry-After', '60');
  res.removeHeader('Content-Length');
  if ((req.headers.accept ?? '').includes('text/html')) {
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    const html = (text: string) => text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
    res.end(`<!doctype html><html lang="en"><meta charset="utf-8"><title>${html(app)} unavailable</title><h1>503: ${html(app)} is unavailable</h1><p>${html(message)}</p></html>\n`);
    return;
  }
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(errorBody(refusal)));
}
