/**
 * Replication links: TCP connections between nodes (inside TLS when `<Encryption links>`
 * asks), authenticated by a challenge-response over the cluster secret before any session
 * data moves.
 *
 *   client -> hello     { cluster, node, incarnation, nonceC }
 *   server -> challenge { node, incarnation, nonceS, proof = HMAC(k, "S" nonceC nonceS names) }
 *   client -> proof     { HMAC(k, "C" nonceC nonceS names) }      (after checking the server's)
 *   server -> welcome
 *
 * After that the client sends requests (each with an id) and the server answers them. A
 * peer without the secret, or speaking garbage, is disconnected and counted; nothing it
 * sends reaches the session layer.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type net from 'node:net';
import { once } from 'node:events';
import { DecodeError, PeerUnavailableError, TransportError } from '../errors.js';
import { FrameSplitter, framed } from '../transport/frame-stream.js';
import type { EncryptionSettings } from '../config/types.js';
import { streamSecurity, type StreamSecurity } from '../transport/secure-stream.js';
import { deriveKey } from '../wire/frame.js';
import { listen } from '../util/listen.js';
import { decodeMessage, encodeMessage, MAX_FRAME_BYTES, type ReplicationMessage } from './protocol.js';

const HANDSHAKE_TIMEOUT_MS = 2000;
/** Outbound bytes buffered before senders are asked to wait (the backpressure policy). */
export const HIGH_WATER_BYTES = 16 * 1024 * 1024;

export interface LinkIdentity {
  readonly cluster: string;
  readonly node: string;
  readonly incarnation: string;
  /** Derived from the cluster secret for this purpose only. */
  readonly key: Buffer;
  /** How this node's link streams are protected (plain TCP or TLS); every node must agree. */
  readonly security: StreamSecurity;
}

/** A node's link identity: its keys derived from the cluster secret, its streams as `<Encryption links>` asks. */
export function linkIdentity(self: Omit<LinkIdentity, 'key' | 'security'>, secret: Buffer, encryption: EncryptionSettings): LinkIdentity {
  const key = (purpose: string): Buffer => deriveKey(secret, self.cluster, purpose);
  return { ...self, key: key('replication'), security: streamSecurity(encryption, self.node, key('replication tls')) };
}

export interface LinkStats {
  connectionsAccepted: number;
  /** Links refused or failed before their first request: the secret's challenge-response, or TLS (a wrong certificate, key or secret). */
  handshakeFailures: number;
  malformedFrames: number;
  bytesSent: number;
  bytesReceived: number;
}

export const newLinkStats = (): LinkStats => ({ connectionsAccepted: 0, handshakeFailures: 0, malformedFrames: 0, bytesSent: 0, bytesReceived: 0 });

function proof(key: Buffer, role: 'S' | 'C', clientNonce: Uint8Array, serverNonce: Uint8Array, client: string, server: string): Buffer {
  return createHmac('sha256', key).update(role).update(clientNonce).update(serverNonce).update(`${client}\u0000${server}`).digest();
}

export type Sendable = Extract<ReplicationMessage, { id: number }> extends infer M ? (M extends unknown ? Omit<M, 'id'> : never) : never;

/** One authenticated connection: frames in and out, requests matched to replies by id. */
export class Connection {
  readonly peer: string;
  private readonly pending = new Map<number, { resolve: (m: ReplicationMessage) => void; reject: (e: unknown) => void }>();
  private nextId = 1;
  private closedError: Error | undefined;

