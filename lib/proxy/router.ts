/**
 * Which nodes a request should go to, best first. The proxy tries them in order while a
 * connection cannot be opened (so the request never reached a node).
 *
 * sticky: a request whose route cookie names a live primary (of the same incarnation: a
 *   restarted primary lost its memory) goes there; else to the cookie's backup, which
 *   holds a copy; else to the least-loaded live node, which locates the session. A primary
 *   that is only suspect (heartbeats missing: perhaps stalled) comes after its backup, which
 *   takes the session over if the primary does not answer it either; so does a primary whose
 *   `/readyz` says it is not ready (the backup fetches the session from it). A request without a
 *   cookie starts a session: least-loaded live node, round-robin among equals. Suspect
 *   nodes come after the live ones, then nodes never heard from, then those known down.
 * dumb: a random live node for every request, as a balancer that ignores cookies would;
 *   the nodes then fetch and locate sessions themselves.
 */
import type { RouteHint } from '../replication/route-hint.js';
import type { MemberWatch, WatchedMember } from './member-watch.js';

export const PROXY_MODES = ['sticky', 'dumb'] as const;
export type ProxyMode = (typeof PROXY_MODES)[number];

export interface RouteChoice {
  /** Node names, best first; every listed node appears once. */
  readonly order: readonly string[];
  /** Why the first was chosen, for logs and stats. */
  readonly reason: 'primary' | 'backup' | 'new-session' | 'relocate' | 'random';
}

export class Router {
  private turn = 0;

  constructor(
    private readonly members: MemberWatch,
    private readonly mode: ProxyMode,
    private readonly random: () => number = Math.random,
  ) {}

  choose(hint: RouteHint | undefined): RouteChoice {
    const now = performance.now();
    const live: WatchedMember[] = [];
    // Silent for a while, never heard from (the proxy just started), then known down: tried only after the live ones.
    const suspect: string[] = [];
    const unknown: string[] = [];
    const down: string[] = [];
    const states = new Map<string, string>();
    for (const member of this.members.members.values()) {
      const state = this.members.stateOf(member.node.name, now);
      states.set(member.node.name, state);
      if (state === 'alive') live.push(member);
      else (state === 'suspect' || state === 'not-ready' ? suspect : state === 'unknown' ? unknown : down).push(member.node.name);
    }

    if (this.mode === 'dumb') {
      return { order: [...this.shuffled(live.map((m) => m.node.name)), ...suspect, ...unknown, ...down], reason: 'random' };
    }
    const preferred: string[] = [];
    let reason: RouteChoice['reason'] = hint ? 'relocate' : 'new-session';
    const usable = (name: string | undefined): name is string => name !== undefined && states.has(name) && states.get(name) !== 'down';
    const primary = usable(hint?.primary) && this.sameIncarnation(hint!) ? hint!.primary : undefined;
    const backup = usable(hint?.backup) && hint!.backup !== primary ? hint!.backup : undefined;
    if (primary && states.get(primary) !== 'suspect' && states.get(primary) !== 'not-ready') {
      preferred.push(primary);
      reason = 'primary';
    }
    if (backup) {
      preferred.push(backup);
      if (reason !== 'primary') reason = 'backup';
    }
    // A suspect primary after its backup: the backup asks it, and takes over if it does not answer.
    if (primary && !preferred.includes(primary)) {
      preferred.push(primary);
      if (reason !== 'backup') reason = 'primary';
    }
    const rest = this.leastLoaded(live.filter((m) => !preferred.includes(m.node.name)));
    // Without heartbeats (a balancer in front of apps that are not castmirror nodes), unknown nodes take turns.
    const last = [...suspect, ...this.rotated(unknown), ...down].filter((n) => !preferred.includes(n));
    return { order: [...preferred, ...rest, ...last], reason };
  }

  /** A restarted primary has a new incarnation and none of its old sessions. */
  private sameIncarnation(hint: RouteHint): boolean {
    const current = this.members.incarnationOf(hint.primary!);
    return !hint.primaryIncarnation || !current || current === hint.primaryIncarnation;
  }

  /** Least loaded first; among equals, the order rotates from request to request. */
  private leastLoaded(members: WatchedMember[]): string[] {
    // Array.prototype.sort is stable: equals keep their rotated order.
    return this.rotated(members)
      .sort((a, b) => this.members.loadOf(a) - this.members.loadOf(b))
      .map((m) => m.node.name);
  }

  private rotated<T>(items: T[]): T[] {
    if (items.length < 2) return items;
    const start = this.turn++ % items.length;
    return [...items.slice(start), ...items.slice(0, start)];
  }

  private shuffled(names: string[]): string[] {
    for (let i = names.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [names[i], names[j]] = [names[j]!, names[i]!];
    }
    return names;
  }
}
