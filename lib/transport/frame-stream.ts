/**
 * Length-prefixed frames over a byte stream: a 4-byte big-endian length, then the body.
 * The decoder refuses a frame larger than its limit before buffering it.
 */
import { DecodeError } from '../errors.js';

export const LENGTH_BYTES = 4;

export function framed(body: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(LENGTH_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  frame.set(body, LENGTH_BYTES);
  return frame;
}

export class FrameSplitter {
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** The complete frames that `chunk` finishes; throws DecodeError('oversize') on a frame too large. */
  push(chunk: Buffer): Buffer[] {
    this.buffered.push(chunk);
    this.bufferedBytes += chunk.length;
    const frames: Buffer[] = [];
    while (this.bufferedBytes >= LENGTH_BYTES) {
      const head = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered);
      this.buffered = [head];
      const length = head.readUInt32BE(0);
      if (length > this.maxFrameBytes) throw new DecodeError('oversize', `a frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes}`);
      if (head.length < LENGTH_BYTES + length) break;
      frames.push(head.subarray(LENGTH_BYTES, LENGTH_BYTES + length));
      const rest = head.subarray(LENGTH_BYTES + length);
      this.buffered = rest.length > 0 ? [rest] : [];
      this.bufferedBytes = rest.length;
    }
    return frames;
  }
}
