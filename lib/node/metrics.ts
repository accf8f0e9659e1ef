/**
 * The node's metric families, read from its components at scrape time. Names follow the
 * Prometheus conventions: `castmirror_` prefix, `_total` for counters, base units.
 */
import type { ObjectCacheStats } from '../cache/object-cache.js';
import type { Membership } from '../membership/membership.js';
import type { InvalidationBus } from '../messaging/invalidation-bus.js';
import type { MetricFamily } from '../metrics/prometheus.js';
import type { Histogram } from '../metrics/histogram.js';
import type { MirrorLatency } from '../replication/stats.js';
import type { ClusterChannel } from '../transport/cluster-channel.js';
import type { MulticastChannel } from '../transport/multicast.js';
import type { NodeStatus } from './status.js';

const MEMBER_STATES = ['alive', 'suspect', 'dead', 'left'] as const;

/** What the metrics are read from: plain figures and the few components that keep their own. */
export interface MetricSources {
  readonly status: NodeStatus;
  readonly caches: readonly ObjectCacheStats[];
  readonly latency: MirrorLatency;
  /** Absent on a standalone node. */
  readonly membership?: Pick<Membership, 'list' | 'heartbeatsSent' | 'heartbeatsMissed' | 'multicastVerified'> | undefined;
  readonly bus?: Pick<InvalidationBus, 'stats' | 'isCoherent'> | undefined;
  readonly channel?: Pick<ClusterChannel, 'drops' | 'framesDelivered'> | undefined;
  readonly transport?: Pick<MulticastChannel, 'stats' | 'queueDepth'> | undefined;
}

