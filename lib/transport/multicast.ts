/**
 * The multicast channel: moves datagrams between the nodes of one group. It knows nothing
 * of frames or CBOR; it moves bytes, counts them, and drops what it cannot keep up with
 * (datagram-channel.ts).
 */
import type { MessagingSettings, MulticastSettings } from '../config/types.js';
import type dgram from 'node:dgram';
import { bindUdp, UdpChannel, type ReceiveLimits } from './datagram-channel.js';

export interface MulticastChannelOptions extends ReceiveLimits {
  readonly group: string;
  readonly port: number;
  /** Local IPv4 address of the interface to join and send on. */
  readonly interface: string;
  readonly ttl: number;
}

export class MulticastChannel extends UdpChannel {
  private constructor(
    socket: dgram.Socket,
    private readonly options: MulticastChannelOptions,
  ) {
    super(socket, options);
  }

  /** The channel of a config's group, with its messaging limits. */
  static openGroup(multicast: MulticastSettings, messaging: MessagingSettings, faults: { readonly dropEveryNth?: number } = {}): Promise<MulticastChannel> {
    return MulticastChannel.open({
      group: multicast.address,
      port: multicast.port,
      interface: multicast.interface,
      ttl: multicast.ttl,
      recvBufferBytes: messaging.recvBufferBytes,
      receiveQueueLimit: messaging.receiveQueueLimit,
      dropEveryNth: faults.dropEveryNth ?? 0,
    });
  }

  /** Binds the group port (shared with other nodes on this host) and joins the group. */
  static async open(options: MulticastChannelOptions): Promise<MulticastChannel> {
    const socket = await bindUdp(options.port, undefined, { ...options, shared: true, what: `join multicast group ${options.group}:${options.port} on interface ${options.interface}` }, (s) => {
      s.setMulticastInterface(options.interface);
      s.setMulticastTTL(options.ttl);
      s.setMulticastLoopback(true);
      s.addMembership(options.group, options.interface);
    });
    return new MulticastChannel(socket, options);
  }

  /** Sends one datagram to the group. Resolves once the kernel has taken it. */
  send(datagram: Uint8Array): Promise<void> {
    return this.sendTo(datagram, this.options.port, this.options.group, 'multicast');
  }

  protected override beforeClose(): void {
    try {
      this.socket.dropMembership(this.options.group, this.options.interface);
    } catch {
      // Already gone with the interface; closing the socket leaves the group anyway.
    }
  }
}
