/**
 * How an express-session (or @fastify/session) session is kept in a castmirror session.
 *
 *   global pool "express-session"         the session without its cookie, as JSON text: what
 *                                         express-session writes to any store; one
 *                                         `JSON.stringify` per set, one `JSON.parse` per get
 *                                         (a fresh copy each time), a string compare to tell
 *                                         a change
 *   global pool "express-session-cookie"  the cookie's attributes as JSON text, without its
 *                                         expiry (so a rolling cookie changes nothing here)
 *   global pool "express-session-id"      the id express-session gave, when it is not itself a
 *                                         castmirror id
 *   meta.expiresAt                        the cookie's expiry: the session's own end, carried
 *                                         by touches and deltas to the backup
 *
 * Any string can be an express-session id (`genid` decides); an id that is not a castmirror id
 * (22-64 characters of A-Z a-z 0-9 _ -) is kept under the SHA-256 of it, the same on every node.
 */
import { createHash } from 'node:crypto';
import type { SessionData } from 'express-session';
import { InvalidArgumentError } from '../errors.js';
import type { SessionObject } from '../session/session.js';
import { isSessionId } from '../session/id.js';

const DATA = 'express-session';
const COOKIE = 'express-session-cookie';
const SID = 'express-session-id';

export type StoredSession = SessionData & Record<string, unknown>;

/** A session as it is about to be stored: checked and encoded, nothing changed yet. */
export interface EncodedSession {
  readonly sid: string;
  readonly key: string;
  readonly data: string;
  /** undefined: the session has no cookie (express-session then refuses it at its next load). */
  readonly cookie: string | undefined;
  readonly expiresAt: number | null;
}

/** The castmirror session id an express-session id is kept under. */
export function keyOf(sid: string): string {
  return isSessionId(sid) ? sid : createHash('sha256').update(sid).digest('base64url');
}

/** Checks and encodes (`sid`: the id as kept, with the store's prefix); throws InvalidArgumentError for what no store could keep. */
export function splitSession(sid: string, key: string, sess: SessionData): EncodedSession {
  if (typeof sess !== 'object' || sess === null) throw new InvalidArgumentError(`session ${sid.slice(0, 80)} must be an object`);
  const { cookie, ...rest } = sess as StoredSession;
  const data = toJson(sid, rest);
  if (cookie === undefined || cookie === null) return { sid, key, data, cookie: undefined, expiresAt: null };
  // The cookie's own JSON form (express-session's and @fastify/session's Cookie have toJSON), a fresh object.
  const given = cookie as unknown as { toJSON?: () => Record<string, unknown> };
  const plain = typeof given.toJSON === 'function' ? given.toJSON() : { ...(given as Record<string, unknown>) };
  // An invalid Date is what JSON would store: null (express-session then reports it when it writes the cookie).
  const expires = plain.expires instanceof Date ? (Number.isNaN(plain.expires.getTime()) ? null : plain.expires.getTime()) : plain.expires;
  const expiresAt = expiryOf(sid, expires);
  // A real expiry lives in the meta; an absent or null one stays as the application wrote it.
  if (expiresAt !== null) delete plain.expires;
  return { sid, key, data, cookie: toJson(sid, plain), expiresAt };
}

/** Stores `next` into `held`; returns whether the data or the cookie's attributes changed (a commit). */
export function writeStored(held: SessionObject, next: EncodedSession): boolean {
  const pool = held.global;
  let changed = false;
  if (pool.get<string>(DATA) !== next.data) {
    pool.set(DATA, next.data);
    changed = true;
  }
  if (pool.get<string>(COOKIE) !== next.cookie) {
    if (next.cookie === undefined) pool.delete(COOKIE);
    else pool.set(COOKIE, next.cookie);
    changed = true;
  }
  if (next.sid !== next.key && !pool.has(SID)) pool.set(SID, next.sid);
  held.meta.expiresAt = next.expiresAt;
  return changed;
}

/** Whether `held` holds an express-session session (without reading it). */
export function holdsStored(held: SessionObject): boolean {
  return held.global.has(DATA);
}

/** The session as express-session stored it, a fresh copy; undefined if `held` holds none. */
export function readStored(held: SessionObject): StoredSession | undefined {
  const data = held.global.get<string>(DATA);
  if (data === undefined) return undefined;
  const sess = JSON.parse(data) as StoredSession;
  const cookie = held.global.get<string>(COOKIE);
  if (cookie !== undefined) {
    const parsed = JSON.parse(cookie) as Record<string, unknown>;
    if (held.meta.expiresAt !== null) parsed.expires = new Date(held.meta.expiresAt).toISOString();
    sess.cookie = parsed as unknown as SessionData['cookie'];
  }
  return sess;
}

/** The id the session is kept under: the store's prefix and express-session's id. */
export function sidOf(held: SessionObject): string {
  return held.global.get<string>(SID) ?? held.id;
}

function toJson(sid: string, value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    throw new InvalidArgumentError(`session ${sid.slice(0, 80)} cannot be stored as JSON: ${(error as Error).message}`);
  }
}

function expiryOf(sid: string, expires: unknown): number | null {
  if (expires === undefined || expires === null) return null;
  const at = typeof expires === 'string' || typeof expires === 'number' ? new Date(expires).getTime() : NaN;
  if (!Number.isFinite(at) || at < 0) throw new InvalidArgumentError(`session ${sid.slice(0, 80)}: cookie.expires is not a date`);
  return Math.floor(at);
}
