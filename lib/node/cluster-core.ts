/**
 * The clustered core of a node: the authenticated channel, membership and the
 * invalidation bus, wired together over any datagram transport. CacheNode runs it over
 * real multicast; protocol tests run it over an in-memory network with a fake clock.
 */
import type { HeartbeatSettings } from '../config/types.js';
import { InvalidationBus } from '../messaging/invalidation-bus.js';
import { Membership, type SelfDescription } from '../membership/membership.js';
import type { Probe } from '../membership/probe.js';
import { ClusterChannel, type Identity } from '../transport/cluster-channel.js';
import type { DatagramTransport } from '../transport/multicast.js';
import { FrameCodec } from '../wire/frame.js';
import type { Envelope, EnvelopeOf, MemberLoad } from '../wire/messages.js';
import type { Clock } from '../util/clock.js';
import { silentLogger, type Logger } from '../util/logger.js';

export interface ClusterCoreOptions {
  readonly transport: DatagramTransport;
  readonly identity: Identity;
  readonly secret: Buffer;
  readonly maxDatagramBytes: number;
  readonly coalesceMs: number;
  readonly self: SelfDescription;
  readonly heartbeat: HeartbeatSettings;
  readonly knownNodes: readonly string[];
  readonly load: () => MemberLoad;
  readonly clock?: Clock;
  readonly probe?: Probe;
  readonly logger?: Logger;
}

type RoutedKind = 'locate' | 'located' | 'apps' | 'apps-ack';

export class ClusterCore {
  readonly channel: ClusterChannel;
  readonly membership: Membership;
  readonly bus: InvalidationBus;
  private readonly handlers: { [K in RoutedKind]?: (envelope: EnvelopeOf<K>) => void } = {};

  constructor(options: ClusterCoreOptions) {
    const logger = options.logger ?? silentLogger;
    const codec = new FrameCodec({ cluster: options.identity.cluster, secret: options.secret, maxFrameBytes: options.maxDatagramBytes });
    this.channel = new ClusterChannel(options.transport, codec, options.identity);
    this.membership = new Membership({
      channel: this.channel,
      self: options.self,
      heartbeat: options.heartbeat,
      knownNodes: options.knownNodes,
      published: () => this.bus.publishedState(),
      load: options.load,
      logger,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.probe ? { probe: options.probe } : {}),
    });
    this.bus = new InvalidationBus({ channel: this.channel, membership: this.membership, coalesceMs: options.coalesceMs, logger });
    this.channel.onEnvelope((envelope) => this.dispatch(envelope));
    this.channel.onHandlerError = (error, envelope) => logger.error({ err: error, kind: envelope.kind, sender: envelope.sender }, 'error while handling a cluster message');
  }

  start(): void {
    this.membership.start();
  }

  /** Where envelopes of a kind the core does not handle itself go (the session locator, application states). */
  route<K extends RoutedKind>(kind: K, handler: (envelope: EnvelopeOf<K>) => void): void {
    (this.handlers as Record<K, (envelope: EnvelopeOf<K>) => void>)[kind] = handler;
  }

  /** Sends what is pending, then a goodbye. */
  async stop(): Promise<void> {
    try {
      await this.bus.flush();
    } finally {
      await this.membership.stop(true);
    }
  }

  private dispatch(envelope: Envelope): void {
    const verdict = this.membership.observe(envelope);
    if (verdict !== 'accepted') {
      this.channel.drop(verdict);
      return;
    }
    if (envelope.sender === this.channel.identity.name) return; // our own frame looped back: it only proves multicast works
    if (envelope.kind === 'invalidate') this.bus.receive(envelope);
    else if (envelope.kind === 'locate') this.handlers.locate?.(envelope);
    else if (envelope.kind === 'located') this.handlers.located?.(envelope);
    else if (envelope.kind === 'apps') this.handlers.apps?.(envelope);
    else if (envelope.kind === 'apps-ack') this.handlers['apps-ack']?.(envelope);
  }
}
