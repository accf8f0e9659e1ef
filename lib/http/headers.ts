/** Headers the nodes' HTTP edge and the proxy agree on. */

/** Names the node that served a response. */
export const NODE_HEADER = 'X-Castmirror-Node';

/** On a 503: the node did not run the request at all (it is leaving), so another node may. */
export const NOT_APPLIED_HEADER = 'X-Castmirror-Not-Applied';
