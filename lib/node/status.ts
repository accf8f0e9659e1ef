/**
 * What a node reports about itself (`GET /status`, `castmirror status`, the admin page):
 * the shapes, and the projection of a membership table into them.
 */
import type { NodeEntry, StoreMode } from '../config/types.js';
import type { Incarnation } from './incarnation.js';
import type { Member } from '../membership/membership.js';
import type { LinkStats } from '../replication/link.js';
import type { RouteTokenStats } from '../replication/route-token.js';
import type { SessionStats } from '../replication/stats.js';
import type { VaultStats } from '../replication/vault.js';
import type { DropReason } from '../transport/cluster-channel.js';
import type { AppState, MemberLoad } from '../wire/messages.js';

/** What a config reload did on one node. */
export interface ReloadReport {
  readonly node: string;
  readonly applied: string[];
  readonly needsRestart: string[];
}

/** One application as this node sees it. */
export interface ApplicationStatus {
  readonly name: string;
  /** The state the cluster agreed on. */
  readonly state: AppState;
  /** On this node: a draining application with no session left here is disabled. */
  readonly effective: AppState;
  /** Live primary sessions on this node that use it. */
  readonly sessions: number;
  readonly version: number;
  readonly origin: string;
}

export interface MemberStatus {
  readonly name: string;
  readonly self: boolean;
  readonly state: Member['state'];
  readonly incarnation: string;
  readonly startedAt: string;
  readonly machine: string;
  readonly host: string;
  /** Where its admin API listens; 0 when it runs none. */
  readonly adminPort: number;
  /** ISO time of the last heartbeat heard (for this node: sent), if any. */
  readonly lastHeartbeat: string | null;
  readonly msSinceHeard: number;
  readonly stateSince: string;
  readonly load: MemberLoad;
}

export interface NodeStatus {
  readonly node: string;
  readonly cluster: string;
  readonly clustered: boolean;
  readonly incarnation: string;
  readonly startedAt: string;
  readonly uptimeMs: number;
  /** False until this node hears its own heartbeat: multicast is not proven to work. */
  readonly multicastVerified: boolean;
  readonly members: readonly MemberStatus[];
  readonly dropped: Readonly<Record<DropReason, number>> | null;
  readonly sessions: SessionStats & { readonly mode: string; readonly backlogBytes: number };
  readonly replication: LinkStats | null;
  /** The shared store (`<Store>`): its state, backlog and counters; null without one. */
  readonly store: (VaultStats & { readonly mode: StoreMode }) | null;
  /** Route cookies read by the HTTP edge: valid, and forged or malformed (ignored). */
  readonly routeCookies: RouteTokenStats;
  readonly applications: readonly ApplicationStatus[];
  /** True while the node hands its sessions over before leaving (drain, or a graceful close). */
  readonly leaving: boolean;
}

/** A member as status reports it; `now` is the monotonic clock the membership uses. */
export function memberStatus(m: Member, now: number): MemberStatus {
  return {
    name: m.name,
    self: m.isSelf,
    state: m.state,
    incarnation: m.incarnation,
    startedAt: new Date(m.startedAt).toISOString(),
    machine: m.machine,
    host: m.host,
    adminPort: m.adminPort,
    lastHeartbeat: m.lastHeartbeatWallTime === undefined ? null : new Date(m.lastHeartbeatWallTime).toISOString(),
    msSinceHeard: m.isSelf ? 0 : Math.round(now - m.lastHeardAt),
    stateSince: new Date(m.stateSince).toISOString(),
    load: m.load,
  };
}

/** A standalone node's member table: itself, alive (a cluster of one). */
export function standaloneMember(node: NodeEntry, incarnation: Incarnation, adminPort: number, load: MemberLoad): Member {
  return {
    name: node.name,
    isSelf: true,
    incarnation: incarnation.id,
    startedAt: incarnation.startedAt,
    state: 'alive',
    machine: node.machine,
    host: node.host,
    adminPort,
    replicationPort: node.replicationPort,
    load,
    published: { seq: 0, types: [] },
    lastHeardAt: performance.now(),
    lastHeartbeatWallTime: undefined,
    stateSince: incarnation.startedAt,
  };
}
