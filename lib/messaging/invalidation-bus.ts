/**
 * Publish and subscribe cache invalidations by cache type, over the cluster channel.
 *
 * Publishing coalesces: invalidations published close together share one datagram (sent
 * at the next turn of the event loop when the channel is idle, else after `coalesceMs`,
 * or at once when a datagram is full).
 *
 * Loss detection is per cache type. Each datagram has a per-sender sequence number, and
 * each of its entries names the sequence of the sender's previous datagram that touched
 * the same type. Heartbeats and goodbyes carry, per type, the last sequence published. A
 * receiver that learns of a datagram touching type T that it never received clears T, and
 * only T: every other type is proven unaffected. A sender that dies or restarts may have
 * lost its last datagrams with nobody able to tell, so its peers clear every type.
 */
import { Coalescer } from '../util/coalescer.js';
import { publish } from '../diagnostics.js';
import type { Membership, Member } from '../membership/membership.js';
import type { ClusterChannel } from '../transport/cluster-channel.js';
import type { EnvelopeOf, InvalidatePayload, PublishedState } from '../wire/messages.js';
import { silentLogger, type Logger } from '../util/logger.js';

/** Why a subscriber is told to drop a whole cache type. */
export type ClearReason =
  | 'remote' // another node cleared it on purpose
  | 'gap' // a datagram touching this type was lost
  | 'first-contact' // a sender published to it before we could hear it
  | 'member-lost' // a sender died; its last datagrams may be lost
  | 'sender-restarted' // a sender restarted before we saw it die
  | 'lease-expired'; // a sender went silent (suspect): its heartbeats, which would tell of a lost datagram, are lost too

export interface InvalidationProcessor {
  invalidate(keys: readonly string[]): void;
  clear(reason: ClearReason): void;
}

export interface InvalidationBusOptions {
  readonly channel: ClusterChannel;
  readonly membership: Membership;
  readonly coalesceMs: number;
  readonly logger?: Logger;
}

export interface InvalidationBusStats {
  datagramsSent: number;
  datagramsReceived: number;
  /** Invalidation datagrams announced by a sender's sequence numbers but never received. */
  datagramsMissed: number;
  sendErrors: number;
  clearsByReason: Record<Exclude<ClearReason, 'remote'>, number>;
}

interface PendingType {
  clear: boolean;
  readonly keys: Set<string>;
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

/** What this node knows of one sender incarnation's publications. */
interface SenderState {
  readonly incarnation: string;
  /** False until a heartbeat or goodbye has told us its full published state. */
  baselined: boolean;
  lastSeq: number;
  readonly typeSeq: Map<string, number>;
}

const CBOR_STRING_HEADER = 3; // enough for any string up to 65535 bytes
const ENTRY_OVERHEAD = 1 + 9 + 1 + 3 + CBOR_STRING_HEADER; // array, prev, clear flag, keys array, type header

export class InvalidationBus {
  readonly stats: InvalidationBusStats = {
    datagramsSent: 0,
    datagramsReceived: 0,
    datagramsMissed: 0,
    sendErrors: 0,
    clearsByReason: { gap: 0, 'first-contact': 0, 'member-lost': 0, 'sender-restarted': 0, 'lease-expired': 0 },
  };
  private readonly processors = new Map<string, InvalidationProcessor>();
  private readonly senders = new Map<string, SenderState>();
  private readonly logger: Logger;
  private readonly envelopeOverhead: number;
  private pending = new Map<string, PendingType>();
  private pendingBytes = 0;
  private waiters: Waiter[] = [];
  private readonly flushTimer = new Coalescer(() => void this.flush().catch(() => {}));
  private lastSendAt = -Infinity;
  private seq = 0;
  private readonly typeSeq = new Map<string, number>();

