/**
 * Frames: the authenticated unit on the wire. Pure functions over bytes; no I/O.
 *
 *   offset  size  field
 *   0       2     magic "CM"
 *   2       1     protocol version
 *   3       1     flags: bit 0 set when the body is encrypted; the other bits are 0
 *   4       4     cluster id: first 4 bytes of SHA-256(cluster name), a cheap early filter
 *   8       4     body length, big-endian
 *   signed frames (the default):
 *   12      n     body: CBOR of the envelope array (cbor-x, useRecords: false)
 *   12+n    16    tag: HMAC-SHA256 over bytes 0..12+n, keyed from the cluster secret, truncated
 *   encrypted frames (`<Encryption datagrams="encrypted">`):
 *   12      12    nonce, random per frame
 *   24      n     body, encrypted with AES-256-GCM (the header is its associated data)
 *   24+n    16    GCM tag
 *
 * A codec reads only frames of its own kind: a cluster that encrypts drops signed frames,
 * so a misconfigured node is refused and counted rather than heard in clear. Checks run
 * cheapest first and the size limit before anything is decoded. Every failure is a
 * DecodeError whose `reason` names the class of damage.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { Decoder, Encoder } from 'cbor-x';
import { DecodeError, EncodeError } from '../errors.js';
import { checkEnvelope, toWire, type Envelope } from './messages.js';

export const MAGIC = 0x434d; // "CM"
export const PROTOCOL_VERSION = 1;
export const HEADER_BYTES = 12;
export const TAG_BYTES = 16;
export const FRAME_OVERHEAD = HEADER_BYTES + TAG_BYTES;
export const NONCE_BYTES = 12;
const FLAG_ENCRYPTED = 0x01;

export interface FrameCodecOptions {
  readonly cluster: string;
  readonly secret: Buffer;
  /** Largest frame accepted or produced, header and tag included. */
  readonly maxFrameBytes: number;
  /** Distinguishes keys derived for different channels from one secret. */
  readonly purpose?: string;
  /** Encrypt bodies (AES-256-GCM) instead of only signing them; every node of a cluster must agree. */
  readonly encrypt?: boolean;
}

export function clusterId(cluster: string): number {
  return createHash('sha256').update(cluster, 'utf8').digest().readUInt32BE(0);
}

/** A per-channel key, so that the raw secret never keys two protocols. */
export function deriveKey(secret: Buffer, cluster: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.from(cluster, 'utf8'), Buffer.from(`castmirror ${purpose} v${PROTOCOL_VERSION}`), 32));
}

export class FrameCodec {
  readonly cluster: string;
  readonly maxFrameBytes: number;
  readonly encrypts: boolean;
  /** Bytes a frame adds to its body: header and tag, and the nonce when encrypting. */
  readonly overhead: number;
  private readonly clusterId: number;
  private readonly key: Buffer;
  // Never `sequential` on datagrams: a decoder that missed one message would mis-read the next.
  private readonly encoder = new Encoder({ useRecords: false, mapsAsObjects: true });
  private readonly decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

  constructor(options: FrameCodecOptions) {
    this.cluster = options.cluster;
    this.maxFrameBytes = options.maxFrameBytes;
    this.clusterId = clusterId(options.cluster);
    this.encrypts = options.encrypt ?? false;
    this.overhead = FRAME_OVERHEAD + (this.encrypts ? NONCE_BYTES : 0);
    const purpose = options.purpose ?? 'multicast';
    this.key = deriveKey(options.secret, options.cluster, this.encrypts ? `${purpose} aead` : purpose);
  }

  /** Encodes and signs; throws EncodeError if the frame would exceed `maxFrameBytes`. */
  encode(envelope: Envelope): Buffer {
    let body: Uint8Array;
    try {
      body = this.encoder.encode(toWire(envelope));
    } catch (error) {
      throw new EncodeError(`cannot encode a ${envelope.kind} message`, { cause: error });
    }
    const size = this.overhead + body.length;
    if (size > this.maxFrameBytes) {
      throw new EncodeError(`a ${envelope.kind} frame of ${size} bytes exceeds the limit of ${this.maxFrameBytes}`);
    }
    const frame = Buffer.allocUnsafe(size);
    frame.writeUInt16BE(MAGIC, 0);
    frame.writeUInt8(PROTOCOL_VERSION, 2);
    frame.writeUInt8(this.encrypts ? FLAG_ENCRYPTED : 0, 3);
    frame.writeUInt32BE(this.clusterId, 4);
    frame.writeUInt32BE(body.length, 8);
    if (this.encrypts) {
      const nonce = randomBytes(NONCE_BYTES);
      nonce.copy(frame, HEADER_BYTES);
      const cipher = createCipheriv('aes-256-gcm', this.key, nonce, { authTagLength: TAG_BYTES });
      cipher.setAAD(frame.subarray(0, HEADER_BYTES));
      const start = HEADER_BYTES + NONCE_BYTES;
      const written = cipher.update(body).copy(frame, start);
      cipher.final().copy(frame, start + written);
      cipher.getAuthTag().copy(frame, start + body.length);
    } else {
      frame.set(body, HEADER_BYTES);
      this.tag(frame, HEADER_BYTES + body.length).copy(frame, HEADER_BYTES + body.length);
    }
    return frame;
  }

