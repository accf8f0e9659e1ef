/**
 * Who is in the cluster: heartbeats out, a member table in, and one failure detector.
 *
 *   alive --(2 heartbeats missed)--> suspect --(deadAfterMs, probe refused or timed out)--> dead
 *   suspect --(heard again)--> alive;  any --(goodbye)--> left;  new incarnation --> restarted
 *
 * A suspect whose replication port still answers the probe is alive but silent (a stalled event loop,
 * a multicast problem); it stays suspect until it speaks again, or is declared dead after
 * SILENT_LIMIT x deadAfterMs.
 */
import { isDeepStrictEqual } from 'node:util';
import { EventEmitter } from 'node:events';
import { unlistedProcessHint, type DiscoveryType, type HeartbeatSettings } from '../config/types.js';
import type { Envelope, HeartbeatPayload, MemberLoad, PublishedState } from '../wire/messages.js';
import type { AdmitVerdict, ClusterChannel } from '../transport/cluster-channel.js';
import { systemClock, type Clock, type Timer } from '../util/clock.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { tcpProbe, type Probe } from './probe.js';

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

const SILENT_LIMIT = 10;
/** Retired incarnations remembered per name, to refuse their replayed frames. */
const RETIRED_LIMIT = 16;

export interface Member {
  readonly name: string;
  readonly isSelf: boolean;
  incarnation: string;
  startedAt: number;
  state: MemberState;
  machine: string;
  host: string;
  adminPort: number;
  replicationPort: number;
  load: MemberLoad;
  published: PublishedState;
  /** Monotonic time of the last frame heard. */
  lastHeardAt: number;
  /** Wall-clock time of the last heartbeat, for display. */
  lastHeartbeatWallTime: number | undefined;
  /** Wall-clock time of the last state change. */
  stateSince: number;
}

export interface MemberEventMap {
  joined: [member: Member];
  alive: [member: Member];
  suspect: [member: Member];
  dead: [member: Member, reason: 'refused' | 'timeout' | 'silent' | 'no-probe'];
  left: [member: Member, published: PublishedState];
  restarted: [member: Member, previous: { incarnation: string; state: MemberState }];
  heartbeat: [member: Member, payload: HeartbeatPayload];
  'multicast-silent': [];
  /** Authenticated frames from a node the list does not hold (once per name): with dns discovery, time to look again. */
  unknown: [name: string];
}

export interface SelfDescription {
  readonly machine: string;
  readonly host: string;
  readonly adminPort: number;
  readonly replicationPort: number;
}

/** What the config says of a node: enough to probe it and to place backups. */
export interface MemberAddress {
  readonly host: string;
  readonly machine: string;
  readonly replicationPort: number;
}

export interface MembershipOptions {
  readonly channel: ClusterChannel;
  readonly self: SelfDescription;
  readonly heartbeat: HeartbeatSettings;
  /** Names listed in <ClusterNodes>; frames from anyone else are dropped. */
  readonly knownNodes: readonly string[];
  /** How datagrams travel (`<Discovery type>`): what a self-test failure advises. */
  readonly discovery?: DiscoveryType;
  /**
   * Where a listed node lives, from the config: a member first heard through a frame that
   * is not a heartbeat can still be probed (and is never declared dead unconfirmed).
   */
  readonly addressOf?: ((name: string) => MemberAddress | undefined) | undefined;
  /** What this node has published, for the heartbeat (filled in by messaging). */
  readonly published: () => PublishedState;
  readonly load: () => MemberLoad;
  readonly clock?: Clock;
  readonly probe?: Probe;
  readonly logger?: Logger;
}

export type Verdict = AdmitVerdict;

export class Membership extends EventEmitter<MemberEventMap> {
  readonly self: Member;
  private readonly members = new Map<string, Member>();
  private readonly retired = new Map<string, string[]>();
  private knownNodes: ReadonlySet<string>;
  private heartbeat: HeartbeatSettings;
  private readonly warnedUnknown = new Set<string>();
  private readonly probing = new Set<string>();
  private readonly clock: Clock;
  private readonly probe: Probe;
  private readonly logger: Logger;
  private heartbeatTimer: Timer | undefined;
  private checkTimer: Timer | undefined;
  private selfTestTimer: Timer | undefined;
  private heardSelf = false;
  private warnedNameClash = false;
  #heartbeatsSent = 0;
  #heartbeatsMissed = 0;
  #heartbeatSendErrors = 0;
  private readonly lastHeartbeatAt = new Map<Member, number>();

