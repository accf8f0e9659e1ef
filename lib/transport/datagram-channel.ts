/**
 * What every datagram channel shares, whatever reaches the other nodes (a multicast group,
 * unicast to each member, the store's pub/sub channel): counters, and a bounded receive
 * queue that hands datagrams on in one turn of the event loop and drops, counted, what it
 * cannot keep; and, for the UDP channels, the bound socket.
 *
 * The UDP channels are built on node:dgram's 'message' event, which never misses a datagram that the kernel
 * delivered (unlike a recv() loop that re-attaches a one-shot listener per datagram).
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { ClosedError, TransportError } from '../errors.js';

export type DatagramHandler = (datagram: Buffer, from: { address: string; port: number }) => void;

/** What the layers above need from a datagram channel (an in-memory one serves unit tests). */
export interface DatagramTransport {
  send(datagram: Uint8Array): Promise<void>;
  onDatagram(handler: DatagramHandler): void;
}

export interface DatagramChannelStats {
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

export interface ReceiveLimits {
  readonly recvBufferBytes: number;
  /** Received datagrams waiting to be handled; beyond this they are dropped and counted. */
  readonly receiveQueueLimit: number;
  /** Fault injection for tests: drop every Nth received datagram (0: never). */
  readonly dropEveryNth?: number;
}

interface Queued {
  readonly datagram: Buffer;
  readonly from: { address: string; port: number };
}

/**
 * Binds a UDP socket to `port` (on `host`, or every address), then lets `setup` configure
 * it. `shared`: other sockets on this host may bind the port too (a multicast group's).
 */
export async function bindUdp(port: number, host: string | undefined, limits: ReceiveLimits & { readonly shared: boolean; readonly what: string }, setup: (socket: dgram.Socket) => void = () => {}): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: 'udp4', reuseAddr: limits.shared });
  try {
    const bound = once(socket, 'listening');
    const failed = once(socket, 'error').then(([error]) => {
      throw error;
    });
    socket.bind(port, host);
    await Promise.race([bound, failed]);
    failed.catch(() => {});
    setup(socket);
    socket.setRecvBufferSize(limits.recvBufferBytes);
    socket.setSendBufferSize(Math.min(limits.recvBufferBytes, 1024 * 1024));
    return socket;
  } catch (error) {
    socket.close();
    const reason = error instanceof Error ? error.message : String(error);
    throw new TransportError(`cannot ${limits.what}: ${reason}`, { cause: error });
  }
}

/**
 * What every channel shares, whatever carries its datagrams: counters, the one handler, and
 * the bounded receive queue. A subclass moves bytes (`send`, `receive`) and frees what it
 * holds at close (`release`).
 */
export abstract class DatagramChannel implements DatagramTransport {
  readonly stats: DatagramChannelStats;
  private handler: DatagramHandler = () => {};
  private queue: Queued[] = [];
  private drainScheduled = false;
  private closed = false;
  private closing: Promise<void> | undefined;

  protected constructor(
    private readonly limits: ReceiveLimits,
    recvBufferBytes: number,
  ) {
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
  }

  /** Sends one datagram to the other nodes. Resolves once it has left this process. */
  abstract send(datagram: Uint8Array): Promise<void>;

  /** Sets the one function that handles received datagrams. */
  onDatagram(handler: DatagramHandler): void {
    this.handler = handler;
  }

  get queueDepth(): number {
    return this.queue.length;
  }

  protected get isClosed(): boolean {
    return this.closed;
  }

  /** Stops receiving and frees the channel (`release`). Safe to call more than once. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closed = true;
      this.queue = [];
      this.closing = this.release();
    }
    return this.closing;
  }

  /** Frees what the channel holds (a socket, a connection). Called once. */
  protected abstract release(): Promise<void>;

  protected countSent(bytes: number): void {
    this.stats.datagramsSent++;
    this.stats.bytesSent += bytes;
  }

  /** One datagram arrived: counted, queued, handed on at the next turn (or dropped, counted). */
  protected receive(datagram: Buffer, from: { address: string; port: number }): void {
    if (this.closed) return;
    this.stats.datagramsReceived++;
    this.stats.bytesReceived += datagram.length;
    const nth = this.limits.dropEveryNth ?? 0;
    if (nth > 0 && this.stats.datagramsReceived % nth === 0) {
      this.stats.droppedInjected++;
      return;
    }
    if (this.queue.length >= this.limits.receiveQueueLimit) {
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
}

/** A channel over one bound UDP socket (multicast.ts, unicast.ts). */
export abstract class UdpChannel extends DatagramChannel {
  protected constructor(
    protected readonly socket: dgram.Socket,
    limits: ReceiveLimits,
  ) {
    super(limits, socket.getRecvBufferSize());
    socket.on('message', (datagram, rinfo) => this.receive(datagram, rinfo));
    // After bind, socket errors are per-datagram (e.g. ENOBUFS on send); they are counted
    // where they happen, and must not crash the process.
    socket.on('error', () => {
      this.stats.sendErrors++;
    });
  }

  protected override release(): Promise<void> {
    this.beforeClose();
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  protected beforeClose(): void {}

  /** One datagram to one address, counted. */
  protected sendTo(datagram: Uint8Array, port: number, address: string, what: string): Promise<void> {
    if (this.isClosed) return Promise.reject(new ClosedError(what));
    return new Promise((resolve, reject) => {
      this.socket.send(datagram, port, address, (error) => {
        if (error) {
          this.stats.sendErrors++;
          reject(new TransportError(`${what} send to ${address}:${port} failed: ${error.message}`, { cause: error }));
          return;
        }
        this.countSent(datagram.length);
        resolve();
      });
    });
  }
}
