/** Headers the nodes' HTTP edge and the proxy agree on. */

/** Names the node that served a response. */
export const NODE_HEADER = 'X-Castmirror-Node';

/**
 * `0` on a response whose session change no backup holds (sync mode, `<Replication
 * noBackup="accept">`, no other node could take it): held on this node only.
 */
export const MIRRORED_HEADER = 'X-Castmirror-Mirrored';

/** On a 503: the node did not run the request at all (it is leaving), so another node may. */
export const NOT_APPLIED_HEADER = 'X-Castmirror-Not-Applied';