  constructor(private readonly options: MembershipOptions) {
    super();
    this.clock = options.clock ?? systemClock;
    this.probe = options.probe ?? tcpProbe;
    this.logger = options.logger ?? silentLogger;
    this.knownNodes = new Set(options.knownNodes);
    this.heartbeat = options.heartbeat;
    const { identity } = options.channel;
    this.self = {
      name: identity.name,
      isSelf: true,
      incarnation: identity.incarnation,
      startedAt: identity.startedAt,
      state: 'alive',
      ...options.self,
      // Filled in by each heartbeat; the providers may not be ready while wiring up.
      load: { elu: 0, items: 0, sessions: 0 },
      published: { seq: 0, types: [] },
      lastHeardAt: this.clock.now(),
      lastHeartbeatWallTime: undefined,
      stateSince: Date.now(),
    };
    this.members.set(this.self.name, this.self);
  }

  /** Takes a reloaded config: the nodes allowed on the wire, and heartbeat timing (timers restart). */
  reconfigure(settings: { readonly knownNodes: readonly string[]; readonly heartbeat: HeartbeatSettings }): void {
    this.knownNodes = new Set(settings.knownNodes);
    if (isDeepStrictEqual(settings.heartbeat, this.heartbeat)) return;
    this.heartbeat = settings.heartbeat;
    if (!this.heartbeatTimer) return;
    this.stopTimers();
    this.start();
  }

  /** Starts heartbeating and failure detection; sends the first heartbeat at once. */
  start(): void {
    const { intervalMs } = this.heartbeat;
    this.sendHeartbeat();
    this.heartbeatTimer = this.clock.setInterval(() => this.sendHeartbeat(), intervalMs);
    this.checkTimer = this.clock.setInterval(() => this.check(), Math.max(5, Math.floor(intervalMs / 4)));
    this.selfTestTimer = this.clock.setTimeout(() => this.selfTest(intervalMs), Math.max(1000, 5 * intervalMs));
    for (const timer of [this.heartbeatTimer, this.checkTimer, this.selfTestTimer]) timer.unref?.();
  }

  private stopTimers(): void {
    if (this.heartbeatTimer) this.clock.clearInterval(this.heartbeatTimer);
    if (this.checkTimer) this.clock.clearInterval(this.checkTimer);
    if (this.selfTestTimer) this.clock.clearTimeout(this.selfTestTimer);
    this.heartbeatTimer = this.checkTimer = this.selfTestTimer = undefined;
  }

  /** Stops timers and, when `goodbye` is set, tells the others this node is leaving. */
  async stop(goodbye: boolean): Promise<void> {
    this.stopTimers();
    if (goodbye) {
      // Sent twice: one lost goodbye would leave the others waiting for the dead timeout.
      const published = this.options.published();
      await Promise.allSettled([this.options.channel.send('goodbye', { published }), this.options.channel.send('goodbye', { published })]);
    }
  }

  get heartbeatSettings(): HeartbeatSettings {
    return this.heartbeat;
  }

  /** Milliseconds since anything was heard from `name` (0 for this node or a name never heard). */
  silentFor(name: string): number {
    const member = this.members.get(name);
    return member && !member.isSelf ? Math.max(0, this.clock.now() - member.lastHeardAt) : 0;
  }

  get heartbeatsSent(): number {
    return this.#heartbeatsSent;
  }

  /** Heartbeats of other members that never arrived (from the gaps between those that did). */
  get heartbeatsMissed(): number {
    return this.#heartbeatsMissed;
  }

  get heartbeatSendErrors(): number {
    return this.#heartbeatSendErrors;
  }

  get multicastVerified(): boolean {
    return this.heardSelf;
  }

