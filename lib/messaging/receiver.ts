/**
 * The receiving half of the invalidation channel: what this node knows of each sender's
 * publications, how a lost datagram is found, repaired by retransmission or (the last resort)
 * turned into a clear of the types it touched, and the lease on everything cached.
 *
 * Per sender incarnation (a `SenderView`):
 *  - `highest`: the highest sequence known to exist, from its datagrams and heartbeats;
 *  - `missing`: sequences up to `highest` never received and not given up;
 *  - `accounted`: a heartbeat covering every sequence up to here has been reconciled, so every
 *    type a lost datagram up to here touched is known: either a later datagram's chain names
 *    it (`prev`) or the heartbeat's per-type sequence does;
 *  - `pending`: types a lost datagram touched, kept while its retransmission is awaited
 *    (a NAK to the sender, JGroups NAKACK-style) and cleared at the repair deadline.
 * A sender is *confirmed* when nothing is missing or pending: we then know every invalidation
 * it had published when it sent the last message we hold (`stateAt`).
 *
 * The lease: cached values are served only while every sender was confirmed within
 * `leaseMs`; otherwise reads go to the source. A value is therefore never served more than
 * `leaseMs` after a lost invalidation was published, whatever the loss, heartbeats included.
 * A sender whose heartbeat is late is asked what it published (an empty NAK), so one lost
 * heartbeat rarely lapses the lease.
 */
import type { Clock } from '../util/clock.js';
import type { InvalidatePayload, InvalidationEntry, PublishedState } from '../wire/messages.js';
import { LIMITS } from '../wire/messages.js';

/** Why the receiver drops a cache type (the bus adds the reasons that come from membership). */
export type LossReason = 'gap' | 'first-contact';

/** Repair and lease timing, derived from the heartbeat interval (it may be reloaded). */
export interface ReceiverTiming {
  /** How long a cached value is trusted after its senders were last confirmed. */
  readonly leaseMs: number;
  /** How long a lost datagram's types wait for its retransmission before they are cleared. */
  readonly repairMs: number;
  /** The pace of NAKs to one sender, and of the receiver's checks. */
  readonly nakIntervalMs: number;
  /** A sender unconfirmed for this long is asked for its state. */
  readonly probeAfterMs: number;
}

/** Lease and repair timing for a heartbeat interval: the lease is one interval and a quarter. */
export function receiverTiming(intervalMs: number): ReceiverTiming {
  return {
    leaseMs: intervalMs + intervalMs / 4,
    repairMs: intervalMs / 4,
    nakIntervalMs: Math.max(2, intervalMs / 8),
    probeAfterMs: intervalMs + intervalMs / 10,
  };
}

export interface ReceiverHooks {
  /** Applies one entry of a received datagram. */
  apply(entry: InvalidationEntry): void;
  clear(type: string, reason: LossReason, sender: string): void;
  /** Asks `sender` for datagrams `seqs` again, and for its published state (`seqs` empty: only that). */
  nak(sender: string, incarnation: string, seqs: number[]): void;
}

export interface ReceiverOptions {
  readonly hooks: ReceiverHooks;
  readonly clock: Clock;
  readonly timing: () => ReceiverTiming;
  /** false: a lost datagram's types are cleared at once, and late heartbeats are not asked for. */
  readonly retransmit: boolean;
}

export interface ReceiverStats {
  datagramsReceived: number;
  /** Datagrams announced by a sender's sequence numbers that had not arrived (when first noticed). */
  datagramsMissed: number;
  /** Missing datagrams that arrived later, retransmitted. */
  datagramsRecovered: number;
  /** Copies of datagrams already held (a retransmission another node asked for). */
  duplicates: number;
  /** Cache types that a loss touched and a retransmission repaired: clears avoided. */
  repairs: number;
  naksSent: number;
  probesSent: number;
  /** Times a sender stayed unconfirmed past the lease (reads then went to the source). */
  leaseLapses: number;
}

interface Pending {
  /** The type's last applied sequence when the loss was found: datagrams after it are needed. */
  readonly from: number;
  upTo: number;
  readonly deadline: number;
}