  constructor(private readonly options: InvalidationBusOptions) {
    this.logger = options.logger ?? silentLogger;
    // The bytes every invalidation datagram spends before its first entry.
    this.envelopeOverhead = options.channel.measure('invalidate', { seq: Number.MAX_SAFE_INTEGER, entries: [] }) + 3;
    options.channel.on('invalidate', (envelope) => this.receive(envelope));
    const { membership } = options;
    membership.on('heartbeat', (member, payload) => this.reconcile(member, payload.published));
    membership.on('left', (member, published) => {
      this.reconcile(member, published);
      this.senders.delete(member.name);
    });
    // A lease on what this node caches: a lost last invalidation is caught by the sender's
    // next heartbeat, but when those are lost too, nothing would catch it. A sender silent
    // long enough to be suspected (two heartbeat intervals) is no longer trusted: every type
    // is cleared, so no value stays stale for longer than that, whatever the loss.
    membership.on('suspect', (member) => this.clearAll('lease-expired', member));
    membership.on('dead', (member) => {
      this.clearAll('member-lost', member);
      this.senders.delete(member.name);
    });
    membership.on('restarted', (member, previous) => {
      this.senders.delete(member.name);
      if (previous.state === 'alive' || previous.state === 'suspect') this.clearAll('sender-restarted', member);
    });
  }

  /** Registers the processor for one cache type; returns a function that unregisters it. */
  subscribe(type: string, processor: InvalidationProcessor): () => void {
    this.processors.set(type, processor);
    return () => {
      if (this.processors.get(type) === processor) this.processors.delete(type);
    };
  }

  publishInvalidate(type: string, key: string): Promise<void> {
    const entry = this.pendingEntry(type);
    if (!entry.clear && !entry.keys.has(key)) {
      entry.keys.add(key);
      this.pendingBytes += Buffer.byteLength(key) + CBOR_STRING_HEADER;
    }
    return this.enqueued();
  }

  publishClear(type: string): Promise<void> {
    const entry = this.pendingEntry(type);
    entry.clear = true;
    entry.keys.clear(); // a clear subsumes every key of its type
    return this.enqueued();
  }

  /** For heartbeats: the last sequence published, overall and per type. */
  publishedState(): PublishedState {
    return { seq: this.seq, types: [...this.typeSeq] };
  }

  /** Sends whatever is pending now. */
  flush(): Promise<void> {
    this.flushTimer.cancel();
    const pending = this.pending;
    const waiters = this.waiters;
    this.pending = new Map();
    this.pendingBytes = 0;
    this.waiters = [];
    if (pending.size === 0) return Promise.resolve();
    this.lastSendAt = performance.now();
    const sent = Promise.all(this.pack(pending).map((datagram) => this.sendDatagram(datagram)));
    const done = sent.then(() => undefined);
    done.then(
      () => waiters.forEach((w) => w.resolve()),
      (error) => waiters.forEach((w) => w.reject(error)),
    );
    return done;
  }

  /** Handles a received invalidation datagram (already verified and from a known member). */
  receive(envelope: EnvelopeOf<'invalidate'>): void {
    this.stats.datagramsReceived++;
    const state = this.senderState(envelope.sender, envelope.incarnation);
    const { seq, entries } = envelope.payload;
    if (seq > state.lastSeq + 1 && state.lastSeq > 0) this.stats.datagramsMissed += seq - state.lastSeq - 1;
    state.lastSeq = Math.max(state.lastSeq, seq);
    for (const entry of entries) {
      const known = state.typeSeq.get(entry.type) ?? 0;
      if (entry.prev > known) {
        // We never saw the sender's previous datagram for this type: drop the whole type.
        this.clearType(entry.type, state.baselined ? 'gap' : 'first-contact', envelope.sender);
      } else {
        const processor = this.processors.get(entry.type);
        if (entry.clear) processor?.clear('remote');
        else processor?.invalidate(entry.keys);
      }
      if (seq > known) state.typeSeq.set(entry.type, seq);
    }
  }

  /** Compares a sender's announced publications with what we received. */
  private reconcile(member: Member, published: PublishedState): void {
    const state = this.senderState(member.name, member.incarnation);
    if (published.seq > state.lastSeq) {
      if (state.baselined) this.stats.datagramsMissed += published.seq - state.lastSeq;
      state.lastSeq = published.seq;
    }
    for (const [type, seq] of published.types) {
      if (seq > (state.typeSeq.get(type) ?? 0)) {
        this.clearType(type, state.baselined ? 'gap' : 'first-contact', member.name);
        state.typeSeq.set(type, seq);
      }
    }
    state.baselined = true;
  }