  list(): Member[] {
    return [...this.members.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): Member | undefined {
    return this.members.get(name);
  }

  alive(): Member[] {
    return this.list().filter((m) => m.state === 'alive' || m.state === 'suspect');
  }

  /**
   * Takes note of a verified frame; the caller acts on it only if it is accepted.
   * Any frame proves its sender alive; heartbeats also refresh what we know of it.
   */
  observe(envelope: Envelope): Verdict {
    const { sender, incarnation } = envelope;
    if (sender === this.self.name) {
      if (incarnation === this.self.incarnation) {
        this.heardSelf = true;
        return 'accepted';
      }
      if (!this.warnedNameClash) {
        this.warnedNameClash = true;
        this.logger.error({ node: sender, incarnation }, 'another process is running with this node name; its frames are ignored');
      }
      return 'name-clash';
    }
    if (!this.knownNodes.has(sender)) {
      if (!this.warnedUnknown.has(sender)) {
        this.warnedUnknown.add(sender);
        this.logger.warn({ node: sender, hint: unlistedProcessHint([...this.knownNodes], sender) }, 'ignoring frames from a node that the node list does not hold (<ClusterNodes>, or the DNS answer)');
        this.emit('unknown', sender);
      }
      return 'unknown-member';
    }
    let member = this.members.get(sender);
    if (member && member.incarnation !== incarnation) {
      if (this.retired.get(sender)?.includes(incarnation)) return 'stale-incarnation';
      const currentLives = member.state === 'alive' || member.state === 'suspect';
      // An older incarnation speaking while the current one lives is a replay or a twin.
      if (currentLives && envelope.startedAt < member.startedAt) return 'stale-incarnation';
      this.retire(member);
      const previous = { incarnation: member.incarnation, state: member.state };
      member.incarnation = incarnation;
      member.startedAt = envelope.startedAt;
      member.published = { seq: 0, types: [] };
      this.setState(member, 'alive');
      this.touch(member, envelope);
      this.emit('restarted', member, previous);
      return 'accepted';
    }
    if (!member) {
      member = this.newMember(envelope);
      this.members.set(sender, member);
      this.touch(member, envelope);
      this.emit('joined', member);
      return 'accepted';
    }
    const before = member.state;
    this.touch(member, envelope);
    if (envelope.kind === 'goodbye') {
      member.published = envelope.payload.published;
      if (before !== 'left') {
        this.setState(member, 'left');
        this.emit('left', member, envelope.payload.published);
      }
    } else if (before !== 'alive') {
      this.setState(member, 'alive');
      this.emit(before === 'suspect' ? 'alive' : 'joined', member);
    }
    return 'accepted';
  }

  private newMember(envelope: Envelope): Member {
    const known = this.options.addressOf?.(envelope.sender);
    return {
      name: envelope.sender,
      isSelf: false,
      incarnation: envelope.incarnation,
      startedAt: envelope.startedAt,
      state: 'alive',
      machine: known?.machine ?? '',
      host: known?.host ?? '',
      adminPort: 0,
      replicationPort: known?.replicationPort ?? 0,
      load: { elu: 0, items: 0, sessions: 0 },
      published: { seq: 0, types: [] },
      lastHeardAt: this.clock.now(),
      lastHeartbeatWallTime: undefined,
      stateSince: Date.now(),
    };
  }

  private touch(member: Member, envelope: Envelope): void {
    const now = this.clock.now();
    member.lastHeardAt = now;
    if (envelope.kind !== 'heartbeat') return;
    const previous = this.lastHeartbeatAt.get(member);
    if (previous !== undefined) this.#heartbeatsMissed += Math.max(0, Math.round((now - previous) / this.heartbeat.intervalMs) - 1);
    this.lastHeartbeatAt.set(member, now);
    const p = envelope.payload;
    member.machine = p.machine;
    member.host = p.host;
    member.adminPort = p.adminPort;
    member.replicationPort = p.replicationPort;
    member.load = p.load;
    member.published = p.published;
    member.lastHeartbeatWallTime = Date.now();
    this.emit('heartbeat', member, p);
  }

  private retire(member: Member): void {
    this.lastHeartbeatAt.delete(member);
    const list = this.retired.get(member.name) ?? [];
    list.push(member.incarnation);
    if (list.length > RETIRED_LIMIT) list.shift();
    this.retired.set(member.name, list);
    this.options.channel.forgetIncarnation(member.name, member.incarnation);
  }

  private setState(member: Member, state: MemberState): void {
    member.state = state;
    member.stateSince = Date.now();
  }

  private sendHeartbeat(): void {
    const self = this.self;
    self.load = this.options.load();
    self.published = this.options.published();
    self.lastHeartbeatWallTime = Date.now();
    const payload: HeartbeatPayload = {
      machine: self.machine,
      host: self.host,
      adminPort: self.adminPort,
      replicationPort: self.replicationPort,
      load: self.load,
      published: self.published,
    };
    this.options.channel.send('heartbeat', payload).then(
      () => this.#heartbeatsSent++,
      () => this.#heartbeatSendErrors++,
    );
  }

  /** One pass of the failure detector. */
  private check(): void {
    const now = this.clock.now();
    const { intervalMs, deadAfterMs } = this.heartbeat;
    for (const member of this.members.values()) {
      if (member.isSelf) continue;
      const silentFor = now - member.lastHeardAt;
      if (member.state === 'alive' && silentFor > 2 * intervalMs) {
        this.setState(member, 'suspect');
        this.emit('suspect', member);
      }
      if (member.state !== 'suspect' || silentFor < deadAfterMs) continue;
      if (silentFor >= SILENT_LIMIT * deadAfterMs) {
        this.declareDead(member, 'silent');
      } else if (member.replicationPort === 0 || member.host === '') {
        this.declareDead(member, 'no-probe');
      } else if (!this.probing.has(member.name)) {
        this.probeSuspect(member, Math.max(10, Math.floor(intervalMs / 2)));
      }
    }
  }

  private probeSuspect(member: Member, timeoutMs: number): void {
    const { name, incarnation } = member;
    this.probing.add(name);
    // The replication port: owned by the node itself and open whenever it is clustered,
    // whether or not its admin API runs.
    this.probe(member.host, member.replicationPort, timeoutMs).then((result) => {
      this.probing.delete(name);
      // The member may have spoken, left or restarted while the probe was out.
      if (member.state !== 'suspect' || member.incarnation !== incarnation) return;
      if (result !== 'answered') this.declareDead(member, result);
    });
  }

  private declareDead(member: Member, reason: 'refused' | 'timeout' | 'silent' | 'no-probe'): void {
    this.setState(member, 'dead');
    this.logger.warn({ node: member.name, incarnation: member.incarnation, reason }, 'member declared dead');
    this.emit('dead', member, reason);
  }

  /**
   * Has this node heard its own heartbeats? If not, datagrams do not work at all. If it has,
   * but none of the others in a while, multicast may work on this host only: said once.
   */
  private selfTest(intervalMs: number): void {
    const multicast = (this.options.discovery ?? 'multicast') === 'multicast';
    if (this.heardSelf) {
      if (multicast && this.knownNodes.size > 1) (this.selfTestTimer = this.clock.setTimeout(() => this.othersHeard(), Math.max(4000, 20 * intervalMs))).unref?.();
      return;
    }
    const advice = {
      multicast: 'MULTICAST IS NOT WORKING: this node has not heard its own heartbeats; check <MulticastInterface>, firewall rules and the multicast route, or, where multicast cannot work (most cloud networks and containers), use <Discovery type="static"> or type="dns"',
      pubsub: 'DATAGRAMS ARE NOT ARRIVING: this node has not heard its own heartbeats, published through the store; check <Store url> and that the store is up',
      unicast: 'DATAGRAMS ARE NOT ARRIVING: this node has not heard its own heartbeats, sent by UDP to its host and replicationPort; check its host in <ClusterNodes> and that the UDP port is open',
    }[multicast ? 'multicast' : this.options.discovery === 'pubsub' ? 'pubsub' : 'unicast'];
    this.logger.error({ node: this.self.name, heartbeatsSent: this.heartbeatsSent, framesDelivered: this.options.channel.framesDelivered }, advice);
    this.emit('multicast-silent');
  }

  private othersHeard(): void {
    if ([...this.members.values()].some((m) => !m.isSelf)) return;
    this.logger.warn(
      { node: this.self.name, listed: this.knownNodes.size - 1 },
      'none of the other nodes listed has been heard, though this node hears itself: if they are running, multicast does not reach between their hosts (cloud networks and most container networks do not carry it); use <Discovery type="static"> (or type="dns")',
    );
  }
}
