/**
 * "Who holds session S?" over multicast, for a request that arrives with no usable route
 * hint (a load balancer that ignores cookies). Every live member answers with what it
 * holds; the asker waits for all of them, or for a short deadline.
 */
import type { Membership } from '../membership/membership.js';
import type { ClusterChannel } from '../transport/cluster-channel.js';
import type { EnvelopeOf, LocatedPayload } from '../wire/messages.js';

export interface LocateAnswer {
  readonly node: string;
  readonly role: LocatedPayload['role'];
  readonly version: number;
}

export interface Holdings {
  roleOf(id: string): LocatedPayload['role'];
  versionOf(id: string): number;
}

export class Locator {
  private nextRequest = 1;
  private readonly waiting = new Map<number, { answers: LocateAnswer[]; done: () => void; expected: Set<string> }>();

  constructor(
    private readonly channel: ClusterChannel,
    private readonly membership: Membership,
    private readonly holdings: Holdings,
    private readonly deadlineMs = 250,
  ) {
    channel.on('locate', (envelope) => this.onLocate(envelope));
    channel.on('located', (envelope) => this.onLocated(envelope));
  }

  async locate(session: string): Promise<LocateAnswer[]> {
    const request = this.nextRequest++;
    const expected = new Set(this.membership.alive().filter((m) => !m.isSelf).map((m) => m.name));
    if (expected.size === 0) return [];
    const answers: LocateAnswer[] = [];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => done(), this.deadlineMs);
      const done = (): void => {
        clearTimeout(timer);
        this.waiting.delete(request);
        resolve();
      };
      this.waiting.set(request, { answers, done, expected });
      this.channel.send('locate', { request, session }).catch(() => done());
    });
    return answers;
  }

  /** Another node asks: answer with what this node holds. */
  onLocate(envelope: EnvelopeOf<'locate'>): void {
    const { request, session } = envelope.payload;
    const role = this.holdings.roleOf(session);
    const answer: LocatedPayload = { request, requester: envelope.sender, session, role, version: role === 'primary' || role === 'backup' ? this.holdings.versionOf(session) : 0 };
    this.channel.send('located', answer).catch(() => {});
  }

  /** An answer, to us or to another asker. */
  onLocated(envelope: EnvelopeOf<'located'>): void {
    const { request, requester, role, version } = envelope.payload;
    if (requester !== this.channel.identity.name) return;
    const waiting = this.waiting.get(request);
    if (!waiting) return;
    waiting.answers.push({ node: envelope.sender, role, version });
    waiting.expected.delete(envelope.sender);
    if (waiting.expected.size === 0) waiting.done();
  }
}