  private senderState(sender: string, incarnation: string): SenderState {
    let state = this.senders.get(sender);
    if (!state || state.incarnation !== incarnation) {
      state = { incarnation, baselined: false, lastSeq: 0, typeSeq: new Map() };
      this.senders.set(sender, state);
    }
    return state;
  }

  private clearType(type: string, reason: Exclude<ClearReason, 'remote'>, sender: string): void {
    this.stats.clearsByReason[reason]++;
    if (reason === 'gap') this.logger.warn({ type, sender }, 'lost invalidation detected; cache type cleared');
    publish('cache', () => ({ node: this.options.channel.identity.name, type, event: 'loss-clear', reason, sender }));
    this.processors.get(type)?.clear(reason);
  }

  private clearAll(reason: 'member-lost' | 'sender-restarted' | 'lease-expired', member: Member): void {
    this.logger.info({ node: member.name, reason }, 'clearing every cache type: the sender may have lost invalidations');
    this.stats.clearsByReason[reason]++;
    for (const [type, processor] of this.processors) {
      publish('cache', () => ({ node: this.options.channel.identity.name, type, event: 'loss-clear', reason, sender: member.name }));
      processor.clear(reason);
    }
  }

  private pendingEntry(type: string): PendingType {
    let entry = this.pending.get(type);
    if (!entry) {
      entry = { clear: false, keys: new Set() };
      this.pending.set(type, entry);
      this.pendingBytes += ENTRY_OVERHEAD + Buffer.byteLength(type);
    }
    return entry;
  }

  private enqueued(): Promise<void> {
    const promise = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (this.envelopeOverhead + this.pendingBytes >= this.options.channel.maxFrameBytes) {
      void this.flush().catch(() => {});
    } else if (!this.flushTimer.pending) {
      // Idle channel: send at the next turn (everything published in this turn shares the
      // datagram). Busy channel: wait out the window so that more can share.
      this.flushTimer.schedule(this.lastSendAt + this.options.coalesceMs - performance.now());
    }
    return promise;
  }

  /** Packs pending entries into datagrams that each fit the frame limit. */
  private pack(pending: Map<string, PendingType>): InvalidatePayload[] {
    const budget = this.options.channel.maxFrameBytes - this.envelopeOverhead;
    const datagrams: { type: string; clear: boolean; keys: string[] }[][] = [];
    let current: { type: string; clear: boolean; keys: string[] }[] = [];
    let used = 0;
    const startNew = (): void => {
      if (current.length > 0) datagrams.push(current);
      current = [];
      used = 0;
    };
    for (const [type, entry] of pending) {
      const entryBytes = ENTRY_OVERHEAD + Buffer.byteLength(type);
      if (entry.clear) {
        if (used + entryBytes > budget) startNew();
        current.push({ type, clear: true, keys: [] });
        used += entryBytes;
        continue;
      }
      let target: { type: string; clear: boolean; keys: string[] } | undefined;
      for (const key of entry.keys) {
        const keyBytes = Buffer.byteLength(key) + CBOR_STRING_HEADER;
        if (!target || used + keyBytes > budget) {
          if (used + entryBytes + keyBytes > budget) startNew();
          target = { type, clear: false, keys: [] };
          current.push(target);
          used += entryBytes;
        }
        target.keys.push(key);
        used += keyBytes;
      }
    }
    startNew();
    // Sequence numbers and per-type chains are assigned in send order.
    return datagrams.map((entries) => {
      const seq = ++this.seq;
      const chained = entries.map((e) => {
        const prev = this.typeSeq.get(e.type) ?? 0;
        this.typeSeq.set(e.type, seq);
        return { ...e, prev };
      });
      return { seq, entries: chained };
    });
  }

  private async sendDatagram(datagram: InvalidatePayload): Promise<void> {
    try {
      await this.options.channel.send('invalidate', datagram);
      this.stats.datagramsSent++;
    } catch (error) {
      this.stats.sendErrors++;
      throw error;
    }
  }
}
