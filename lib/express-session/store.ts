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
 * What is kept of a session (lib/express-session/stored-form.ts): its data as the JSON text
 * express-session would write to any store, the cookie's attributes beside it, and the
 * cookie's expiry as the session's own end (the idle timeout applies to a cookie without
 * one). A `set()` whose data and attributes did not change (a rolling cookie, express-session's
 * `resave`, @fastify/session on every request) commits nothing: the new expiry travels to the
 * backup with the next touch.
 *
 * Every method takes an optional callback, called exactly once and never inside a promise
 * reaction (a callback that throws is an uncaught exception, as with any callback API), and
 * returns a promise when none is given (as connect-redis >= 8.1 does).
 *
 * `all`, `ids`, `length` and `clear` cover the sessions this node serves as primary; the admin
 * API and `castmirror sessions` see the whole cluster.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import session from 'express-session';
import type { SessionData } from 'express-session';
import { InvalidArgumentError, SessionTooLargeError } from '../errors.js';
import { MAX_FRAME_BYTES } from '../replication/protocol.js';
import type { ObjectCache } from '../cache/object-cache.js';
import type { CacheNode } from '../node/cache-node.js';
import type { RouteHint } from '../replication/route-hint.js';
import type { SessionObject } from '../session/session.js';
import { RouteCookie, type RouteCookieAttributes } from '../http/route-cookie.js';
import { refusedAsLeaving } from '../http/leaving.js';
import { holdsStored, keyOf, readStored, sidOf, splitSession, writeStored, type EncodedSession, type StoredSession } from './stored-form.js';

export interface CastmirrorStoreOptions {
  readonly node: Pick<CacheNode, 'sessions' | 'routeToken' | 'config' | 'caches' | 'whenClosing' | 'closed' | 'name' | 'requestsInProgress'>;
  /** Attributes of the route cookie that `routing()` sets (its name is `<Sessions cookie>` in server.xml). */
  readonly cookie?: RouteCookieAttributes;
  /**
   * Keeps this store's sessions apart from other stores' on the same cluster (several
   * applications, or tests), as connect-redis's `prefix` does: ids are kept as prefix + id,
   * and `all`, `ids`, `length` and `clear` see only this prefix. Default: '' (every session).
   */
  readonly prefix?: string;
}

/** What the store did, for tests and metrics. */
export interface CastmirrorStoreStats {
  gets: number;
  misses: number;
  /** `get()`s answered "no such session" from the recent-misses cache, with no cluster lookup. */
  knownMisses: number;
  sets: number;
  /** `set()` calls whose data and cookie attributes were unchanged: no commit, a touch at most. */
  unchangedSets: number;
  touches: number;
  destroys: number;
}

type Callback<T = unknown> = (error: unknown, value?: T) => void;
export type ListedSession = StoredSession & { id: string };

/**
 * Ids a cluster lookup found nowhere, remembered so that a stale cookie does not multicast a
 * locate on every request; an entry is invalidated cluster-wide when a session of that id is
 * created (by the cache's invalidation channel, with its loss detection and lease).
 */
export const MISSING_SESSIONS_CACHE = 'castmirror.missing-sessions';

export class CastmirrorStore extends session.Store {
  readonly stats: CastmirrorStoreStats = { gets: 0, misses: 0, knownMisses: 0, sets: 0, unchangedSets: 0, touches: 0, destroys: 0 };
  private readonly node: CastmirrorStoreOptions['node'];
  private readonly routeCookie: RouteCookie;
  private readonly missing: ObjectCache<true> | undefined;
  readonly prefix: string;

  constructor(options: CastmirrorStoreOptions) {
    super();
    this.node = options.node;
    if (options.prefix !== undefined && typeof options.prefix !== 'string') throw new InvalidArgumentError('prefix must be a string');
    this.prefix = options.prefix ?? '';
    this.routeCookie = RouteCookie.forNode(options.node, options.cookie);
    // Only a cluster has other nodes to ask; several stores on one node share the cache.
    if (options.node.config.cluster.clustered) {
      this.missing =
        options.node.caches.get<true>(MISSING_SESSIONS_CACHE) ??
        options.node.caches.create<true>(MISSING_SESSIONS_CACHE, {
          capacity: 10_000,
          ttlSeconds: 300,
          // true: found nowhere (cached); undefined: it exists, and is here now.
          loader: async (key) => ((await this.node.sessions.runExisting({ sessionId: key }, () => undefined)) ? undefined : true),
        });
    }
    // express-session stops using a store that says `disconnect` (a closed node does not come back).
    void options.node.whenClosing().then(() => this.emit('disconnect'));
  }

