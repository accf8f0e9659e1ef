/** Headers the nodes' HTTP edge and the proxy agree on. */
import type { ServerResponse } from 'node:http';

/** Names the node that served a response. */
export const NODE_HEADER = 'X-Castmirror-Node';

/**
 * `0` on a response whose session change no backup holds (sync mode, `<Replication
 * noBackup="accept">`, no other node could take it): held on this node only.
 */
export const MIRRORED_HEADER = 'X-Castmirror-Mirrored';

/** On a 503: the node did not run the request at all (it is leaving), so another node may. */
export const NOT_APPLIED_HEADER = 'X-Castmirror-Not-Applied';

/**
 * Marks a response "not applied here": the proxy may send the request to another node. The
 * connection closes with it: a node that refuses work is going, and later requests should
 * not take this way.
 */
export function markNotApplied(res: ServerResponse): void {
  res.setHeader(NOT_APPLIED_HEADER, '1');
  res.setHeader('Connection', 'close');
}
