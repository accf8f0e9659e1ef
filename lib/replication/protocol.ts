/**
 * Messages on replication links (TCP between nodes), and their shape checks. Bodies are
 * CBOR (cbor-x, useRecords: false; logical references as tag 40501). Everything a peer
 * sends is checked here before the session layer sees it.
 */
import { Decoder, Encoder } from 'cbor-x';
import { DecodeError, EncodeError } from '../errors.js';
import type { SessionDelta, SessionSnapshot } from '../session/codec.js';
import { isCount, isName, isObject, isSessionId } from '../wire/checks.js';

export type ReplicationMessage =
  | { t: 'hello'; cluster: string; node: string; incarnation: string; nonce: Uint8Array }
  | { t: 'challenge'; node: string; incarnation: string; nonce: Uint8Array; proof: Uint8Array }
  | { t: 'proof'; proof: Uint8Array }
  | { t: 'welcome' }
  /** A full copy; the receiver becomes (or stays) backup. */
  | { t: 'mirror'; id: number; snapshot: SessionSnapshot }
  | { t: 'ack'; id: number; version: number }
  /** Several deltas (of any sessions) in one frame, applied in order. */
  | { t: 'batch'; id: number; deltas: SessionDelta[] }
  /** Per delta of a batch, in order: the version now held, or -1 where the full session is needed. */
  | { t: 'batch-ack'; id: number; versions: number[] }
  /** The receiver refuses: it holds this session as primary at a version that wins. */
  | { t: 'conflict'; id: number; version: number; incarnation: string }
  /** The session was used at `at` (and now ends at `expiresAt`, or by its idle timeout: null). */
  | { t: 'touch'; session: string; at: number; expiresAt: number | null }
  /** The asker becomes primary: a primary that answers steps down, a backup stays backup. */
  | { t: 'fetch'; id: number; session: string }
  | { t: 'fetched'; id: number; snapshot: SessionSnapshot | null; role: 'primary' | 'backup' | 'none' }
  /** The sender no longer needs the receiver's copy (new backup chosen, or session ended). */
  | { t: 'release'; session: string }
  /** Graceful hand-off: the receiver becomes primary of this session. */
  | { t: 'handoff'; id: number; snapshot: SessionSnapshot }
  /** The sender, a backup, is leaving: the receiver (the primary) must choose another. */
  | { t: 'rehome'; id: number; session: string }
  /**
   * Anti-entropy, from a primary to one of its backups: the sessions it holds there, as
   * [id, epoch, version] (`whole`: all of them, not a part). The backup answers with the ids
   * it does not hold at exactly that state (`missing`) and, for a whole list, the copies it
   * holds of the sender's sessions that the list leaves out (`extra`); the primary, who
   * alone knows where each of its sessions is backed up now, releases those.
   */
  | { t: 'audit'; id: number; whole: boolean; sessions: [string, number, number][] }
  | { t: 'audit-ack'; id: number; missing: string[]; extra: string[] };

export const MAX_FRAME_BYTES = 8 * 1024 * 1024;
/** Sessions listed in one audit: about 2 MiB on the wire, well inside a frame. */
export const MAX_AUDIT_SESSIONS = 50_000;

const encoder = new Encoder({ useRecords: false, mapsAsObjects: true });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

/** One frame body; throws EncodeError for a body over MAX_FRAME_BYTES, which the peer would refuse. */
export function encodeMessage(message: ReplicationMessage): Uint8Array {
  // Deltas are the bulk of the traffic: tuples, not maps with their keys spelled out.
  const body = message.t === 'batch' ? encoder.encode({ t: 'batch', id: message.id, deltas: message.deltas.map(deltaToWire) }) : encoder.encode(message);
  if (body.length > MAX_FRAME_BYTES) throw new EncodeError(`a ${message.t} frame of ${body.length} bytes exceeds the ${MAX_FRAME_BYTES}-byte replication limit`);
  return body;
}

type DeltaTuple = [string, number, number, number, readonly number[], SessionDelta['set'], SessionDelta['delete'], string, string | null, number, number | null];

function deltaToWire(d: SessionDelta): DeltaTuple {
  return [d.id, d.base, d.version, d.epoch, d.stack, d.set, d.delete, d.meta.primary, d.meta.backup ?? null, d.meta.lastAccessAt, d.meta.expiresAt];
}

/** A tuple back to a delta object, or the value unchanged for checkDelta to refuse. */
function deltaFromWire(value: unknown): unknown {
  if (!Array.isArray(value) || value.length !== 11) return value;
  const [id, base, version, epoch, stack, set, del, primary, backup, lastAccessAt, expiresAt] = value as unknown[];
  return { id, base, version, epoch, stack, set, delete: del, meta: { primary, backup: backup ?? undefined, lastAccessAt, expiresAt } };
}

/** Decodes and checks one frame body; throws DecodeError. */
export function decodeMessage(body: Uint8Array): ReplicationMessage {
  let value: unknown;
  try {
    value = decoder.decode(body);
  } catch (error) {
    throw new DecodeError('bad-cbor', 'replication frame is not valid CBOR', { cause: error });
  }
  if (isObject(value) && value.t === 'batch' && Array.isArray(value.deltas)) value.deltas = value.deltas.map(deltaFromWire);
  const problem = checkMessage(value);
  if (problem) throw new DecodeError('bad-shape', `replication frame has the wrong shape: ${problem}`);
  return value as ReplicationMessage;
}

/** A session snapshot as the shared store keeps it: the same CBOR and checks as on a link. */
export function encodeSnapshot(snapshot: SessionSnapshot): Uint8Array {
  return encoder.encode(snapshot);
}

