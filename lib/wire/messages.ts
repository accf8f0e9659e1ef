/**
 * The messages that travel inside frames, and the shape checks that make a decoded CBOR
 * value trustworthy. Everything past `checkEnvelope` may rely on these types.
 */
import { isCount, isName, isPort, isSessionId, MAX_NAME_LENGTH } from './checks.js';

export const MessageKind = {
  heartbeat: 1,
  goodbye: 2,
  invalidate: 3,
  locate: 4,
  located: 5,
  apps: 6,
  'apps-ack': 7,
  nak: 8,
  published: 9,
} as const;
export type MessageKindName = keyof typeof MessageKind;
export type MessageKindCode = (typeof MessageKind)[MessageKindName];

export const LIMITS = Object.freeze({
  nameLength: MAX_NAME_LENGTH,
  incarnationLength: 64,
  hostLength: 253,
  cacheKeyBytes: 512,
  typesPerMessage: 1024,
  keysPerEntry: 65_536,
  seqsPerNak: 256,
});

/**
 * What a sender has published on the invalidation channel so far: the sequence number of
 * its last invalidation datagram and, per cache type, the last sequence that touched it.
 * Carried by heartbeats and goodbyes so that a lost *last* datagram is noticed too.
 */
export interface PublishedState {
  readonly seq: number;
  readonly types: readonly (readonly [type: string, seq: number])[];
}

export interface MemberLoad {
  /** Event-loop utilisation over the last heartbeat interval, 0..1. */
  readonly elu: number;
  /** Entries held in this node's object caches. */
  readonly items: number;
  /** Sessions served as primary: the request load new sessions and backups are placed by. */
  readonly sessions: number;
}

export interface HeartbeatPayload {
  readonly machine: string;
  readonly host: string;
  readonly adminPort: number;
  readonly replicationPort: number;
  readonly load: MemberLoad;
  readonly published: PublishedState;
}

export interface GoodbyePayload {
  readonly published: PublishedState;
}

/** One cache type's share of an invalidation datagram. */
export interface InvalidationEntry {
  readonly type: string;
  /** Sequence of the sender's previous datagram that touched this type (0: none). */
  readonly prev: number;
  /** The whole type is cleared; `keys` is then empty. */
  readonly clear: boolean;
  readonly keys: readonly string[];
}

export interface InvalidatePayload {
  readonly seq: number;
  readonly entries: readonly InvalidationEntry[];
}

/**
 * "Send again the invalidation datagrams `seqs` you published" (NAKACK-style), to one sender
 * incarnation. The sender answers with them and a `published` message; with empty `seqs`
 * ("what have you published?", asked when its heartbeat is late) with the latter only.
 */
export interface NakPayload {
  readonly target: string;
  readonly incarnation: string;
  readonly seqs: readonly number[];
}

/** "Who holds session S?", for a node with no usable route hint. */
export interface LocatePayload {
  readonly request: number;
  readonly session: string;
}

/** One node's answer to a locate: what it holds of the session, if anything. */
export interface LocatedPayload {
  readonly request: number;
  readonly requester: string;
  readonly session: string;
  readonly role: 'primary' | 'backup' | 'expired' | 'none';
  readonly version: number;
}

const ROLES = ['primary', 'backup', 'expired', 'none'] as const;

export const APP_STATES = ['enabled', 'disabled', 'draining'] as const;
/** draining: a graceful disable; sessions already using the application go on, new ones are refused. */
export type AppState = (typeof APP_STATES)[number];

/** One application's state as the cluster agrees on it: the highest (version, origin) wins. */
export interface AppRecord {
  readonly name: string;
  readonly state: AppState;
  readonly version: number;
  /** The node where the change was made. */
  readonly origin: string;
}

/**
 * Application states: a change (request > 0, to be acknowledged) or a node's whole table
 * (request 0: sent when a member joins, so a late joiner learns the current states).
 */
export interface AppsPayload {
  readonly request: number;
  readonly apps: readonly AppRecord[];
}

/** "I now hold these versions", to the node that sent request `request`. */
export interface AppsAckPayload {
  readonly request: number;
  readonly requester: string;
  readonly apps: readonly AppRecord[];
}

interface EnvelopeHeader {
  readonly cluster: string;
  readonly sender: string;
  readonly incarnation: string;
  /** Wall-clock start time of the sender's incarnation, to order incarnations of one name. */
  readonly startedAt: number;
  /** Per (sender, incarnation), one per frame; used to drop duplicates and replays. */
  readonly seq: number;
}

