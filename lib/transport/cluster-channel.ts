/**
 * The cluster's authenticated multicast channel: frames out, trusted envelopes in.
 *
 * Outgoing: stamps sender, incarnation and a per-frame sequence number, encodes and signs.
 * Incoming: verifies, decodes, shape-checks and drops duplicates and replays, then asks the
 * `admit` filter (the membership's verdict) and hands the envelope to the handler of its
 * kind; every datagram is either delivered or counted under a drop reason, and none can throw.
 */
import { DECODE_FAILURES, DecodeError, type DecodeFailure } from '../errors.js';
import { FrameCodec, ReplayFilter, type Envelope, type EnvelopeOf } from '../wire/index.js';
import type { DatagramTransport } from './datagram-channel.js';

/** Why a received datagram was not delivered; each is a metrics label. */
export type DropReason = DecodeFailure | 'replay' | 'unknown-member' | 'stale-incarnation' | 'name-clash';

/** Reasons an admit filter may give for refusing a verified frame. */
export type AdmitVerdict = 'accepted' | 'unknown-member' | 'stale-incarnation' | 'name-clash';

export const DROP_REASONS: readonly DropReason[] = [...DECODE_FAILURES, 'replay', 'unknown-member', 'stale-incarnation', 'name-clash'];

export interface Identity {
  readonly cluster: string;
  readonly name: string;
  readonly incarnation: string;
  readonly startedAt: number;
}

type PayloadOf<K extends Envelope['kind']> = EnvelopeOf<K>['payload'];
type KindHandlers = { [K in Envelope['kind']]?: (envelope: EnvelopeOf<K>) => void };

export class ClusterChannel {
  readonly drops: Record<DropReason, number>;
  onHandlerError: (error: unknown, envelope: Envelope) => void = () => {};
  #framesDelivered = 0;
  #handlerErrors = 0;
  private seq = 0;
  private everyEnvelope: (envelope: Envelope) => void = () => {};
  private readonly byKind: KindHandlers = {};
  private admitFilter: (envelope: Envelope) => AdmitVerdict = () => 'accepted';
  private readonly replay = new ReplayFilter();

  constructor(
    private readonly transport: DatagramTransport,
    private readonly codec: FrameCodec,
    readonly identity: Identity,
  ) {
    this.drops = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
    transport.onDatagram((datagram) => this.receive(datagram));
  }

  get maxFrameBytes(): number {
    return this.codec.maxFrameBytes;
  }

  /** Received frames that passed every check of the frame (before the admit filter). */
  get framesDelivered(): number {
    return this.#framesDelivered;
  }

  /** Envelopes whose handler threw: a bug above, logged through `onHandlerError`. */
  get handlerErrors(): number {
    return this.#handlerErrors;
  }

  /** Every admitted envelope, this node's own included (listeners such as the proxy). */
  onEnvelope(handler: (envelope: Envelope) => void): void {
    this.everyEnvelope = handler;
  }

  /** Admitted envelopes of one kind from other nodes (this node's own looped-back frames only prove multicast works). */
  on<K extends Envelope['kind']>(kind: K, handler: (envelope: EnvelopeOf<K>) => void): void {
    (this.byKind as Record<K, (envelope: EnvelopeOf<K>) => void>)[kind] = handler;
  }

  /** Decides for every verified frame whether it is delivered; a refusal is counted under its reason. */
  admit(filter: (envelope: Envelope) => AdmitVerdict): void {
    this.admitFilter = filter;
  }

  /** The envelope this channel sends next. */
  private envelope<K extends Envelope['kind']>(kind: K, payload: PayloadOf<K>): Envelope {
    const { cluster, name, incarnation, startedAt } = this.identity;
    return { cluster, sender: name, incarnation, startedAt, seq: this.seq + 1, kind, payload } as Envelope;
  }

  /** Size in bytes of the frame that `send(kind, payload)` would produce. */
  measure<K extends Envelope['kind']>(kind: K, payload: PayloadOf<K>): number {
    return this.codec.measure(this.envelope(kind, payload));
  }

  /** Encodes, signs and sends. Throws EncodeError (synchronously) for an oversize message. */
  send<K extends Envelope['kind']>(kind: K, payload: PayloadOf<K>): Promise<void> {
    const frame = this.codec.encode(this.envelope(kind, payload));
    this.seq++;
    return this.transport.send(frame);
  }

  /** Counts a datagram that a layer above refused. */
  drop(reason: DropReason): void {
    this.drops[reason]++;
  }

  /** Forgets the replay window of an incarnation that has been replaced. */
  forgetIncarnation(sender: string, incarnation: string): void {
    this.replay.forget(sender, incarnation);
  }

  private receive(datagram: Buffer): void {
    let envelope: Envelope;
    try {
      envelope = this.codec.decode(datagram);
    } catch (error) {
      if (error instanceof DecodeError) {
        this.drops[error.reason]++;
        return;
      }
      throw error;
    }
    if (!this.replay.accept(envelope.sender, envelope.incarnation, envelope.seq)) {
      this.drops.replay++;
      return;
    }
    this.#framesDelivered++;
    try {
      const verdict = this.admitFilter(envelope);
      if (verdict !== 'accepted') {
        this.drops[verdict]++;
        return;
      }
      this.everyEnvelope(envelope);
      if (envelope.sender !== this.identity.name) (this.byKind[envelope.kind] as ((envelope: Envelope) => void) | undefined)?.(envelope);
    } catch (error) {
      this.#handlerErrors++;
      this.onHandlerError(error, envelope);
    }
  }
}
