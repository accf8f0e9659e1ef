/**
 * The pub/sub channel, for networks where the nodes cannot reach each other at all (many
 * PaaS, nodes in several networks): every datagram is published on one channel of the
 * shared store (`<Discovery type="pubsub">`, Redis or Valkey), and every node subscribes to
 * it. The frames are the ones UDP would carry, signed or encrypted and sequenced, so the
 * store only relays them: it can neither forge nor replay one.
 *
 * A datagram published while a subscription is down is lost to that subscriber, as a UDP
 * datagram can be; the sequence and gap rules above find that and repair it (a NAK, else a
 * clear). Publishing fails fast while the publisher is not connected (counted as a send
 * error): the membership treats a node the store cannot hear from as silent.
 */
import { ClosedError, TransportError } from '../errors.js';
import { DatagramChannel, type ReceiveLimits } from './datagram-channel.js';
import { openRedis, type RedisClient } from './redis.js';

export interface PubSubChannelOptions extends ReceiveLimits {
  readonly url: string;
  /** The store channel datagrams travel on. */
  readonly channel: string;
  /** False for a listener (the proxy): nothing is published, and no publishing connection is opened. */
  readonly publishes: boolean;
}

/** Where nothing is known of the sender's address (the store relays every datagram). */
const FROM_STORE = { address: 'store', port: 0 } as const;

/** The store channel a cluster's datagrams travel on. */
export function datagramChannelName(keyPrefix: string, cluster: string): string {
  return `${keyPrefix}:${cluster}:datagrams`;
}

export class PubSubChannel extends DatagramChannel {
  private readonly channelName: Buffer;

  private constructor(
    private readonly subscriber: RedisClient,
    private readonly publisher: RedisClient | undefined,
    options: PubSubChannelOptions,
  ) {
    super(options, 0);
    this.channelName = Buffer.from(options.channel);
    subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      if (channel.equals(this.channelName)) this.receive(message, FROM_STORE);
    });
    // Connection errors surface as silence (and failed sends); ioredis reconnects and subscribes again by itself.
    subscriber.on('error', () => {});
    publisher?.on('error', () => {});
  }

  /** Connects in the background: a store that is down at start is subscribed to once it is up. */
  static async open(options: PubSubChannelOptions): Promise<PubSubChannel> {
    const subscriber = await openRedis(options.url, { queueWhileDown: true });
    const publisher = options.publishes ? await openRedis(options.url) : undefined;
    const channel = new PubSubChannel(subscriber, publisher, options);
    subscriber.subscribe(options.channel).catch(() => {
      // Only when the connection is closed for good (the channel is closing): nothing to subscribe for.
    });
    return channel;
  }

  async send(datagram: Uint8Array): Promise<void> {
    if (this.isClosed) throw new ClosedError('pub/sub channel');
    if (!this.publisher) throw new TransportError('this pub/sub channel only listens');
    try {
      await this.publisher.publish(this.channelName, Buffer.from(datagram.buffer, datagram.byteOffset, datagram.length));
    } catch (error) {
      this.stats.sendErrors++;
      throw new TransportError(`publish to the store failed: ${(error as Error).message}`, { cause: error });
    }
    this.countSent(datagram.length);
  }

  protected override async release(): Promise<void> {
    this.subscriber.disconnect();
    this.publisher?.disconnect();
  }
}
