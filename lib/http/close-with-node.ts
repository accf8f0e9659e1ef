/**
 * Closes an application's HTTP server with its castmirror node, in the order that loses no
 * request behind the proxy or a load balancer:
 *
 * 1. the node hands its sessions over and says goodbye, while the server keeps serving
 *    (requests for sessions already handed over are answered "not applied", and the proxy
 *    sends them on: lib/http/middleware.ts);
 * 2. the server stays open `leaveGraceMs` more, for requests the proxy sent before it heard
 *    the goodbye;
 * 3. it stops accepting, idle keep-alive connections close, requests in progress finish,
 *    and after `closeTimeoutMs` whatever is left is cut.
 *
 *   const server = app.listen(port, host);
 *   closeWithNode(node, server);
 *   process.once('SIGTERM', () => void node.close());   // the server follows
 */
import type { Server } from 'node:http';
import { InvalidArgumentError } from '../errors.js';
import type { CacheNode } from '../node/cache-node.js';

export const DEFAULT_LEAVE_GRACE_MS = 300;
export const DEFAULT_CLOSE_TIMEOUT_MS = 5_000;

export interface CloseWithNodeOptions {
  /** How long the server stays open after the goodbye (default 300 ms). */
  readonly leaveGraceMs?: number;
  /** How long requests in progress may take to finish once the server stops accepting (default 5 s). */
  readonly closeTimeoutMs?: number;
}

export function closeWithNode(node: Pick<CacheNode, 'attach'>, server: Server, options: CloseWithNodeOptions = {}): void {
  const leaveGraceMs = options.leaveGraceMs ?? DEFAULT_LEAVE_GRACE_MS;
  const closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
  for (const [name, value] of [['leaveGraceMs', leaveGraceMs], ['closeTimeoutMs', closeTimeoutMs]] as const) {
    if (!Number.isSafeInteger(value) || value < 0) throw new InvalidArgumentError(`closeWithNode ${name} must be a whole number of milliseconds >= 0, not ${String(value)}`);
  }
  node.attach({
    async close() {
      await new Promise((resolve) => setTimeout(resolve, leaveGraceMs));
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), closeTimeoutMs);
      await closed;
      clearTimeout(force);
    },
  });
}
