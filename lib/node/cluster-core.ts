/**
 * The clustered core of a node: the authenticated channel, membership and the
 * invalidation bus, wired together over any datagram transport. CacheNode runs it over
 * real multicast; protocol tests run it over an in-memory network with a fake clock.
 *
 * Every frame passes the membership's verdict (the channel's admit filter); each kind then
 * goes to the component that registered for it (the bus, the session locator, application
 * sync), so nothing climbs back up to this file.
 */
import type { HeartbeatSettings } from '../config/types.js';
import { InvalidationBus } from '../messaging/invalidation-bus.js';
import { Membership, type MembershipOptions, type SelfDescription } from '../membership/membership.js';
import type { Probe } from '../membership/probe.js';
import { ClusterChannel, type Identity } from '../transport/cluster-channel.js';
import type { DatagramTransport } from '../transport/datagram-channel.js';
import { FrameCodec } from '../wire/frame.js';
import type { MemberLoad } from '../wire/messages.js';
import type { Clock } from '../util/clock.js';
import { silentLogger, type Logger } from '../util/logger.js';

export interface ClusterCoreOptions {
  readonly transport: DatagramTransport;
  readonly identity: Identity;
  readonly secret: Buffer;
  /** `<Encryption datagrams="encrypted">`: AES-256-GCM instead of a signature alone. */
  readonly encryptDatagrams?: boolean;
  readonly maxDatagramBytes: number;
  readonly coalesceMs: number;
  /** Ask for lost invalidation datagrams again before clearing (default true). */
  readonly retransmit?: boolean;
  readonly self: SelfDescription;
  readonly heartbeat: HeartbeatSettings;
  readonly knownNodes: readonly string[];
  readonly discovery?: MembershipOptions['discovery'];
  readonly addressOf?: MembershipOptions['addressOf'];
  readonly load: () => MemberLoad;
  readonly clock?: Clock;
  readonly probe?: Probe;
  readonly logger?: Logger;
}

export class ClusterCore {
  readonly channel: ClusterChannel;
  readonly membership: Membership;
  readonly bus: InvalidationBus;

  constructor(options: ClusterCoreOptions) {
    const logger = options.logger ?? silentLogger;
    const codec = new FrameCodec({ cluster: options.identity.cluster, secret: options.secret, maxFrameBytes: options.maxDatagramBytes, encrypt: options.encryptDatagrams ?? false });
    this.channel = new ClusterChannel(options.transport, codec, options.identity);
    this.membership = new Membership({
      channel: this.channel,
      self: options.self,
      heartbeat: options.heartbeat,
      knownNodes: options.knownNodes,
      discovery: options.discovery,
      addressOf: options.addressOf,
      published: () => this.bus.publishedState(),
      load: options.load,
      logger,
      clock: options.clock,
      probe: options.probe,
    });
    this.channel.admit((envelope) => this.membership.observe(envelope));
    this.bus = new InvalidationBus({
      channel: this.channel,
      membership: this.membership,
      coalesceMs: options.coalesceMs,
      retransmit: options.retransmit ?? true,
      clock: options.clock,
      logger,
    });
    this.channel.onHandlerError = (error, envelope) => logger.error({ err: error, kind: envelope.kind, sender: envelope.sender }, 'error while handling a cluster message');
  }

  start(): void {
    this.membership.start();
    this.bus.start();
  }

  /** Sends what is pending, then a goodbye. */
  async stop(): Promise<void> {
    try {
      await this.bus.flush();
    } finally {
      this.bus.stop();
      await this.membership.stop(true);
    }
  }
}
