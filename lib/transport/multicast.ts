/**
 * The multicast channel: moves datagrams between the nodes of one group. It knows nothing
 * of frames or CBOR; it moves bytes, counts them, and drops what it cannot keep up with.
 *
 * Built on node:dgram's 'message' event, which never misses a datagram that the kernel
 * delivered (unlike a recv() loop that re-attaches a one-shot listener per datagram).
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { ClosedError, TransportError } from '../errors.js';
import type { MessagingSettings, MulticastSettings } from '../config/types.js';

export interface MulticastChannelOptions {
  readonly group: string;
  readonly port: number;
  /** Local IPv4 address of the interface to join and send on. */
  readonly interface: string;
  readonly ttl: number;
  readonly recvBufferBytes: number;
  /** Received datagrams waiting to be handled; beyond this they are dropped and counted. */
  readonly receiveQueueLimit: number;
  /** Fault injection for tests: drop every Nth received datagram (0: never). */
  readonly dropEveryNth?: number;
}

export type DatagramHandler = (datagram: Buffer, from: { address: string; port: number }) => void;

/** What the layers above need from a datagram channel (an in-memory one serves unit tests). */
export interface DatagramTransport {
  send(datagram: Uint8Array): Promise<void>;
  onDatagram(handler: DatagramHandler): void;
}

export interface MulticastChannelStats {
  datagramsSent: number;
  bytesSent: number;
  sendErrors: number;
  datagramsReceived: number;
  bytesReceived: number;
  droppedQueueFull: number;
  droppedInjected: number;
  /** What the kernel granted for the receive buffer (Linux reports double the request). */
  recvBufferBytes: number;
}

interface Queued {
  readonly datagram: Buffer;
  readonly from: { address: string; port: number };
}

export class MulticastChannel implements DatagramTransport {
  readonly stats: MulticastChannelStats;
  private readonly socket: dgram.Socket;
  private readonly options: MulticastChannelOptions;
  private handler: DatagramHandler = () => {};
  private queue: Queued[] = [];
  private drainScheduled = false;
  private closed = false;
  private closing: Promise<void> | undefined;

  private constructor(socket: dgram.Socket, options: MulticastChannelOptions, recvBufferBytes: number) {
    this.socket = socket;
    this.options = options;
    this.stats = {
      datagramsSent: 0,
      bytesSent: 0,
      sendErrors: 0,
      datagramsReceived: 0,
      bytesReceived: 0,
      droppedQueueFull: 0,
      droppedInjected: 0,
      recvBufferBytes,
    };
    socket.on('message', (datagram, rinfo) => this.enqueue(datagram, rinfo));
    // After bind, socket errors are per-datagram (e.g. ENOBUFS on send); they are counted
    // where they happen, and must not crash the process.
    socket.on('error', () => {
      this.stats.sendErrors++;
    });
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
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    try {
      const bound = once(socket, 'listening');
      const failed = once(socket, 'error').then(([error]) => {
        throw error;
      });
      socket.bind(options.port);
      await Promise.race([bound, failed]);
      failed.catch(() => {});
      socket.setMulticastInterface(options.interface);
      socket.setMulticastTTL(options.ttl);
      socket.setMulticastLoopback(true);
      socket.addMembership(options.group, options.interface);
      socket.setRecvBufferSize(options.recvBufferBytes);
      socket.setSendBufferSize(Math.min(options.recvBufferBytes, 1024 * 1024));
      return new MulticastChannel(socket, options, socket.getRecvBufferSize());
    } catch (error) {
      socket.close();
      const reason = error instanceof Error ? error.message : String(error);
      throw new TransportError(
        `cannot join multicast group ${options.group}:${options.port} on interface ${options.interface}: ${reason}`,
        { cause: error },
      );
    }
  }

  /** Sets the one function that handles received datagrams. */
  onDatagram(handler: DatagramHandler): void {
    this.handler = handler;
  }

  /** Sends one datagram to the group. Resolves once the kernel has taken it. */
  send(datagram: Uint8Array): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('multicast channel'));
    return new Promise((resolve, reject) => {
      this.socket.send(datagram, this.options.port, this.options.group, (error) => {
        if (error) {
          this.stats.sendErrors++;
          reject(new TransportError(`multicast send failed: ${error.message}`, { cause: error }));
          return;
        }
        this.stats.datagramsSent++;
        this.stats.bytesSent += datagram.length;
        resolve();
      });
    });
  }

  get queueDepth(): number {
    return this.queue.length;
  }

  private enqueue(datagram: Buffer, from: { address: string; port: number }): void {
    this.stats.datagramsReceived++;
    this.stats.bytesReceived += datagram.length;
    const nth = this.options.dropEveryNth ?? 0;
    if (nth > 0 && this.stats.datagramsReceived % nth === 0) {
      this.stats.droppedInjected++;
      return;
    }
    if (this.queue.length >= this.options.receiveQueueLimit) {
      this.stats.droppedQueueFull++;
      return;
    }
    this.queue.push({ datagram, from });
    if (!this.drainScheduled) {
      this.drainScheduled = true;
      setImmediate(() => this.drain());
    }
  }

  /** Handles everything queued so far, in one turn of the event loop. */
  private drain(): void {
    this.drainScheduled = false;
    const batch = this.queue;
    this.queue = [];
    for (const { datagram, from } of batch) {
      if (this.closed) return;
      this.handler(datagram, from);
    }
  }

  /** Leaves the group and closes the socket. Safe to call more than once. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closed = true;
      this.queue = [];
      this.closing = new Promise((resolve) => {
        try {
          this.socket.dropMembership(this.options.group, this.options.interface);
        } catch {
          // Already gone with the interface; closing the socket leaves the group anyway.
        }
        this.socket.close(() => resolve());
      });
    }
    return this.closing;
  }
}