interface SenderView {
  readonly name: string;
  readonly incarnation: string;
  /** A heartbeat has told us the sender's whole published state. */
  baselined: boolean;
  /** More was lost than the sender keeps: every loss found is cleared at once, until the next heartbeat. */
  lostTrack: boolean;
  highest: number;
  accounted: number;
  readonly missing: Set<number>;
  readonly typeSeq: Map<string, number>;
  readonly pending: Map<string, Pending>;
  stateAt: number;
  confirmedAt: number;
  nakAt: number;
  lapsed: boolean;
}

/** More missing datagrams than a sender keeps for retransmission: give up and clear. */
export const RETRANSMIT_WINDOW = 1024;

export class InvalidationReceiver {
  readonly stats: ReceiverStats = {
    datagramsReceived: 0,
    datagramsMissed: 0,
    datagramsRecovered: 0,
    duplicates: 0,
    repairs: 0,
    naksSent: 0,
    probesSent: 0,
    leaseLapses: 0,
  };
  private readonly views = new Map<string, SenderView>();
  private readonly hooks: ReceiverHooks;
  private readonly clock: Clock;
  private trustedUntil = Infinity;

  constructor(private readonly options: ReceiverOptions) {
    this.hooks = options.hooks;
    this.clock = options.clock;
  }

  /** True while every sender's publications were confirmed within the lease: cached values may be served. */
  get coherent(): boolean {
    return this.clock.now() <= this.trustedUntil;
  }

  /** Handles an invalidation datagram (already verified and from a known member), first copy or retransmitted. */
  receive(sender: string, incarnation: string, payload: InvalidatePayload): void {
    const now = this.clock.now();
    const view = this.view(sender, incarnation);
    const { seq } = payload;
    if (seq <= view.highest) {
      if (!view.missing.delete(seq)) {
        this.stats.duplicates++;
        return;
      }
      this.stats.datagramsRecovered++;
    } else {
      this.extend(view, seq - 1, now);
      view.highest = seq;
      view.stateAt = now;
    }
    this.stats.datagramsReceived++;
    for (const entry of payload.entries) {
      const known = view.typeSeq.get(entry.type) ?? 0;
      // The sender's previous datagram for this type was never applied here.
      if (entry.prev > known) this.lost(view, entry.type, known, entry.prev, now);
      this.hooks.apply(entry);
      if (seq > known) view.typeSeq.set(entry.type, seq);
    }
    this.settle(view);
  }

  /** Compares a sender's announced publications (heartbeat, goodbye, answer to a NAK) with what we hold. */
  reconcile(sender: string, incarnation: string, published: PublishedState): void {
    const now = this.clock.now();
    const view = this.view(sender, incarnation);
    if (published.seq > view.highest) {
      this.extend(view, published.seq, now);
      view.highest = published.seq;
    }
    for (const [type, seq] of published.types) {
      const known = view.typeSeq.get(type) ?? 0;
      if (seq <= known) continue;
      this.lost(view, type, known, seq, now);
      view.typeSeq.set(type, seq);
    }
    view.baselined = true;
    // Every type a loss touched has now been flagged by its per-type sequence, and cleared.
    view.lostTrack = false;
    view.accounted = Math.max(view.accounted, published.seq);
    view.stateAt = now;
    this.settle(view);
  }

  /** Forgets a sender incarnation (dead, restarted, left). With `giveUp`, what it still owed is cleared. */
  forget(sender: string, giveUp: boolean): void {
    const view = this.views.get(sender);
    if (!view) return;
    if (giveUp) for (const type of view.pending.keys()) this.hooks.clear(type, 'gap', sender);
    this.views.delete(sender);
    this.updateTrust();
  }

  /** One pass: repair deadlines, NAKs and probes, lease lapses. Called every `nakIntervalMs`. */
  tick(): void {
    const now = this.clock.now();
    const timing = this.options.timing();
    for (const view of this.views.values()) {
      for (const [type, pending] of view.pending) {
        if (now < pending.deadline) continue;
        view.pending.delete(type);
        this.hooks.clear(type, 'gap', view.name);
      }
      this.settle(view);
      if (this.options.retransmit && now - view.nakAt >= timing.nakIntervalMs) {
        if (view.missing.size > 0) this.sendNak(view, now);
        else if (now - view.confirmedAt >= timing.probeAfterMs) {
          view.nakAt = now;
          this.stats.probesSent++;
          this.hooks.nak(view.name, view.incarnation, []);
        }
      }
      if (!view.lapsed && now > view.confirmedAt + timing.leaseMs) {
        view.lapsed = true;
        this.stats.leaseLapses++;
      }
    }
  }