  override get(sid: string): Promise<StoredSession | null>;
  override get(sid: string, callback: Callback<StoredSession | null>): void;
  override get(sid: string, callback?: Callback<StoredSession | null>): Promise<StoredSession | null> | void {
    return settle(this.read(sid), callback);
  }

  override set(sid: string, sess: SessionData): Promise<void>;
  override set(sid: string, sess: SessionData, callback: Callback<void> | undefined): void;
  override set(sid: string, sess: SessionData, callback?: Callback<void>): Promise<void> | void {
    return settle(this.write(sid, sess), callback);
  }

  /** The session was used: its new expiry is kept (and reaches the backup with the touch). */
  override touch(sid: string, sess: SessionData): Promise<void>;
  override touch(sid: string, sess: SessionData, callback: Callback<void> | undefined): void;
  override touch(sid: string, sess: SessionData, callback?: Callback<void>): Promise<void> | void {
    return settle(this.renew(sid, sess), callback);
  }

  override destroy(sid: string): Promise<void>;
  override destroy(sid: string, callback: Callback<void> | undefined): void;
  override destroy(sid: string, callback?: Callback<void>): Promise<void> | void {
    return settle(this.end(sid), callback);
  }

  /** The sessions this node serves as primary, each with its `id` (as connect-redis gives them). */
  override all(): Promise<ListedSession[]>;
  override all(callback: Callback<ListedSession[]>): void;
  override all(callback?: Callback<ListedSession[]>): Promise<ListedSession[]> | void {
    return settle(Promise.resolve().then(() => this.primaries().map((held) => ({ ...readStored(held)!, id: this.unprefixed(held) }))), callback);
  }

  ids(): Promise<string[]>;
  ids(callback: Callback<string[]>): void;
  ids(callback?: Callback<string[]>): Promise<string[]> | void {
    return settle(Promise.resolve().then(() => this.primaries().map((held) => this.unprefixed(held))), callback);
  }

  override length(): Promise<number>;
  override length(callback: Callback<number>): void;
  override length(callback?: Callback<number>): Promise<number> | void {
    return settle(Promise.resolve().then(() => this.primaries().length), callback);
  }

  override clear(): Promise<void>;
  override clear(callback: Callback<void> | undefined): void;
  override clear(callback?: Callback<void>): Promise<void> | void {
    const ids = () => this.primaries().map((held) => held.id);
    return settle(Promise.resolve().then(async () => void (await Promise.all(ids().map((id) => this.node.sessions.destroy({ sessionId: id }))))), callback);
  }