export type Envelope =
  | (EnvelopeHeader & { readonly kind: 'heartbeat'; readonly payload: HeartbeatPayload })
  | (EnvelopeHeader & { readonly kind: 'goodbye'; readonly payload: GoodbyePayload })
  | (EnvelopeHeader & { readonly kind: 'invalidate'; readonly payload: InvalidatePayload })
  | (EnvelopeHeader & { readonly kind: 'locate'; readonly payload: LocatePayload })
  | (EnvelopeHeader & { readonly kind: 'located'; readonly payload: LocatedPayload })
  | (EnvelopeHeader & { readonly kind: 'apps'; readonly payload: AppsPayload })
  | (EnvelopeHeader & { readonly kind: 'apps-ack'; readonly payload: AppsAckPayload })
  | (EnvelopeHeader & { readonly kind: 'nak'; readonly payload: NakPayload })
  | (EnvelopeHeader & { readonly kind: 'published'; readonly payload: PublishedState });

export type EnvelopeOf<K extends Envelope['kind']> = Extract<Envelope, { kind: K }>;

const KIND_BY_CODE = new Map<number, MessageKindName>(Object.entries(MessageKind).map(([name, code]) => [code, name as MessageKindName]));

/** The array form put on the wire: [cluster, sender, incarnation, startedAt, seq, kind, payload]. */
export function toWire(envelope: Envelope): unknown[] {
  return [
    envelope.cluster,
    envelope.sender,
    envelope.incarnation,
    envelope.startedAt,
    envelope.seq,
    MessageKind[envelope.kind],
    payloadToWire(envelope),
  ];
}

function payloadToWire(envelope: Envelope): unknown {
  switch (envelope.kind) {
    case 'heartbeat': {
      const p = envelope.payload;
      return [p.machine, p.host, p.adminPort, p.replicationPort, [p.load.elu, p.load.items, p.load.sessions], publishedToWire(p.published)];
    }
    case 'goodbye':
      return [publishedToWire(envelope.payload.published)];
    case 'invalidate':
      return [envelope.payload.seq, envelope.payload.entries.map((e) => [e.type, e.prev, e.clear ? 1 : 0, e.keys])];
    case 'locate':
      return [envelope.payload.request, envelope.payload.session];
    case 'located': {
      const p = envelope.payload;
      return [p.request, p.requester, p.session, ROLES.indexOf(p.role), p.version];
    }
    case 'apps':
      return [envelope.payload.request, appsToWire(envelope.payload.apps)];
    case 'apps-ack':
      return [envelope.payload.request, envelope.payload.requester, appsToWire(envelope.payload.apps)];
    case 'nak':
      return [envelope.payload.target, envelope.payload.incarnation, envelope.payload.seqs];
    case 'published':
      return publishedToWire(envelope.payload);
  }
}

function appsToWire(apps: readonly AppRecord[]): unknown[] {
  return apps.map((a) => [a.name, APP_STATES.indexOf(a.state), a.version, a.origin]);
}

function checkApps(value: unknown): AppRecord[] | string {
  if (!Array.isArray(value) || value.length > LIMITS.typesPerMessage) return 'bad application list';
  const apps: AppRecord[] = [];
  for (const entry of value) {
    if (!Array.isArray(entry) || entry.length !== 4) return 'bad application entry';
    const [name, stateCode, version, origin] = entry as unknown[];
    const state = typeof stateCode === 'number' ? APP_STATES[stateCode] : undefined;
    if (!isName(name) || !state || !isCount(version) || !isName(origin)) return 'bad application entry';
    apps.push({ name, state, version, origin });
  }
  return apps;
}

function publishedToWire(published: PublishedState): unknown[] {
  return [published.seq, published.types];
}

