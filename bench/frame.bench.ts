/**
 * Frame encode/decode (CBOR + HMAC-SHA256 + shape check) against JSON.stringify/parse of
 * the same message (the baseline), with bare CBOR to show what authentication costs, and
 * encrypted frames (AES-256-GCM, `<Encryption datagrams="encrypted">`) to show what
 * encryption adds.
 */
import { Decoder, Encoder } from 'cbor-x';
import { FrameCodec } from '../lib/wire/frame.js';
import { toWire, type Envelope } from '../lib/wire/messages.js';
import { print, runMicro } from './common.js';

const codec = new FrameCodec({ cluster: 'shop', secret: Buffer.from('bench-secret-0123456789abcdef'), maxFrameBytes: 1400 });
const message: Envelope = {
  cluster: 'shop',
  sender: 'node-a',
  incarnation: 'HsuWZkF8QHmcBVNXs9DpAA-0',
  startedAt: 1_795_396_750_751,
  seq: 123_456,
  kind: 'invalidate',
  payload: {
    seq: 40_000,
    entries: [
      { type: 'product', prev: 39_998, clear: false, keys: Array.from({ length: 10 }, (_, i) => `sku-${100_000 + i}`) },
      { type: 'price', prev: 39_990, clear: false, keys: ['eur-100001'] },
    ],
  },
};
const sealed = new FrameCodec({ cluster: 'shop', secret: Buffer.from('bench-secret-0123456789abcdef'), maxFrameBytes: 1400, encrypt: true });
const frame = codec.encode(message);
const sealedFrame = sealed.encode(message);
const json = JSON.stringify(message);
// The same CBOR settings as the codec, without header, HMAC or shape check.
const encoder = new Encoder({ useRecords: false, mapsAsObjects: true });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

const result = await runMicro('frame', 'json stringify+parse', {
  'json stringify+parse': () => JSON.parse(JSON.stringify(message)),
  'cbor encode+decode (no HMAC, no checks)': () => decoder.decode(encoder.encode(toWire(message))),
  'frame encode+decode': () => codec.decode(codec.encode(message)),
  'frame encode': () => codec.encode(message),
  'frame decode': () => codec.decode(frame),
  'encrypted frame encode+decode': () => sealed.decode(sealed.encode(message)),
  'encrypted frame encode': () => sealed.encode(message),
  'encrypted frame decode': () => sealed.decode(sealedFrame),
  'json parse': () => JSON.parse(json),
});
print({ ...result, bytes: { frame: frame.length, encryptedFrame: sealedFrame.length, json: Buffer.byteLength(json) } });
