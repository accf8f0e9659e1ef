/**
 * What a client keeps between requests to find its session again (the HTTP edge carries it
 * in a signed cookie, see route-token.ts), and how a request found its session. Types and
 * one comparison only: the proxy, the middleware and the express-session store read them.
 */

/** How a request found its session. */
/** How a request found its session; `restored`: no node held it, the shared store did (`<Store>`). */
export type Outcome = 'created' | 'served' | 'took-over' | 'fetched' | 'restored' | 'expired' | 'lost';

/** Where a session lives, and the version the client has seen. */
export interface RouteHint {
  readonly sessionId: string;
  readonly primary?: string | undefined;
  readonly backup?: string | undefined;
  readonly primaryIncarnation?: string | undefined;
  readonly version?: number | undefined;
}

/** Whether `known` and `next` name the same session at the same place (primary, backup, incarnation); versions aside. */
export function sameRoute(known: RouteHint | undefined, next: RouteHint): boolean {
  return (
    known !== undefined &&
    known.sessionId === next.sessionId &&
    known.primary === next.primary &&
    known.backup === next.backup &&
    known.primaryIncarnation === next.primaryIncarnation
  );
}