  constructor(
    private readonly socket: net.Socket,
    peer: string,
    private readonly stats: LinkStats,
  ) {
    this.peer = peer;
    socket.on('close', () => this.fail(new PeerUnavailableError(peer, 'connection closed')));
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  /** Bytes written but not yet taken by the kernel. */
  get backlog(): number {
    return this.socket.writableLength;
  }

  /** Throws EncodeError, before anything is written, for a frame over the limit the peer would refuse. */
  send(message: ReplicationMessage): void {
    if (this.closedError) throw this.closedError;
    const frame = framed(encodeMessage(message));
    this.stats.bytesSent += frame.length;
    this.socket.write(frame);
  }

  /**
   * Sends a request and resolves with the reply that carries its id. With `timeoutMs`, a
   * peer that does not answer in time (stalled: SIGSTOP, a long pause) fails the request
   * with PeerUnavailableError, and the link is closed: every request on it fails at once,
   * and the next one connects again (the handshake has its own timeout).
   */
  request(message: Sendable, timeoutMs?: number): Promise<ReplicationMessage> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.closedError) return reject(this.closedError);
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => this.close(`no answer within ${timeoutMs} ms`), timeoutMs);
      const settled = (): void => clearTimeout(timer);
      this.pending.set(id, {
        resolve: (reply) => (settled(), resolve(reply)),
        reject: (error) => (settled(), reject(error)),
      });
      try {
        this.send({ ...message, id } as ReplicationMessage);
      } catch (error) {
        this.pending.delete(id);
        settled();
        reject(error);
      }
    });
  }

  /** True while the outbound backlog is above the high-water mark: senders should wait. */
  get congested(): boolean {
    return !this.closedError && this.socket.writableLength > HIGH_WATER_BYTES;
  }

  /** Resolves once the outbound backlog is below the high-water mark. */
  async drained(): Promise<void> {
    while (this.congested) await once(this.socket, 'drain');
  }

  /** Called with each reply (client side). */
  reply(message: ReplicationMessage): void {
    if (!('id' in message)) return;
    const waiter = this.pending.get(message.id);
    if (!waiter) return;
    this.pending.delete(message.id);
    waiter.resolve(message);
  }

  close(reason = 'connection closed'): void {
    this.fail(new PeerUnavailableError(this.peer, reason));
    this.socket.destroy();
  }

  private fail(error: Error): void {
    if (this.closedError) return;
    this.closedError = error;
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }
}

/** Reads frames from a socket and hands decoded messages on; a bad frame ends the connection. */
function readMessages(socket: net.Socket, stats: LinkStats, onMessage: (m: ReplicationMessage) => void): void {
  const splitter = new FrameSplitter(MAX_FRAME_BYTES);
  socket.on('data', (chunk: Buffer) => {
    stats.bytesReceived += chunk.length;
    try {
      for (const frame of splitter.push(chunk)) onMessage(decodeMessage(frame));
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      stats.malformedFrames++;
      socket.destroy();
    }
  });
}

/** Opens and authenticates a link to `peer`. */
export async function connect(peer: { name: string; host: string; port: number }, identity: LinkIdentity, stats: LinkStats, timeoutMs = HANDSHAKE_TIMEOUT_MS): Promise<Connection> {
  const { socket, ready } = identity.security.connect(peer.host, peer.port);
  let socketError: Error | undefined;
  socket.on('error', (error) => (socketError = error)); // surfaced through 'close' and the handshake below
  const clientNonce = randomBytes(32);
  return new Promise((resolve, reject) => {
    let connection: Connection | undefined;
    const timer = setTimeout(() => fail('handshake timed out'), timeoutMs);
    const fail = (reason: string, cause?: unknown): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(new PeerUnavailableError(peer.name, reason, { cause }));
    };
    let streamOpen = false;
    socket.once(ready, () => {
      streamOpen = true;
      socket.write(framed(encodeMessage({ t: 'hello', cluster: identity.cluster, node: identity.node, incarnation: identity.incarnation, nonce: clientNonce })));
    });
    socket.once('close', () => {
      if (connection) return;
      // Connected but refused in TLS: a wrong certificate, key or secret on one side.
      const tlsRefused = ready === 'secureConnect' && !streamOpen && socketError !== undefined && !('syscall' in socketError);
      if (tlsRefused) stats.handshakeFailures++;
      fail(tlsRefused ? `TLS handshake with ${peer.host}:${peer.port} failed: ${socketError!.message}` : 'connection refused or closed during the handshake', socketError);
    });
    readMessages(socket, stats, (message) => {
      if (connection) return connection.reply(message);
      if (message.t === 'challenge') {
        const expected = proof(identity.key, 'S', clientNonce, message.nonce, identity.node, message.node);
        if (message.node !== peer.name || !timingSafeEqual(expected, message.proof)) {
          stats.handshakeFailures++;
          return fail(`the node at ${peer.host}:${peer.port} did not prove it holds the cluster secret (or is not ${peer.name})`);
        }
        socket.write(framed(encodeMessage({ t: 'proof', proof: proof(identity.key, 'C', clientNonce, message.nonce, identity.node, message.node) })));
      } else if (message.t === 'welcome') {
        clearTimeout(timer);
        connection = new Connection(socket, peer.name, stats);
        resolve(connection);
      } else {
        fail(`unexpected ${message.t} during the handshake`);
      }
    });
  });
}

