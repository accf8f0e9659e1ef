/**
 * CastmirrorStore: an express-session store (also used unchanged by @fastify/session) whose
 * sessions live in the node's memory and are mirrored to a backup node.
 *
 * express-session picks the session ids and keeps them in its own signed cookie, so the
 * store finds a session by id alone: here, else on its backup or wherever the cluster's
 * locate finds it (the session then moves here, as with any fetch). Put the sticky proxy in
 * front and `app.use(store.routing())` after `session()`: the route cookie then sends each
 * request to the node that holds its session, and almost every request is served from memory.
 *
 * The session's data is kept as one value; the cookie beside it. A `set()` whose data did
 * not change (express-session's `resave`, @fastify/session on every request) commits
 * nothing and sends the backup only a touch.
 *
 * `all`, `length` and `clear` cover the sessions this node serves as primary; the admin
 * API and `castmirror sessions` see the whole cluster.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isDeepStrictEqual } from 'node:util';
import session from 'express-session';
import type { SessionData } from 'express-session';
import type { CacheNode } from '../node/cache-node.js';
import { sameRoute, type RouteHint } from '../replication/route-hint.js';
import type { SessionObject } from '../session/session.js';
import { RouteCookie, type RouteCookieAttributes } from '../http/route-cookie.js';

const DATA_KEY = 'express-session';
const COOKIE_KEY = 'express-session-cookie';

export interface CastmirrorStoreOptions {
  readonly node: Pick<CacheNode, 'sessions' | 'routeToken' | 'config'>;
  /** Attributes of the route cookie that `routing()` sets (its name is `<Sessions cookie>` in server.xml). */
  readonly cookie?: RouteCookieAttributes;
}

/** What the store did, for tests and metrics. */
export interface CastmirrorStoreStats {
  gets: number;
  misses: number;
  sets: number;
  /** `set()` calls whose data was unchanged: only a touch went to the backup. */
  unchangedSets: number;
  touches: number;
  destroys: number;
}

type Callback<T = void> = (error?: unknown, value?: T) => void;
type StoredSession = SessionData & Record<string, unknown>;

export class CastmirrorStore extends session.Store {
  readonly stats: CastmirrorStoreStats = { gets: 0, misses: 0, sets: 0, unchangedSets: 0, touches: 0, destroys: 0 };
  private readonly node: CastmirrorStoreOptions['node'];
  private readonly routeCookie: RouteCookie;

  constructor(options: CastmirrorStoreOptions) {
    super();
    this.node = options.node;
    this.routeCookie = RouteCookie.forNode(options.node, options.cookie);
  }

  override get(sid: string, callback: Callback<StoredSession | null>): void {
    this.stats.gets++;
    settle(
      this.node.sessions.runExisting({ sessionId: sid }, (held) => read(held)),
      (found) => {
        const data = found?.result;
        if (!data) this.stats.misses++;
        return data ?? null;
      },
      callback,
    );
  }

  override set(sid: string, sess: SessionData, callback?: Callback): void {
    this.stats.sets++;
    // The same JSON round trip as connect-redis: Dates become strings, class instances plain data.
    const { cookie, ...data } = JSON.parse(JSON.stringify(sess)) as StoredSession;
    settle(
      this.node.sessions.runOrCreate(
        { sessionId: sid },
        (held) => {
          if (held.global.has(DATA_KEY) && isDeepStrictEqual(held.global.get(DATA_KEY), data)) {
            this.stats.unchangedSets++;
            return;
          }
          held.global.set(DATA_KEY, data).set(COOKIE_KEY, cookie);
        },
        // A session get() found anywhere is here by now: any other id is a new session.
        { searchCluster: false },
      ),
      () => undefined,
      callback,
    );
  }

  override touch(sid: string, _sess: SessionData, callback?: Callback): void {
    this.stats.touches++;
    // Running nothing on the session is a read: its expiry moves and its backup is touched.
    settle(this.node.sessions.runExisting({ sessionId: sid }, () => undefined), () => undefined, callback);
  }

  override destroy(sid: string, callback?: Callback): void {
    this.stats.destroys++;
    const sessions = this.node.sessions;
    // Brought here first (if held elsewhere), so that it ends everywhere.
    settle(
      sessions.runExisting({ sessionId: sid }, () => undefined).then((found) => (found ? sessions.destroy({ sessionId: sid }) : false)),
      () => undefined,
      callback,
    );
  }

  override all(callback: (error: unknown, sessions?: Record<string, StoredSession> | null) => void): void {
    const all: Record<string, StoredSession> = {};
    for (const held of this.primaries()) {
      const data = read(held);
      if (data) all[held.id] = data;
    }
    callback(null, all);
  }

  override length(callback: (error: unknown, length?: number) => void): void {
    callback(null, this.primaries().length);
  }

  override clear(callback?: Callback): void {
    const ids = this.primaries().map((held) => held.id);
    settle(Promise.all(ids.map((id) => this.node.sessions.destroy({ sessionId: id }))), () => undefined, callback);
  }

  /**
   * Express/connect middleware, registered after `session()`: puts castmirror's route cookie
   * on responses, so the sticky proxy sends the session's next request to its primary (and
   * to its backup if the primary dies). Without it the proxy balances and nodes fetch.
   */
  routing(): (req: IncomingMessage, res: ServerResponse, next: () => void) => void {
    const { sessions } = this.node;
    const { routeCookie } = this;
    return (req, res, next) => {
      const reading = routeCookie.read(req.headers.cookie);
      const originalWriteHead = res.writeHead;
      // express-session saves the session in its res.end wrapper, before the headers go.
      res.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse['writeHead']>) {
        res.writeHead = originalWriteHead;
        const { sessionID: id, session: data } = req as IncomingMessage & { sessionID?: string; session?: Record<string, unknown> };
        const held = id ? sessions.inspect(id) : undefined;
        let hint: RouteHint | undefined;
        if (held?.role === 'primary') hint = sessions.hintFor(held.session);
        // A new session's headers go before express-session's set() has finished: it will be created here.
        else if (id && !held && data && Object.keys(data).some((key) => key !== 'cookie')) hint = sessions.hintForNew(id);
        if (hint && !sameRoute(reading.status === 'valid' ? reading.hint : undefined, hint)) res.appendHeader('Set-Cookie', routeCookie.serialize(hint));
        return originalWriteHead.apply(this, args);
      } as ServerResponse['writeHead'];
      next();
    };
  }

  /** Live primaries holding express-session data. */
  private primaries(): SessionObject[] {
    const now = Date.now();
    return [...this.node.sessions.primaries()].filter((held) => !held.isExpired(now) && held.global.has(DATA_KEY));
  }
}

/** The session as express-session stored it; a deep copy, so the caller's edits are its own until `set()`. */
function read(held: SessionObject): StoredSession | undefined {
  const data = held.global.get<Record<string, unknown>>(DATA_KEY);
  if (!data) return undefined;
  return { ...structuredClone(data), cookie: structuredClone(held.global.get(COOKIE_KEY)) } as StoredSession;
}

function settle<T, R>(work: Promise<T>, map: (value: T) => R, callback: Callback<R> | undefined): void {
  work.then(
    (value) => callback?.(null, map(value)),
    (error: unknown) => callback?.(error),
  );
}
