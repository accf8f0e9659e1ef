/**
 * Whether a request may use an application, and which sessions use it.
 *
 * A session "uses" an application once a request of that application stored something
 * in it: the mark (a key in the session's global pool) is mirrored with the session, so it
 * follows it through takeovers. A graceful disable (draining) lets marked sessions go on
 * and refuses every other; an immediate disable refuses all.
 */
import type { SessionObject } from '../session/session.js';
import type { AppRecord, AppState } from '../wire/messages.js';

const MARK_PREFIX = 'castmirror.app.';

export type Admission = { readonly admitted: true } | { readonly admitted: false; readonly state: Exclude<AppState, 'enabled'> };

/** An application that server.xml does not list is not managed: always admitted. */
export function admit(record: AppRecord | undefined, session: SessionObject | undefined): Admission {
  if (!record || record.state === 'enabled') return { admitted: true };
  if (record.state === 'draining' && session && usesApp(session, record.name)) return { admitted: true };
  return { admitted: false, state: record.state };
}

export function usesApp(session: SessionObject, app: string): boolean {
  return session.global.has(MARK_PREFIX + app);
}

/** Marks a session as using `app`, once it holds anything (an empty new session is not kept). */
export function markUse(session: SessionObject, app: string): void {
  if (usesApp(session, app) || !session.pools().some((pool) => pool.size > 0)) return;
  session.global.set(MARK_PREFIX + app, true);
}

/** Live primary sessions on this node that use `app`. */
export function sessionsUsing(primaries: Iterable<SessionObject>, app: string): number {
  const now = Date.now();
  let count = 0;
  for (const session of primaries) if (!session.isExpired(now) && usesApp(session, app)) count++;
  return count;
}

/** An application's state on this node; a draining one with no session left here is disabled. */
export function effectiveState(record: AppRecord, sessionsUsingIt: number): AppState {
  return record.state === 'draining' && sessionsUsingIt === 0 ? 'disabled' : record.state;
}
