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
 * receiver that learns of a datagram it never received asks the sender for it (a NAK; the
 * sender keeps its last datagrams) and clears the types it touched only if it does not come
 * in time: every other type is proven unaffected. What cannot be asked for is cleared: a
 * sender that dies or restarts may have lost its last datagrams with nobody able to tell,
 * so its peers clear every type. The receiving side and the lease are `receiver.ts`.
 */
import { Coalescer } from '../util/coalescer.js';
import { publish } from '../diagnostics.js';
import type { Membership, Member } from '../membership/membership.js';
import type { ClusterChannel } from '../transport/cluster-channel.js';
import type { EnvelopeOf, InvalidatePayload, PublishedState } from '../wire/messages.js';
import { systemClock, type Clock, type Timer } from '../util/clock.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { InvalidationReceiver, receiverTiming, RETRANSMIT_WINDOW, type LossReason, type ReceiverStats } from './receiver.js';

/** Why a subscriber is told to drop a whole cache type. */
export type ClearReason =
  | 'remote' // another node cleared it on purpose
  | 'gap' // a datagram touching this type was lost
  | 'first-contact' // a sender published to it before we could hear it
  | 'member-lost' // a sender died; its last datagrams may be lost
  | 'sender-restarted'; // a sender restarted before we saw it die

export interface InvalidationProcessor {
  invalidate(keys: readonly string[]): void;
  clear(reason: ClearReason): void;
}

export interface InvalidationBusOptions {
  readonly channel: ClusterChannel;
  readonly membership: Membership;
  readonly coalesceMs: number;
  /** Lost datagrams are asked for again before their types are cleared (default true). */
  readonly retransmit?: boolean;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

export interface InvalidationBusStats extends ReceiverStats {
  datagramsSent: number;
  sendErrors: number;
  /** Datagrams sent again because another node asked (NAK). */
  retransmitsSent: number;
  /** Asked-for datagrams no longer kept (older than the last RETRANSMIT_WINDOW). */
  retransmitsUnavailable: number;
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

/** This node's last datagrams, kept to be sent again when another node reports them lost. */
class RetransmitBuffer {
  private readonly datagrams = new Map<number, { readonly payload: InvalidatePayload; resentAt: number }>();

  remember(payload: InvalidatePayload): void {
    this.datagrams.set(payload.seq, { payload, resentAt: -Infinity });
    if (this.datagrams.size > RETRANSMIT_WINDOW) this.datagrams.delete(this.datagrams.keys().next().value!);
  }

  /** The datagram to send again; `resent` when it went within `minGapMs` (several nodes asked at once). */
  take(seq: number, now: number, minGapMs: number): InvalidatePayload | 'gone' | 'resent' {
    const kept = this.datagrams.get(seq);
    if (!kept) return 'gone';
    if (now - kept.resentAt < minGapMs) return 'resent';
    kept.resentAt = now;
    return kept.payload;
  }
}

const CBOR_STRING_HEADER = 3; // enough for any string up to 65535 bytes
const ENTRY_OVERHEAD = 1 + 9 + 1 + 3 + CBOR_STRING_HEADER; // array, prev, clear flag, keys array, type header

export class InvalidationBus {
  private readonly counters = {
    datagramsSent: 0,
    sendErrors: 0,
    retransmitsSent: 0,
    retransmitsUnavailable: 0,
    clearsByReason: { gap: 0, 'first-contact': 0, 'member-lost': 0, 'sender-restarted': 0 },
  };
  private readonly processors = new Map<string, InvalidationProcessor>();
  private readonly receiver: InvalidationReceiver;
  private readonly retransmitBuffer = new RetransmitBuffer();
  private readonly clock: Clock;
  private tickTimer: Timer | undefined;
  private publishedSentAt = -Infinity;
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
    this.clock = options.clock ?? systemClock;
    // The bytes every invalidation datagram spends before its first entry.
    this.envelopeOverhead = options.channel.measure('invalidate', { seq: Number.MAX_SAFE_INTEGER, entries: [] }) + 3;
    const { channel, membership } = options;
    this.receiver = new InvalidationReceiver({
      clock: this.clock,
      retransmit: options.retransmit ?? true,
      timing: () => receiverTiming(membership.heartbeatSettings.intervalMs),
      hooks: {
        apply: (entry) => {
          const processor = this.processors.get(entry.type);
          if (entry.clear) processor?.clear('remote');
          else processor?.invalidate(entry.keys);
        },
        clear: (type, reason, sender) => this.clearType(type, reason, sender),
        // Sent after the current datagram is fully handled: the answer may arrive at once.
        nak: (target, incarnation, seqs) => queueMicrotask(() => void channel.send('nak', { target, incarnation, seqs }).catch(() => {})),
      },
    });
    channel.on('invalidate', (envelope) => this.receiver.receive(envelope.sender, envelope.incarnation, envelope.payload));
    channel.on('nak', (envelope) => this.answerNak(envelope));
    channel.on('published', (envelope) => this.receiver.reconcile(envelope.sender, envelope.incarnation, envelope.payload));
    membership.on('heartbeat', (member, payload) => this.receiver.reconcile(member.name, member.incarnation, payload.published));
    membership.on('left', (member, published) => {
      this.receiver.reconcile(member.name, member.incarnation, published);
      this.receiver.forget(member.name, true);
    });
    membership.on('dead', (member) => {
      this.receiver.forget(member.name, false);
      this.clearAll('member-lost', member);
    });
    membership.on('restarted', (member, previous) => {
      this.receiver.forget(member.name, false);
      if (previous.state === 'alive' || previous.state === 'suspect') this.clearAll('sender-restarted', member);
    });
  }

