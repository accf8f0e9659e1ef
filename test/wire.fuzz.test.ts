import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prng } from './helpers/prng.js';
import { Encoder } from 'cbor-x';
import { ClusterChannel } from '../lib/transport/cluster-channel.js';
import { FrameCodec, HEADER_BYTES, type Envelope } from '../lib/wire/index.js';
import { MemoryNetwork } from './helpers/memory-network.js';

const FRAMES = 120_000;
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);


test(`fuzz: ${FRAMES} mutated and random frames are each dropped or accepted, none throws (seed ${SEED})`, () => {
  const random = prng(SEED);
  const int = (n: number) => Math.floor(random() * n);
  const secret = Buffer.from('fuzz-secret-0123456789abcdef');
  const codec = new FrameCodec({ cluster: 'fuzz', secret, maxFrameBytes: 1400 });
  const network = new MemoryNetwork();
  const wire = network.join('receiver');
  const receiver = new ClusterChannel(wire, codec, { cluster: 'fuzz', name: 'receiver', incarnation: 'r', startedAt: 1 });
  let delivered = 0;
  receiver.onEnvelope(() => delivered++);

  let seq = 0;
  const validFrame = (): Buffer => {
    seq++;
    const envelope: Envelope =
      int(2) === 0
        ? { cluster: 'fuzz', sender: `n${int(5)}`, incarnation: 'i', startedAt: 1, seq, kind: 'invalidate', payload: { seq, entries: [{ type: 't', prev: seq - 1, clear: false, keys: [`k${int(100)}`] }] } }
        : {
            cluster: 'fuzz',
            sender: `n${int(5)}`,
            incarnation: 'i',
            startedAt: 1,
            seq,
            kind: 'heartbeat',
            payload: { machine: 'm', host: 'h', adminPort: 1, replicationPort: 2, load: { elu: random(), items: int(10), sessions: int(10) }, published: { seq: 0, types: [] } },
          };
    return codec.encode(envelope);
  };
  const randomValue = (depth: number): unknown => {
    switch (int(depth > 2 ? 5 : 8)) {
      case 0: return int(2 ** 31) - 2 ** 30;
      case 1: return 'x'.repeat(int(80));
      case 2: return random() < 0.5 ? null : random() < 0.5;
      case 3: return random() * 1e9;
      case 4: return Buffer.alloc(int(20));
      case 5: return Array.from({ length: int(8) }, () => randomValue(depth + 1));
      case 6: return Object.fromEntries(Array.from({ length: int(4) }, (_, i) => [`k${i}`, randomValue(depth + 1)]));
      default: return ['fuzz', `n${int(3)}`, 'i', int(5), int(1e6), int(5), randomValue(depth + 1)];
    }
  };
  const signedGarbage = (): Buffer => {
    const body = new Encoder({ useRecords: false }).encode(randomValue(0));
    const frame = Buffer.alloc(HEADER_BYTES + body.length + 16);
    validFrame().copy(frame, 0, 0, HEADER_BYTES);
    frame.writeUInt32BE(body.length, 8);
    Buffer.from(body).copy(frame, HEADER_BYTES);
    (codec as unknown as { tag(f: Buffer, n: number): Buffer }).tag(frame, HEADER_BYTES + body.length).copy(frame, HEADER_BYTES + body.length);
    return frame;
  };

  const history: Buffer[] = [];
  for (let i = 0; i < FRAMES; i++) {
    let frame: Buffer;
    switch (int(8)) {
      case 0: frame = Buffer.from(Array.from({ length: int(1500) }, () => int(256))); break;
      case 1: {
        frame = validFrame();
        for (let flips = 1 + int(8); flips > 0; flips--) frame[int(frame.length)]! ^= 1 + int(255);
        break;
      }
      case 2: frame = validFrame().subarray(0, int(120)); break;
      case 3: {
        const f = validFrame();
        const at = int(f.length);
        frame = Buffer.concat([f.subarray(0, at), Buffer.from([int(256)]), f.subarray(at)]);
        break;
      }
      case 4: frame = signedGarbage(); break;
      case 5: frame = history.length > 0 ? history[int(history.length)]! : validFrame(); break; // replay
      case 6: frame = Buffer.concat([Buffer.from([0x43, 0x4d, 1, 0]), Buffer.from(Array.from({ length: int(200) }, () => int(256)))]); break;
      default: frame = validFrame();
    }
    if (history.length < 1000) history.push(frame);
    wire.receive(frame); // must never throw
  }
  const dropped = Object.values(receiver.drops).reduce((a, b) => a + b, 0);
  assert.equal(dropped + delivered, FRAMES, 'every frame is counted once, as dropped or accepted');
  assert.equal(receiver.handlerErrors, 0);
  assert.ok(delivered > FRAMES / 10, `valid frames get through (${delivered})`);
  for (const reason of ['truncated', 'bad-magic', 'bad-tag', 'bad-shape', 'replay', 'bad-length'] as const) {
    assert.ok(receiver.drops[reason] > 0, `some frames dropped as ${reason}`);
  }
});
