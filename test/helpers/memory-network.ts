/**
 * An in-memory multicast network for protocol unit tests: every datagram sent reaches
 * every joined transport (the sender too, as multicast loopback does), synchronously,
 * unless the network's `drop` rule says otherwise.
 */
import type { DatagramHandler, DatagramTransport } from '../../lib/transport/datagram-channel.js';

export class MemoryNetwork {
  private readonly transports = new Set<MemoryTransport>();
  private readonly isolated = new Set<MemoryTransport>();
  /** Return true to lose this datagram on its way to `to`. */
  drop: (datagram: Uint8Array, from: MemoryTransport, to: MemoryTransport) => boolean = () => false;
  sent: Uint8Array[] = [];

  join(label: string): MemoryTransport {
    const transport = new MemoryTransport(this, label);
    this.transports.add(transport);
    return transport;
  }

  leave(transport: MemoryTransport): void {
    this.transports.delete(transport);
  }

  /** Cuts a transport off: nothing it sends arrives, nothing reaches it. */
  isolate(transport: MemoryTransport): void {
    this.isolated.add(transport);
  }

  reconnect(transport: MemoryTransport): void {
    this.isolated.delete(transport);
  }

  deliver(datagram: Uint8Array, from: MemoryTransport): void {
    this.sent.push(datagram);
    if (this.isolated.has(from)) return;
    for (const to of this.transports) {
      if (!this.isolated.has(to) && !this.drop(datagram, from, to)) to.receive(Buffer.from(datagram));
    }
  }
}

export class MemoryTransport implements DatagramTransport {
  private handler: DatagramHandler = () => {};
  constructor(
    private readonly network: MemoryNetwork,
    readonly label: string,
  ) {}

  send(datagram: Uint8Array): Promise<void> {
    this.network.deliver(datagram, this);
    return Promise.resolve();
  }

  onDatagram(handler: DatagramHandler): void {
    this.handler = handler;
  }

  receive(datagram: Buffer): void {
    this.handler(datagram, { address: 'memory', port: 0 });
  }
}
