/**
 * A node that is leaving (closing or drained) hands its sessions over and says goodbye; a
 * request that reaches it meanwhile must not run there. It is answered 503 with
 * `X-Castmirror-Not-Applied: 1` before anything happens, so the sticky proxy sends it to
 * another node, and with `Connection: close`, so no later request takes this way.
 * sessionMiddleware does this by itself; `CastmirrorStore.routing()` does it for
 * express-session; `refuseWhileLeaving` is the same for any other framework (a fastify
 * `onRequest` hook registered before @fastify/session, say).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ClosedError } from '../errors.js';
import type { CacheNode } from '../node/cache-node.js';
import { sendError } from '../util/http-reply.js';
import { markNotApplied } from './headers.js';

/**
 * Answers the request as "not applied here" when the node is leaving; otherwise counts it
 * as in progress (the node's close waits for it before the hand-over) and returns false.
 */
export function refusedAsLeaving(node: Pick<CacheNode, 'closed' | 'name' | 'requestsInProgress'>, res: ServerResponse): boolean {
  if (!node.closed) {
    node.requestsInProgress.hold(res);
    return false;
  }
  if (!res.headersSent) {
    markNotApplied(res);
    sendError(res, new ClosedError(`node ${node.name}`));
  }
  return true;
}

/** Connect-style middleware: `refusedAsLeaving`, else `next()`. */
export function refuseWhileLeaving(node: Pick<CacheNode, 'closed' | 'name' | 'requestsInProgress'>): (req: IncomingMessage, res: ServerResponse, next: () => void) => void {
  return (_req, res, next) => {
    if (!refusedAsLeaving(node, res)) next();
  };
}