/** Returns the envelope, or a short description of what is wrong with the value. */
export function checkEnvelope(value: unknown): Envelope | string {
  if (!Array.isArray(value) || value.length !== 7) return 'envelope is not a 7-element array';
  const [cluster, sender, incarnation, startedAt, seq, kindCode, payload] = value as unknown[];
  if (!isName(cluster)) return 'bad cluster name';
  if (!isName(sender)) return 'bad sender name';
  if (!isString(incarnation, LIMITS.incarnationLength) || incarnation === '') return 'bad incarnation';
  if (!isCount(startedAt)) return 'bad startedAt';
  if (!isCount(seq) || seq === 0) return 'bad sequence number';
  const kind = typeof kindCode === 'number' ? KIND_BY_CODE.get(kindCode) : undefined;
  if (!kind) return 'unknown message kind';
  const header = { cluster, sender, incarnation, startedAt, seq };
  switch (kind) {
    case 'heartbeat': {
      const checked = checkHeartbeat(payload);
      return typeof checked === 'string' ? checked : { ...header, kind, payload: checked };
    }
    case 'goodbye': {
      if (!Array.isArray(payload) || payload.length !== 1) return 'bad goodbye payload';
      const published = checkPublished(payload[0]);
      return typeof published === 'string' ? published : { ...header, kind, payload: { published } };
    }
    case 'invalidate': {
      const checked = checkInvalidate(payload);
      return typeof checked === 'string' ? checked : { ...header, kind, payload: checked };
    }
    case 'locate': {
      if (!Array.isArray(payload) || payload.length !== 2 || !isCount(payload[0]) || !isSessionId(payload[1])) return 'bad locate payload';
      return { ...header, kind, payload: { request: payload[0], session: payload[1] } };
    }
    case 'located': {
      if (!Array.isArray(payload) || payload.length !== 5) return 'bad located payload';
      const [request, requester, session, role, version] = payload as unknown[];
      const roleName = typeof role === 'number' ? ROLES[role] : undefined;
      if (!isCount(request) || !isName(requester) || !isSessionId(session) || !roleName || !isCount(version)) return 'bad located payload';
      return { ...header, kind, payload: { request, requester, session, role: roleName, version } };
    }
    case 'apps': {
      if (!Array.isArray(payload) || payload.length !== 2 || !isCount(payload[0])) return 'bad apps payload';
      const apps = checkApps(payload[1]);
      return typeof apps === 'string' ? apps : { ...header, kind, payload: { request: payload[0], apps } };
    }
    case 'apps-ack': {
      if (!Array.isArray(payload) || payload.length !== 3 || !isCount(payload[0]) || !isName(payload[1])) return 'bad apps-ack payload';
      const apps = checkApps(payload[2]);
      return typeof apps === 'string' ? apps : { ...header, kind, payload: { request: payload[0], requester: payload[1], apps } };
    }
    case 'nak': {
      if (!Array.isArray(payload) || payload.length !== 3) return 'bad nak payload';
      const [target, targetIncarnation, seqs] = payload as unknown[];
      if (!isName(target) || !isString(targetIncarnation, LIMITS.incarnationLength) || targetIncarnation === '') return 'bad nak target';
      if (!Array.isArray(seqs) || seqs.length > LIMITS.seqsPerNak || !seqs.every((q) => isCount(q) && q > 0)) return 'bad nak sequences';
      return { ...header, kind, payload: { target, incarnation: targetIncarnation, seqs: seqs as number[] } };
    }
    case 'published': {
      const published = checkPublished(payload);
      return typeof published === 'string' ? published : { ...header, kind, payload: published };
    }
  }
}


function checkHeartbeat(value: unknown): HeartbeatPayload | string {
  if (!Array.isArray(value) || value.length !== 6) return 'bad heartbeat payload';
  const [machine, host, adminPort, replicationPort, load, published] = value as unknown[];
  if (!isName(machine)) return 'bad machine';
  if (!isString(host, LIMITS.hostLength)) return 'bad host';
  if (!isPort(adminPort) || !isPort(replicationPort)) return 'bad port';
  if (!Array.isArray(load) || load.length !== 3) return 'bad load';
  const [elu, items, sessions] = load as unknown[];
  if (typeof elu !== 'number' || !(elu >= 0 && elu <= 1) || !isCount(items) || !isCount(sessions)) return 'bad load';
  const checkedPublished = checkPublished(published);
  if (typeof checkedPublished === 'string') return checkedPublished;
  return { machine, host, adminPort, replicationPort, load: { elu, items, sessions }, published: checkedPublished };
}

function checkPublished(value: unknown): PublishedState | string {
  if (!Array.isArray(value) || value.length !== 2) return 'bad published state';
  const [seq, types] = value as unknown[];
  if (!isCount(seq)) return 'bad published sequence';
  if (!Array.isArray(types) || types.length > LIMITS.typesPerMessage) return 'bad published types';
  for (const pair of types) {
    if (!Array.isArray(pair) || pair.length !== 2 || !isName(pair[0]) || !isCount(pair[1]) || pair[1] > seq) return 'bad published type';
  }
  return { seq, types: types as [string, number][] };
}

function checkInvalidate(value: unknown): InvalidatePayload | string {
  if (!Array.isArray(value) || value.length !== 2) return 'bad invalidate payload';
  const [seq, entries] = value as unknown[];
  if (!isCount(seq) || seq === 0) return 'bad invalidation sequence';
  if (!Array.isArray(entries) || entries.length === 0 || entries.length > LIMITS.typesPerMessage) return 'bad invalidation entries';
  const checked: InvalidationEntry[] = [];
  for (const entry of entries) {
    if (!Array.isArray(entry) || entry.length !== 4) return 'bad invalidation entry';
    const [type, prev, clear, keys] = entry as unknown[];
    if (!isName(type) || !isCount(prev) || prev >= seq || (clear !== 0 && clear !== 1)) return 'bad invalidation entry';
    if (!Array.isArray(keys) || keys.length > LIMITS.keysPerEntry || (clear === 0 && keys.length === 0)) return 'bad invalidation keys';
    for (const key of keys) if (!isCacheKey(key)) return 'bad cache key';
    checked.push({ type, prev, clear: clear === 1, keys: keys as string[] });
  }
  return { seq, entries: checked };
}

function isString(value: unknown, maxLength: number): value is string {
  return typeof value === 'string' && value.length <= maxLength;
}


export function isCacheKey(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && Buffer.byteLength(value) <= LIMITS.cacheKeyBytes;
}

