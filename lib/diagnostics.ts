/**
 * castmirror's lifecycle and failure events on node:diagnostics_channel, for tracing and
 * APM tools: subscribe with `diagnostics_channel.subscribe('castmirror:member', fn)`.
 * Nothing is built or sent unless someone subscribed.
 *
 *   castmirror:node     { node, event: 'started' | 'reloaded' | 'closing' | 'closed' }
 *   castmirror:member   { node, member, incarnation, event: 'joined' | 'suspect' | 'alive' | 'dead' | 'left' | 'restarted' }
 *   castmirror:session  { node, session, event: 'took-over' | 'fetched' | 'lost' | 'conflict', version }
 *   castmirror:cache    { node, type, event: 'loss-clear', reason, sender }   (a clear forced by a possibly lost invalidation)
 *   castmirror:app      { node, app, state, version, origin }               (a state this node now holds)
 */
import diagnostics from 'node:diagnostics_channel';

export const channels = {
  node: diagnostics.channel('castmirror:node'),
  member: diagnostics.channel('castmirror:member'),
  session: diagnostics.channel('castmirror:session'),
  cache: diagnostics.channel('castmirror:cache'),
  app: diagnostics.channel('castmirror:app'),
} as const;

export type ChannelName = keyof typeof channels;

/** Publishes `message()` on a channel, building it only when someone listens. */
export function publish(name: ChannelName, message: () => object): void {
  const channel = channels[name];
  if (channel.hasSubscribers) channel.publish(message());
}