  /** Size of the frame `envelope` would produce, without signing it. */
  measure(envelope: Envelope): number {
    return this.overhead + this.encoder.encode(toWire(envelope)).length;
  }

  /** Verifies and decodes; throws DecodeError for anything it cannot trust. */
  decode(frame: Uint8Array): Envelope {
    if (frame.length > this.maxFrameBytes) {
      throw new DecodeError('oversize', `frame of ${frame.length} bytes exceeds the limit of ${this.maxFrameBytes}`);
    }
    if (frame.length < 2) throw new DecodeError('truncated', `frame of ${frame.length} bytes is shorter than its header`);
    const view = Buffer.from(frame.buffer, frame.byteOffset, frame.length);
    if (view.readUInt16BE(0) !== MAGIC) throw new DecodeError('bad-magic', 'frame does not start with the castmirror magic');
    if (frame.length < HEADER_BYTES) throw new DecodeError('truncated', `frame of ${frame.length} bytes is shorter than its header`);
    const version = view.readUInt8(2);
    if (version !== PROTOCOL_VERSION) throw new DecodeError('bad-version', `protocol version ${version} is not ${PROTOCOL_VERSION}`);
    if (view.readUInt32BE(4) !== this.clusterId) throw new DecodeError('wrong-cluster', 'frame belongs to another cluster');
    const encrypted = view.readUInt8(3) === FLAG_ENCRYPTED;
    if (encrypted !== this.encrypts) {
      throw new DecodeError('wrong-protection', encrypted ? 'frame is encrypted, and this node expects signed frames' : 'frame is not encrypted, and this cluster encrypts its datagrams');
    }
    const bodyLength = view.readUInt32BE(8);
    const expected = this.overhead + bodyLength;
    if (frame.length < expected) throw new DecodeError('truncated', `frame of ${frame.length} bytes announces ${expected}`);
    if (frame.length > expected) throw new DecodeError('bad-length', `frame of ${frame.length} bytes announces only ${expected}`);
    const body = encrypted ? this.decrypt(view, bodyLength) : this.verified(view, bodyLength);
    let value: unknown;
    try {
      value = this.decoder.decode(body);
    } catch (error) {
      throw new DecodeError('bad-cbor', 'frame body is not valid CBOR', { cause: error });
    }
    const envelope = checkEnvelope(value);
    if (typeof envelope === 'string') throw new DecodeError('bad-shape', `frame body has the wrong shape: ${envelope}`);
    if (envelope.cluster !== this.cluster) throw new DecodeError('wrong-cluster', `frame belongs to cluster "${envelope.cluster}"`);
    return envelope;
  }

  private verified(frame: Buffer, bodyLength: number): Buffer {
    const signedLength = HEADER_BYTES + bodyLength;
    if (!timingSafeEqual(this.tag(frame, signedLength), frame.subarray(signedLength))) {
      throw new DecodeError('bad-tag', 'frame is not signed with this cluster secret');
    }
    return frame.subarray(HEADER_BYTES, signedLength);
  }

  private decrypt(frame: Buffer, bodyLength: number): Buffer {
    const start = HEADER_BYTES + NONCE_BYTES;
    const decipher = createDecipheriv('aes-256-gcm', this.key, frame.subarray(HEADER_BYTES, start), { authTagLength: TAG_BYTES });
    decipher.setAAD(frame.subarray(0, HEADER_BYTES));
    decipher.setAuthTag(frame.subarray(start + bodyLength));
    try {
      return Buffer.concat([decipher.update(frame.subarray(start, start + bodyLength)), decipher.final()]);
    } catch {
      throw new DecodeError('bad-tag', 'frame is not encrypted with this cluster secret');
    }
  }

  private tag(frame: Buffer, signedLength: number): Buffer {
    return createHmac('sha256', this.key).update(frame.subarray(0, signedLength)).digest().subarray(0, TAG_BYTES);
  }
}