export type RequestHandler = (message: ReplicationMessage, from: { node: string; incarnation: string }) => ReplicationMessage | undefined | Promise<ReplicationMessage | undefined>;

export interface ReplicationServerOptions {
  readonly host: string;
  readonly port: number;
  readonly identity: LinkIdentity;
  readonly knownNodes: ReadonlySet<string>;
  readonly stats: LinkStats;
  readonly handle: RequestHandler;
}

/** Accepts authenticated links and answers their requests. */
export class ReplicationServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  private constructor(private readonly options: ReplicationServerOptions) {
    this.server = options.identity.security.createServer(
      (socket) => this.accept(socket),
      () => options.stats.handshakeFailures++,
    );
  }

  static async listen(options: ReplicationServerOptions): Promise<ReplicationServer> {
    const server = new ReplicationServer(options);
    try {
      await listen(server.server, options.port, options.host);
    } catch (error) {
      throw new TransportError(`replication cannot listen on ${options.host}:${options.port}: ${(error as Error).message}`, { cause: error });
    }
    return server;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private accept(socket: net.Socket): void {
    const { identity, stats, knownNodes, handle } = this.options;
    stats.connectionsAccepted++;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => {});
    socket.on('close', () => this.sockets.delete(socket));
    const serverNonce = randomBytes(32);
    let hello: Extract<ReplicationMessage, { t: 'hello' }> | undefined;
    let authenticated = false;
    const refuse = (): void => {
      stats.handshakeFailures++;
      socket.destroy();
    };
    const timer = setTimeout(() => {
      if (!authenticated) refuse();
    }, HANDSHAKE_TIMEOUT_MS);
    readMessages(socket, stats, (message) => {
      if (authenticated) {
        const write = (reply: ReplicationMessage | undefined): void => {
          if (!reply || socket.destroyed) return;
          const frame = framed(encodeMessage(reply));
          stats.bytesSent += frame.length;
          socket.write(frame);
        };
        // Most requests are answered at once, in arrival order; a few (hand-offs) later.
        const reply = handle(message, { node: hello!.node, incarnation: hello!.incarnation });
        if (reply instanceof Promise) reply.then(write, () => socket.destroy());
        else write(reply);
        return;
      }
      if (!hello && message.t === 'hello' && message.cluster === identity.cluster && knownNodes.has(message.node)) {
        hello = message;
        const challenge: ReplicationMessage = {
          t: 'challenge',
          node: identity.node,
          incarnation: identity.incarnation,
          nonce: serverNonce,
          proof: proof(identity.key, 'S', message.nonce, serverNonce, message.node, identity.node),
        };
        socket.write(framed(encodeMessage(challenge)));
      } else if (hello && message.t === 'proof' && timingSafeEqual(proof(identity.key, 'C', hello.nonce, serverNonce, hello.node, identity.node), message.proof)) {
        clearTimeout(timer);
        authenticated = true;
        socket.write(framed(encodeMessage({ t: 'welcome' })));
      } else {
        clearTimeout(timer);
        refuse();
      }
    });
  }
}
