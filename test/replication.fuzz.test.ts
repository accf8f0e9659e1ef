import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prng } from './helpers/prng.js';
import { Encoder } from 'cbor-x';
import { DecodeError } from '../lib/errors.js';
import { decodeMessage, encodeMessage, MAX_FRAME_BYTES, type ReplicationMessage } from '../lib/replication/protocol.js';
import { SessionManager } from '../lib/replication/session-manager.js';
import { snapshotOf, deltaOf } from '../lib/session/codec.js';
import { newSessionId } from '../lib/session/id.js';
import { SessionObject } from '../lib/session/session.js';
import { FrameSplitter, framed } from '../lib/transport/frame-stream.js';
import { makeReferences } from './helpers/references.js';
import type { ReferenceRegistry } from '../lib/session/reference.js';

const CASES = 100_000;
const SEED = Number(process.env.FUZZ_SEED ?? 0xc0ffee);


test(`fuzz: ${CASES} mutated and random replication frames; nothing escapes the decoder or the handler (seed ${SEED})`, () => {
  const random = prng(SEED);
  const int = (n: number) => Math.floor(random() * n);
  const references = makeReferences() as ReferenceRegistry<unknown>;
  const manager = new SessionManager({
    self: { name: 'b', incarnation: 'b-1', machine: 'm', pinnedBackup: undefined },
    replication: { mode: 'sync', batchSize: 10, batchIntervalMs: 10, rehome: 'eager', noBackup: 'accept' },
    timeoutMs: 60_000,
    references,
  });
  const ids = Array.from({ length: 5 }, newSessionId);
  const valid = (): ReplicationMessage => {
    const session = new SessionObject({ id: ids[int(ids.length)]!, version: int(5), epoch: 0, primary: 'a', backup: 'b', origin: 'a', createdAt: 1, lastAccessAt: Date.now(), timeoutMs: 60_000, expiresAt: null }, references);
    session.global.set('k', int(100));
    if (int(2)) session.pushComposite().simple.set('s', 'x');
    switch (int(5)) {
      case 0: return { t: 'mirror', id: int(1000), snapshot: snapshotOf(session) };
      case 1: return { t: 'batch', id: int(1000), deltas: [deltaOf(session)!] };
      case 2: return { t: 'fetch', id: int(1000), session: session.id };
      case 3: return { t: 'touch', session: session.id, at: Date.now(), expiresAt: null };
      default: return { t: 'release', session: session.id };
    }
  };
  let decoded = 0;
  let refused = 0;
  for (let i = 0; i < CASES; i++) {
    let body: Uint8Array;
    switch (int(5)) {
      case 0: body = Buffer.from(Array.from({ length: int(300) }, () => int(256))); break;
      case 1: {
        const b = Buffer.from(encodeMessage(valid()));
        for (let flips = 1 + int(6); flips > 0; flips--) b[int(b.length)]! ^= 1 + int(255);
        body = b;
        break;
      }
      case 2: body = Buffer.from(encodeMessage(valid())).subarray(0, int(60)); break;
      case 3: body = new Encoder({ useRecords: false }).encode({ t: ['mirror', 'ack', 'fetch', 'handoff', 'batch'][int(5)], id: int(5), deltas: [{ id: ids[0], base: 1, version: 2, stack: 'x' }], snapshot: int(2) ? null : [] });
        break;
      default: body = encodeMessage(valid());
    }
    let message: ReplicationMessage;
    try {
      message = decodeMessage(body);
    } catch (error) {
      assert.ok(error instanceof DecodeError, `only DecodeError escapes the decoder, got ${String(error)}`);
      refused++;
      continue;
    }
    decoded++;
    // Whatever passed the checks must be safe to hand to the session layer.
    const reply = manager.answer(message, { node: 'a', incarnation: 'a-1' });
    if (reply instanceof Promise) reply.catch((error: unknown) => assert.fail(`handler rejected: ${String(error)}`));
  }
  assert.equal(decoded + refused, CASES);
  assert.ok(decoded > CASES / 5 && refused > CASES / 5, `${decoded} decoded, ${refused} refused`);

  // The stream splitter: random chunking of valid frames, and oversize announcements.
  const splitter = new FrameSplitter(MAX_FRAME_BYTES);
  const frames = Array.from({ length: 200 }, () => framed(encodeMessage(valid())));
  const stream = Buffer.concat(frames);
  let out = 0;
  for (let at = 0; at < stream.length; ) {
    const size = 1 + int(64);
    out += splitter.push(stream.subarray(at, at + size)).length;
    at += size;
  }
  assert.equal(out, frames.length);
  const oversize = Buffer.alloc(4);
  oversize.writeUInt32BE(MAX_FRAME_BYTES + 1);
  assert.throws(() => new FrameSplitter(MAX_FRAME_BYTES).push(oversize), { code: 'CASTMIRROR_FRAME_OVERSIZE' });
});
