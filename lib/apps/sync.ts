/**
 * ApplicationSync: carries application states between nodes over the multicast channel.
 * A change is sent to the group and acknowledged by each live member; it is sent again
 * to those that have not answered, until every one did or the deadline passed, and the
 * caller learns who applied it and who did not answer. When a member joins, every node
 * sends its whole table, so a node that starts (or comes back) learns the current states.
 */
import type { Membership } from '../membership/membership.js';
import type { ClusterChannel } from '../transport/cluster-channel.js';
import type { AppRecord, AppState, EnvelopeOf } from '../wire/messages.js';
import type { ApplicationRegistry } from './registry.js';

export interface ChangeReport {
  readonly app: AppRecord;
  /** Members that hold this version (or a newer one) now, this node included. */
  readonly applied: string[];
  /** Live members that did not answer before the deadline. */
  readonly missing: string[];
  /** From the change to the last acknowledgement (or the deadline). */
  readonly elapsedMs: number;
}

const RESEND_EVERY_MS = 200;
const CORRECT_EVERY_MS = 1_000;

export class ApplicationSync {
  private nextRequest = 1;
  private lastCorrection = -Infinity;
  private readonly waiting = new Map<number, { name: string; version: number; acked: Set<string>; wake: () => void }>();

  constructor(
    private readonly registry: ApplicationRegistry,
    private readonly channel: ClusterChannel,
    private readonly membership: Membership,
    private readonly deadlineMs = 2_000,
  ) {
    // Every node sends its table when a member joins; a node that is behind is answered by
    // whoever is ahead (see onApps), so one lost datagram does not leave it behind.
    membership.on('joined', () => this.announce());
    membership.on('restarted', () => this.announce());
    channel.on('apps', (envelope) => this.onApps(envelope));
    channel.on('apps-ack', (envelope) => this.onAck(envelope));
  }

  /** Changes the state here and on every live member. */
  async change(name: string, state: AppState): Promise<ChangeReport> {
    const started = performance.now();
    const record = this.registry.change(name, state);
    const request = this.nextRequest++;
    const acked = new Set<string>([this.channel.identity.name]);
    const entry = { name, version: record.version, acked, wake: () => {} };
    this.waiting.set(request, entry);
    const pending = (): string[] => this.membership.alive().filter((m) => !m.isSelf && !acked.has(m.name)).map((m) => m.name);
    const deadline = performance.now() + this.deadlineMs;
    try {
      // Datagrams may be lost: send again while someone has not answered.
      while (pending().length > 0 && performance.now() < deadline) {
        await this.channel.send('apps', { request, apps: [record] }).catch(() => {});
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          // Woken by each answer; the last one ends the wait at once.
          entry.wake = () => {
            if (pending().length === 0) resolve();
          };
          timer = setTimeout(resolve, Math.min(RESEND_EVERY_MS, Math.max(0, deadline - performance.now())));
        });
        clearTimeout(timer);
      }
    } finally {
      this.waiting.delete(request);
    }
    return { app: record, applied: [...acked].sort(), missing: pending().sort(), elapsedMs: Math.round((performance.now() - started) * 100) / 100 };
  }

  /** Sends this node's whole table (to a member that joined). */
  announce(): void {
    this.channel.send('apps', { request: 0, apps: this.registry.list() }).catch(() => {});
  }

  onApps(envelope: EnvelopeOf<'apps'>): void {
    const { request, apps } = envelope.payload;
    this.registry.merge(apps);
    if (request === 0) {
      // The sender holds an older state than this node (it missed a change, or an announce
      // was lost): tell it, at most once a second.
      const behind = apps.some((a) => (this.registry.get(a.name)?.version ?? 0) > a.version);
      const now = performance.now();
      if (behind && now - this.lastCorrection > CORRECT_EVERY_MS) {
        this.lastCorrection = now;
        this.announce();
      }
      return;
    }
    // What this node holds now for those applications: the sender's version, or a newer one.
    const held = apps.map((a) => this.registry.get(a.name)).filter((a): a is AppRecord => a !== undefined);
    this.channel.send('apps-ack', { request, requester: envelope.sender, apps: held }).catch(() => {});
  }

  onAck(envelope: EnvelopeOf<'apps-ack'>): void {
    const { request, requester, apps } = envelope.payload;
    // A newer state learnt from the answer (a concurrent change elsewhere) is taken too.
    this.registry.merge(apps);
    if (requester !== this.channel.identity.name) return;
    const waiting = this.waiting.get(request);
    const answer = apps.find((a) => a.name === waiting?.name);
    if (waiting && answer && answer.version >= waiting.version) {
      waiting.acked.add(envelope.sender);
      waiting.wake();
    }
  }
}