  /**
   * Express/connect middleware, registered after `session()`: puts castmirror's route cookie
   * on responses, so the sticky proxy sends the session's next request to its primary (and
   * to its backup if the primary dies). Without it the proxy balances and nodes fetch.
   * While the node is leaving, it answers every request "not applied here" (503,
   * lib/http/leaving.ts), so the proxy sends it to another node.
   */
  routing(): (req: IncomingMessage, res: ServerResponse, next: () => void) => void {
    const { sessions } = this.node;
    const { routeCookie } = this;
    const store = this;
    return (req, res, next) => {
      // express-session skipped the store (it said `disconnect`): the request goes elsewhere.
      if (refusedAsLeaving(store.node, res)) return;
      const reading = routeCookie.read(req.headers.cookie);
      const originalWriteHead = res.writeHead;
      // express-session saves the session in its res.end wrapper, before the headers go.
      res.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse['writeHead']>) {
        res.writeHead = originalWriteHead;
        const { sessionID: sid, session: data } = req as IncomingMessage & { sessionID?: string; session?: Record<string, unknown> };
        const key = typeof sid === 'string' && sid !== '' ? keyOf(store.prefix + sid) : undefined;
        const held = key ? sessions.inspect(key) : undefined;
        let hint: RouteHint | undefined;
        if (held?.role === 'primary') hint = sessions.hintFor(held.session);
        // A new session's headers go before express-session's set() has finished: it will be created here.
        else if (key && !held && data && Object.keys(data).some((k) => k !== 'cookie')) hint = sessions.hintForNew(key);
        if (hint && sessions.clientNeeds(reading.status === 'valid' ? reading.hint : undefined, hint)) res.appendHeader('Set-Cookie', routeCookie.serialize(hint));
        return originalWriteHead.apply(this, args);
      } as ServerResponse['writeHead'];
      next();
    };
  }

  private async read(sid: string): Promise<StoredSession | null> {
    this.stats.gets++;
    const key = this.keyFor(sid);
    if (this.missing && !this.node.sessions.inspect(key) && (await this.missing.getOrLoad(key))) {
      this.stats.knownMisses++;
      this.stats.misses++;
      return null;
    }
    const found = await this.node.sessions.runExisting({ sessionId: key }, (held) => readStored(held));
    if (!found) this.stats.misses++;
    return found?.result ?? null;
  }

  private async write(sid: string, sess: SessionData): Promise<void> {
    this.stats.sets++;
    const key = this.keyFor(sid);
    // Everything is checked and encoded before the session is touched: a refusal changes nothing.
    const next = splitSession(this.prefix + sid, key, sess);
    if (this.node.config.cluster.clustered && !fitsAFrame(next)) throw new SessionTooLargeError(sid);
    if (next.expiresAt !== null && next.expiresAt <= Date.now()) {
      // Already expired (connect-redis does the same): the session ends.
      await this.end(sid);
      return;
    }
    const run = await this.node.sessions.runOrCreate(
      { sessionId: key },
      (held) => {
        if (!writeStored(held, next)) this.stats.unchangedSets++;
      },
      // A session get() found anywhere is here by now: any other id is a new session.
      { searchCluster: false },
    );
    if (run.outcome === 'created' && this.missing) await this.missing.invalidate(key);
  }

  private async renew(sid: string, sess: SessionData): Promise<void> {
    this.stats.touches++;
    const key = this.keyFor(sid);
    const { expiresAt } = splitSession(this.prefix + sid, key, sess);
    await this.node.sessions.runExisting({ sessionId: key }, (held) => {
      if (expiresAt !== null) held.meta.expiresAt = expiresAt;
    });
  }

  private async end(sid: string): Promise<void> {
    this.stats.destroys++;
    const key = this.keyFor(sid);
    const { sessions } = this.node;
    // Brought here first (if held elsewhere), so that it ends everywhere.
    if (await sessions.runExisting({ sessionId: key }, () => undefined)) await sessions.destroy({ sessionId: key });
  }

  /** Live primaries holding express-session data under this store's prefix. */
  private primaries(): SessionObject[] {
    const now = Date.now();
    return [...this.node.sessions.primaries()].filter((held) => !held.isExpired(now) && holdsStored(held) && sidOf(held).startsWith(this.prefix));
  }

  /** The castmirror session id of an express-session id; throws InvalidArgumentError for what is not one. */
  private keyFor(sid: unknown): string {
    if (typeof sid !== 'string' || sid === '' || sid.length > 4096) throw new InvalidArgumentError('a session id must be a string of 1-4096 characters');
    return keyOf(this.prefix + sid);
  }

  private unprefixed(held: SessionObject): string {
    return sidOf(held).slice(this.prefix.length);
  }
}

/** Room left in a replication frame for the session's own bytes (its meta and framing take the rest). */
const SESSION_BYTES_LIMIT = MAX_FRAME_BYTES - 64 * 1024;

/** Whether the session can be copied to a backup whole: checked before anything is changed. */
function fitsAFrame(next: EncodedSession): boolean {
  const chars = next.data.length + (next.cookie?.length ?? 0);
  // A UTF-16 unit is at most 3 bytes of UTF-8: most sessions need no count at all.
  if (chars * 3 <= SESSION_BYTES_LIMIT) return true;
  return Buffer.byteLength(next.data) + Buffer.byteLength(next.cookie ?? '') <= SESSION_BYTES_LIMIT;
}

/**
 * Calls `callback` exactly once, on a later tick and outside the promise's reactions (so a
 * callback that throws is an uncaught exception, not a lost rejection); without one, the
 * promise is the answer.
 */
function settle<T>(work: Promise<T>, callback: Callback<T> | undefined): Promise<T> | void {
  if (!callback) return work;
  work.then(
    (value) => process.nextTick(callback, null, value),
    (error: unknown) => process.nextTick(callback, error),
  );
}