/** Decodes and checks a stored snapshot; throws DecodeError (a damaged or foreign value). */
export function decodeSnapshot(bytes: Uint8Array): SessionSnapshot {
  let value: unknown;
  try {
    value = decoder.decode(bytes);
  } catch (error) {
    throw new DecodeError('bad-cbor', 'stored session is not valid CBOR', { cause: error });
  }
  const problem = checkSnapshot(value);
  if (problem) throw new DecodeError('bad-shape', `stored session has the wrong shape: ${problem}`);
  return value as SessionSnapshot;
}

const isBytes = (v: unknown, n: number): v is Uint8Array => v instanceof Uint8Array && v.length === n;

function checkMessage(m: unknown): string | undefined {
  if (!isObject(m) || typeof m.t !== 'string') return 'not a message';
  switch (m.t) {
    case 'hello':
      return isName(m.cluster) && isName(m.node) && isName(m.incarnation) && isBytes(m.nonce, 32) ? undefined : 'bad hello';
    case 'challenge':
      return isName(m.node) && isName(m.incarnation) && isBytes(m.nonce, 32) && isBytes(m.proof, 32) ? undefined : 'bad challenge';
    case 'proof':
      return isBytes(m.proof, 32) ? undefined : 'bad proof';
    case 'welcome':
      return undefined;
    case 'mirror':
      return isCount(m.id) ? checkSnapshot(m.snapshot) : 'bad id';
    case 'ack':
      return isCount(m.id) && isCount(m.version) ? undefined : 'bad ack';
    case 'batch':
      if (!isCount(m.id) || !Array.isArray(m.deltas) || m.deltas.length === 0 || m.deltas.length > 100_000) return 'bad batch';
      for (const delta of m.deltas) {
        const problem = checkDelta(delta);
        if (problem) return problem;
      }
      return undefined;
    case 'batch-ack':
      return isCount(m.id) && Array.isArray(m.versions) && m.versions.every((v) => v === -1 || isCount(v)) ? undefined : 'bad batch-ack';
    case 'conflict':
      return isCount(m.id) && isCount(m.version) && isName(m.incarnation) ? undefined : 'bad conflict';
    case 'touch':
      return isSessionId(m.session) && isCount(m.at) && isExpiry(m.expiresAt) ? undefined : 'bad touch';
    case 'fetch':
      return isCount(m.id) && isSessionId(m.session) ? undefined : 'bad fetch';
    case 'fetched':
      if (!isCount(m.id) || !['primary', 'backup', 'none'].includes(m.role as string)) return 'bad fetched';
      return m.snapshot === null ? undefined : checkSnapshot(m.snapshot);
    case 'release':
      return isSessionId(m.session) ? undefined : 'bad release';
    case 'handoff':
      return isCount(m.id) ? checkSnapshot(m.snapshot) : 'bad handoff';
    case 'rehome':
      return isCount(m.id) && isSessionId(m.session) ? undefined : 'bad rehome';
    case 'audit':
      return isCount(m.id) && typeof m.whole === 'boolean' && Array.isArray(m.sessions) && m.sessions.length <= MAX_AUDIT_SESSIONS && m.sessions.every((e) => Array.isArray(e) && e.length === 3 && isSessionId(e[0]) && isCount(e[1]) && isCount(e[2]))
        ? undefined
        : 'bad audit';
    case 'audit-ack':
      return isCount(m.id) && [m.missing, m.extra].every((ids) => Array.isArray(ids) && ids.length <= MAX_AUDIT_SESSIONS && ids.every(isSessionId)) ? undefined : 'bad audit-ack';
    default:
      return `unknown message type ${String(m.t).slice(0, 20)}`;
  }
}

function checkMeta(meta: unknown): string | undefined {
  if (!isObject(meta)) return 'bad meta';
  const ok =
    isSessionId(meta.id) &&
    isCount(meta.version) &&
    isCount(meta.epoch) &&
    isName(meta.primary) &&
    (meta.backup === undefined || meta.backup === null || isName(meta.backup)) &&
    isName(meta.origin) &&
    isCount(meta.createdAt) &&
    isCount(meta.lastAccessAt) &&
    isCount(meta.timeoutMs) &&
    isExpiry(meta.expiresAt);
  return ok ? undefined : 'bad session meta';
}

/** An absolute expiry in epoch ms, or null (the idle timeout applies). */
function isExpiry(value: unknown): value is number | null {
  return value === null || isCount(value);
}

function checkStack(stack: unknown): boolean {
  return Array.isArray(stack) && stack.length <= 1024 && stack.every(isCount);
}

function checkEntries(entries: unknown, width: 2 | 3): boolean {
  return Array.isArray(entries) && entries.every((e) => Array.isArray(e) && e.length === width && typeof e[0] === 'string' && typeof e[1] === 'string');
}

function checkSnapshot(snapshot: unknown): string | undefined {
  if (!isObject(snapshot)) return 'bad snapshot';
  return checkMeta(snapshot.meta) ?? (checkStack(snapshot.stack) && checkEntries(snapshot.entries, 3) ? undefined : 'bad snapshot body');
}

function checkDelta(delta: unknown): string | undefined {
  if (!isObject(delta)) return 'bad delta';
  const meta = delta.meta;
  const ok =
    isSessionId(delta.id) &&
    isCount(delta.base) &&
    isCount(delta.version) &&
    delta.version === delta.base + 1 &&
    isCount(delta.epoch) &&
    checkStack(delta.stack) &&
    checkEntries(delta.set, 3) &&
    checkEntries(delta.delete, 2) &&
    isObject(meta) &&
    isName(meta.primary) &&
    (meta.backup === undefined || meta.backup === null || isName(meta.backup)) &&
    isCount(meta.lastAccessAt) &&
    isExpiry(meta.expiresAt);
  return ok ? undefined : 'bad delta';
}