export function collectMetrics(sources: MetricSources): MetricFamily[] {
  const families: MetricFamily[] = [];
  const counter = (name: string, help: string, samples: MetricFamily['samples']): void => {
    families.push({ name, help, type: 'counter', samples });
  };
  const gauge = (name: string, help: string, samples: MetricFamily['samples']): void => {
    families.push({ name, help, type: 'gauge', samples });
  };
  const histogram = (name: string, help: string, value: Histogram): void => {
    families.push({ name, help, type: 'histogram', samples: [], histograms: [{ histogram: value }] });
  };

  const { status, membership, bus, channel, transport } = sources;
  gauge('castmirror_up_seconds', 'Seconds since this node started.', [{ value: status.uptimeMs / 1000 }]);

  const caches = sources.caches;
  const perType = (pick: (s: (typeof caches)[number]) => number) => caches.map((s) => ({ labels: { type: s.type }, value: pick(s) }));
  gauge('castmirror_cache_entries', 'Entries held, per cache type.', perType((s) => s.size));
  gauge('castmirror_cache_capacity', 'Capacity on this node, per cache type.', perType((s) => s.capacity));
  counter('castmirror_cache_hits_total', 'Cache hits.', perType((s) => s.hits));
  counter('castmirror_cache_misses_total', 'Cache misses.', perType((s) => s.misses));
  counter('castmirror_cache_loads_total', 'Loader calls.', perType((s) => s.loads));
  counter('castmirror_cache_load_errors_total', 'Loader calls that failed.', perType((s) => s.loadErrors));
  counter('castmirror_cache_evictions_total', 'Entries evicted for capacity.', perType((s) => s.evictions));
  counter('castmirror_cache_expirations_total', 'Entries expired by TTL.', perType((s) => s.expirations));
  counter('castmirror_invalidations_sent_total', 'Keys invalidated by this node.', perType((s) => s.invalidationsSent));
  counter('castmirror_invalidations_received_total', 'Keys invalidated by other nodes and applied here.', perType((s) => s.invalidationsReceived));
  counter('castmirror_cache_clears_sent_total', 'Cluster-wide clears started here.', perType((s) => s.clearsSent));
  counter('castmirror_cache_clears_received_total', 'Cluster-wide clears received.', perType((s) => s.clearsReceived));
  counter('castmirror_gap_clears_total', 'Cache clears forced by a possibly lost invalidation.', perType((s) => s.gapClears));
  counter('castmirror_cache_lease_misses_total', 'Reads of a held key sent to the source while the invalidation lease had lapsed.', perType((s) => s.leaseMisses));

  const sessions = status.sessions;
  gauge('castmirror_sessions', 'Sessions held, by role.', [
    { labels: { role: 'primary' }, value: sessions.primaries },
    { labels: { role: 'backup' }, value: sessions.backups },
  ]);
  gauge('castmirror_sessions_unmirrored', 'Primary sessions whose latest change is on no backup.', [{ value: sessions.unmirrored }]);
  gauge('castmirror_mirror_in_flight', 'Mirror requests sent and not yet acknowledged.', [{ value: sessions.inFlight }]);
  gauge('castmirror_mirror_queue_bytes', 'Bytes queued on replication links, not yet written to the socket.', [{ value: sessions.backlogBytes }]);
  histogram('castmirror_mirror_ack_seconds', 'From sending a mirror request to its acknowledgement.', sources.latency.ack);
  histogram('castmirror_sync_commit_seconds', 'sync mode: from a commit to its acknowledgement by the backup (what a request waits for).', sources.latency.syncCommit);
  gauge('castmirror_mirror_last_ack_lag_seconds', 'Time from sending the last acknowledged mirror to its ack.', [{ value: sessions.lastAckLagMs / 1000 }]);
  counter('castmirror_session_outcomes_total', 'Requests by how their session was found.', [
    { labels: { outcome: 'created' }, value: sessions.created },
    { labels: { outcome: 'served' }, value: sessions.served },
    { labels: { outcome: 'took-over' }, value: sessions.takeovers },
    { labels: { outcome: 'fetched' }, value: sessions.fetches },
    { labels: { outcome: 'restored' }, value: sessions.restores },
    { labels: { outcome: 'expired' }, value: sessions.expired },
    { labels: { outcome: 'lost' }, value: sessions.lost },
  ]);
  gauge(
    'castmirror_application_enabled',
    'Applications: 1 enabled, 0.5 draining (graceful disable), 0 disabled, as agreed by the cluster.',
    status.applications.map((a) => ({ labels: { application: a.name }, value: a.state === 'enabled' ? 1 : a.state === 'draining' ? 0.5 : 0 })),
  );
  gauge('castmirror_application_sessions', 'Live primary sessions on this node that use each application.', status.applications.map((a) => ({ labels: { application: a.name }, value: a.sessions })));
  counter('castmirror_sessions_discarded_total', 'New sessions a request left empty, not kept (no cookie, no mirror).', [{ value: sessions.discarded }]);
  counter('castmirror_route_cookies_total', 'Route cookies read by the HTTP middleware; forged or malformed ones are ignored.', [
    { labels: { result: 'valid' }, value: status.routeCookies.valid },
    { labels: { result: 'forged' }, value: status.routeCookies.forged },
  ]);
  counter('castmirror_session_locates_total', 'Multicast "who holds session S?" queries sent.', [{ value: sessions.locates }]);
  counter('castmirror_session_conflicts_total', 'Two primaries of one session settled.', [{ value: sessions.conflicts }]);
  counter('castmirror_mirrors_sent_total', 'Mirror requests sent (deltas and full copies).', [{ value: sessions.mirrorsSent }]);
  counter('castmirror_mirror_acks_total', 'Mirror requests acknowledged by a backup.', [{ value: sessions.acks }]);
  counter('castmirror_mirror_resyncs_total', 'Deltas refused for a version gap, answered with a full copy.', [{ value: sessions.resyncs }]);
  counter('castmirror_mirror_full_copies_total', 'Full session copies sent.', [{ value: sessions.fullCopies }]);
  counter('castmirror_session_touches_total', 'Touches sent to keep backup copies alive.', [{ value: sessions.touches }]);
  counter('castmirror_mirror_releases_total', 'Superseded backup copies released after the session got another backup.', [{ value: sessions.releases }]);
  counter('castmirror_anti_entropy_rounds_total', 'Anti-entropy rounds: each backup compared with the primary sessions it should hold.', [{ value: sessions.audits }]);
  counter('castmirror_anti_entropy_repairs_total', 'Copies found drifted by anti-entropy and sent whole again.', [{ value: sessions.auditRepairs }]);
  counter('castmirror_anti_entropy_released_total', 'Superseded copies found by anti-entropy and released.', [{ value: sessions.auditReleased }]);
  counter('castmirror_sync_commits_unmirrored_total', 'sync commits no backup holds (no other node could take them): accepted and reported, or refused, as <Replication noBackup> says.', [{ value: sessions.unmirroredCommits }]);
  counter('castmirror_sessions_orphans_promoted_total', 'Copies promoted here, without a request, because their primary died or restarted.', [{ value: sessions.orphansPromoted }]);
  const replication = status.replication;
  if (replication) {
    counter('castmirror_replication_refused_total', 'Replication connections refused, by reason.', [
      { labels: { reason: 'handshake' }, value: replication.handshakeFailures },
      { labels: { reason: 'malformed' }, value: replication.malformedFrames },
    ]);
  }

  if (membership) {
    const members = membership.list().filter((m) => !m.isSelf);
    gauge(
      'castmirror_members',
      'Other members by state.',
      MEMBER_STATES.map((state) => ({ labels: { state }, value: members.filter((m) => m.state === state).length })),
    );
    counter('castmirror_heartbeats_sent_total', 'Heartbeats sent.', [{ value: membership.heartbeatsSent }]);
    counter('castmirror_heartbeats_missed_total', "Other members' heartbeats that never arrived (gaps between those that did).", [{ value: membership.heartbeatsMissed }]);
    gauge('castmirror_multicast_verified', '1 once this node has heard its own heartbeat.', [{ value: membership.multicastVerified ? 1 : 0 }]);
  }
  if (bus) {
    const b = bus.stats;
    counter('castmirror_invalidation_datagrams_sent_total', 'Invalidation datagrams sent (after coalescing).', [{ value: b.datagramsSent }]);
    counter('castmirror_invalidation_datagrams_received_total', 'Invalidation datagrams received (first copies, retransmitted ones included).', [{ value: b.datagramsReceived }]);
    counter('castmirror_invalidation_datagrams_missed_total', 'Invalidation datagrams announced before they were received.', [{ value: b.datagramsMissed }]);
    counter('castmirror_invalidation_datagrams_recovered_total', 'Missing invalidation datagrams that arrived retransmitted.', [{ value: b.datagramsRecovered }]);
    counter('castmirror_invalidation_repairs_total', 'Cache types a loss touched that retransmission repaired (clears avoided).', [{ value: b.repairs }]);
    counter('castmirror_invalidation_naks_sent_total', 'Requests to other nodes to send lost datagrams again.', [{ value: b.naksSent }]);
    counter('castmirror_invalidation_probes_sent_total', 'Requests to other nodes for their state, when a heartbeat was late.', [{ value: b.probesSent }]);
    counter('castmirror_invalidation_retransmits_total', 'Datagrams sent again because another node asked, and asked-for ones no longer kept.', [
      { labels: { outcome: 'sent' }, value: b.retransmitsSent },
      { labels: { outcome: 'unavailable' }, value: b.retransmitsUnavailable },
    ]);
    counter('castmirror_invalidation_lease_lapses_total', "Times a member's invalidations stayed unconfirmed past the lease (cached reads went to the source).", [{ value: b.leaseLapses }]);
    gauge('castmirror_invalidation_coherent', '1 while every member is confirmed within the lease (cached values may be served).', [{ value: bus.isCoherent() ? 1 : 0 }]);
    counter(
      'castmirror_loss_clears_total',
      'Clears forced by possible loss, by reason (each may clear several types).',
      Object.entries(b.clearsByReason).map(([reason, value]) => ({ labels: { reason }, value })),
    );
  }
  if (channel) {
    counter(
      'castmirror_frames_dropped_total',
      'Received frames dropped, by reason.',
      Object.entries(channel.drops).map(([reason, value]) => ({ labels: { reason }, value })),
    );
    counter('castmirror_frames_delivered_total', 'Received frames that passed every check.', [{ value: channel.framesDelivered }]);
  }
  if (transport) {
    const t = transport.stats;
    counter('castmirror_datagrams_sent_total', 'Datagrams sent (to the multicast group, to each member, or through the store, as <Discovery> says).', [{ value: t.datagramsSent }]);
    counter('castmirror_datagrams_received_total', 'Datagrams received, whatever carried them.', [{ value: t.datagramsReceived }]);
    // Per channel: the datagrams (labelled `multicast`, whatever carries them, so that dashboards keep working) and the replication links (TCP).
    const links = status.replication;
    counter('castmirror_bytes_sent_total', 'Bytes sent, by channel.', [
      { labels: { channel: 'multicast' }, value: t.bytesSent },
      ...(links ? [{ labels: { channel: 'replication' }, value: links.bytesSent }] : []),
    ]);
    counter('castmirror_bytes_received_total', 'Bytes received, by channel.', [
      { labels: { channel: 'multicast' }, value: t.bytesReceived },
      ...(links ? [{ labels: { channel: 'replication' }, value: links.bytesReceived }] : []),
    ]);
    counter('castmirror_datagrams_dropped_total', 'Datagrams dropped before decoding, by reason.', [
      { labels: { reason: 'queue-full' }, value: t.droppedQueueFull },
      { labels: { reason: 'injected' }, value: t.droppedInjected },
    ]);
    counter('castmirror_send_errors_total', 'Datagram sends that failed.', [{ value: t.sendErrors }]);
    gauge('castmirror_receive_queue_depth', 'Datagrams waiting to be handled.', [{ value: transport.queueDepth }]);
  }
  const store = status.store;
  if (store) {
    gauge('castmirror_store_up', 'The shared store (<Store>): 1 connected, 0 down or connecting.', [{ value: store.state === 'up' ? 1 : 0 }]);
    gauge('castmirror_store_backlog', 'Session changes waiting for the store (one per session).', [{ value: store.backlog }]);
    gauge('castmirror_store_last_flush_lag_seconds', 'How long the oldest change of the last batch waited for the store.', [{ value: store.lastFlushLagMs / 1000 }]);
    counter('castmirror_store_commands_total', 'Commands the store took, by kind.', [
      { labels: { kind: 'write' }, value: store.writes },
      { labels: { kind: 'delete' }, value: store.deletes },
      { labels: { kind: 'touch' }, value: store.touches },
    ]);
    counter('castmirror_store_failures_total', 'Commands the store did not take (their changes waited in the backlog).', [{ value: store.failures }]);
    counter('castmirror_store_backlog_dropped_total', 'Changes dropped because the backlog was full (those sessions reach the store at their next commit).', [{ value: store.backlogDropped }]);
    counter('castmirror_store_loads_total', 'Loads of sessions no node held, by result.', [
      { labels: { result: 'restored' }, value: store.loadHits },
      { labels: { result: 'missing' }, value: store.loads - store.loadHits - store.loadFailures },
      { labels: { result: 'failed' }, value: store.loadFailures },
    ]);
    counter('castmirror_session_invalidations_total', 'pubsub discovery: session invalidations published after the store took a write, and received from other nodes.', [
      { labels: { direction: 'sent' }, value: sessions.sessionInvalidationsSent },
      { labels: { direction: 'received' }, value: sessions.sessionInvalidationsReceived },
    ]);
    counter('castmirror_session_stale_total', 'pubsub discovery: copies held here found stale, by what became of them.', [
      { labels: { result: 'reread' }, value: sessions.staleRereads },
      { labels: { result: 'served-unverified' }, value: sessions.staleServedUnverified },
    ]);
    counter('castmirror_session_stale_all_total', 'pubsub discovery: times every copy held here was marked stale (a loss, a member lost, a stall).', [{ value: sessions.staleMarkAll }]);
  }
  return families;
}