  /** Datagrams up to `upTo` that we have not received become missing. */
  private extend(view: SenderView, upTo: number, now: number): void {
    // Before the first heartbeat, what was published earlier cannot be recovered (first contact).
    if (!view.baselined && view.highest === 0) return;
    const count = upTo - view.highest;
    if (count <= 0) return;
    if (view.baselined) this.stats.datagramsMissed += count;
    // More than the sender keeps: no retransmission can repair it.
    if (view.missing.size + count > RETRANSMIT_WINDOW) return this.loseTrack(view);
    // Tracked with or without retransmission: until a heartbeat accounts for them, a missing
    // datagram may have touched any type, so the sender cannot be confirmed.
    for (let seq = view.highest + 1; seq <= upTo; seq++) view.missing.add(seq);
    if (this.options.retransmit && view.baselined && now - view.nakAt >= this.options.timing().nakIntervalMs / 4) this.sendNak(view, now);
  }

  /** A datagram that touched `type` after sequence `from`, up to `upTo`, has not been applied here. */
  private lost(view: SenderView, type: string, from: number, upTo: number, now: number): void {
    if (!view.baselined) {
      this.hooks.clear(type, 'first-contact', view.name);
      return;
    }
    // Nothing to wait for (no retransmission, or the datagram was given up): clear now.
    if (!this.options.retransmit || view.lostTrack || !view.missing.has(upTo)) {
      this.hooks.clear(type, 'gap', view.name);
      return;
    }
    const pending = view.pending.get(type);
    if (pending) pending.upTo = Math.max(pending.upTo, upTo);
    else view.pending.set(type, { from, upTo, deadline: now + this.options.timing().repairMs });
  }

  /** Resolves repaired types, forgets missing datagrams nothing needs, and confirms the sender. */
  private settle(view: SenderView): void {
    for (const [type, pending] of view.pending) {
      if (!this.anyMissing(view, pending.from, pending.upTo)) {
        view.pending.delete(type);
        this.stats.repairs++;
      }
    }
    for (const seq of view.missing) {
      // A heartbeat accounted for it and no waiting type needs it: no cached value depends on it.
      if (seq <= view.accounted && !this.needed(view, seq)) view.missing.delete(seq);
    }
    if (view.baselined && !view.lostTrack && view.missing.size === 0 && view.pending.size === 0 && view.confirmedAt !== view.stateAt) {
      view.confirmedAt = view.stateAt;
      view.lapsed = false;
      this.updateTrust();
    }
  }

  private sendNak(view: SenderView, now: number): void {
    view.nakAt = now;
    this.stats.naksSent++;
    const seqs = [...view.missing].sort((a, b) => a - b).slice(0, LIMITS.seqsPerNak);
    this.hooks.nak(view.name, view.incarnation, seqs);
  }

  /**
   * Lost track of a sender (more missing than it keeps): what waited is cleared, and so is
   * every type a loss is found for until a heartbeat has named them all.
   */
  private loseTrack(view: SenderView): void {
    for (const type of view.pending.keys()) this.hooks.clear(type, 'gap', view.name);
    view.pending.clear();
    view.missing.clear();
    view.lostTrack = true;
  }

  private anyMissing(view: SenderView, from: number, upTo: number): boolean {
    for (const seq of view.missing) if (seq > from && seq <= upTo) return true;
    return false;
  }

  private needed(view: SenderView, seq: number): boolean {
    for (const pending of view.pending.values()) if (seq > pending.from && seq <= pending.upTo) return true;
    return false;
  }

  private view(sender: string, incarnation: string): SenderView {
    let view = this.views.get(sender);
    if (!view || view.incarnation !== incarnation) {
      view = {
        name: sender,
        incarnation,
        baselined: false,
        lostTrack: false,
        highest: 0,
        accounted: 0,
        missing: new Set(),
        typeSeq: new Map(),
        pending: new Map(),
        stateAt: -Infinity,
        confirmedAt: -Infinity,
        nakAt: -Infinity,
        lapsed: false,
      };
      this.views.set(sender, view);
      this.updateTrust();
    }
    return view;
  }

  private updateTrust(): void {
    let earliest = Infinity;
    for (const view of this.views.values()) earliest = Math.min(earliest, view.confirmedAt);
    this.trustedUntil = earliest === Infinity ? Infinity : earliest + this.options.timing().leaseMs;
  }
}