  get stats(): Readonly<InvalidationBusStats> {
    return { ...this.receiver.stats, ...this.counters, clearsByReason: { ...this.counters.clearsByReason } };
  }

  /**
   * False while some member's invalidations are not confirmed within the lease (a lost
   * datagram not yet repaired, heartbeats lost): cached values must not be served then.
   */
  isCoherent(): boolean {
    return this.receiver.coherent;
  }

  /** Starts the receiver's checks: repair deadlines, NAKs, probes of late heartbeats. */
  start(): void {
    const schedule = (): void => {
      this.tickTimer = this.clock.setTimeout(() => {
        this.receiver.tick();
        schedule();
      }, receiverTiming(this.options.membership.heartbeatSettings.intervalMs).nakIntervalMs);
      this.tickTimer.unref?.();
    };
    if (!this.tickTimer) schedule();
  }

  stop(): void {
    if (this.tickTimer) this.clock.clearTimeout(this.tickTimer);
    this.tickTimer = undefined;
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

  /** Another node lost some of this node's datagrams (or its heartbeats): send them, then what was published. */
  private answerNak(envelope: EnvelopeOf<'nak'>): void {
    const { identity } = this.options.channel;
    const { target, incarnation, seqs } = envelope.payload;
    if (target !== identity.name || incarnation !== identity.incarnation) return;
    const now = this.clock.now();
    // Several nodes missing the same datagram ask at once; multicast answers them all with one copy.
    const minGapMs = this.options.membership.heartbeatSettings.intervalMs / 40;
    for (const seq of seqs) {
      const datagram = this.retransmitBuffer.take(seq, now, minGapMs);
      if (datagram === 'gone') this.counters.retransmitsUnavailable++;
      else if (datagram !== 'resent') {
        this.counters.retransmitsSent++;
        void this.options.channel.send('invalidate', datagram).catch(() => this.counters.sendErrors++);
      }
    }
    // What was published: the asker confirms, or learns what else it lacks.
    if (now - this.publishedSentAt >= minGapMs) {
      this.publishedSentAt = now;
      void this.options.channel.send('published', this.publishedState()).catch(() => this.counters.sendErrors++);
    }
  }

  private clearType(type: string, reason: LossReason, sender: string): void {
    this.counters.clearsByReason[reason]++;
    if (reason === 'gap') this.logger.warn({ type, sender }, 'lost invalidation detected; cache type cleared');
    publish('cache', () => ({ node: this.options.channel.identity.name, type, event: 'loss-clear', reason, sender }));
    this.processors.get(type)?.clear(reason);
  }

  private clearAll(reason: 'member-lost' | 'sender-restarted', member: Member): void {
    this.logger.info({ node: member.name, reason }, 'clearing every cache type: the sender may have lost invalidations');
    this.counters.clearsByReason[reason]++;
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
    this.retransmitBuffer.remember(datagram);
    try {
      await this.options.channel.send('invalidate', datagram);
      this.counters.datagramsSent++;
    } catch (error) {
      this.counters.sendErrors++;
      throw error;
    }
  }
}
