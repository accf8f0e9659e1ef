/**
 * Datagram loss across hosts: three nodes, one per network namespace; random loss of the
 * multicast datagrams arriving at every host (nftables `numgen random`, heartbeats, NAKs
 * and retransmissions included) at 0%, 5%, 20% and 40%. node-a writes a shared "database"
 * and invalidates, first at a sustained rate, then in bursts separated by quiet gaps (where
 * a lost last invalidation is found only by heartbeats, which may be lost too); node-b and
 * node-c read through `getOrLoad`. A read is stale when it
 * returns a version older than a write that completed more than the lease (1.25 heartbeat
 * intervals) before the read started: the bound castmirror promises. Run with retransmission
 * on and off; prints stale reads (also at the stricter one-interval window), hit ratio, gap
 * clears, repairs and lease lapses for each. Static discovery (unicast UDP to each node, loss on
 * every UDP datagram in), plain and with encrypted datagrams, and dns discovery run at 20%. Needs root for the namespaces (CI runs as root).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import type { NodeStatus } from '../lib/index.js';
import type { InvalidationBusStats } from '../lib/messaging/invalidation-bus.js';
import { killAll, NodeProcess } from './helpers/cluster.js';
import { canCreateNamespaces, DnsServer, Hosts, writeHostsConfig } from './helpers/netns.js';
import { eventually } from './helpers/wait.js';

const NAMES = ['node-a', 'node-b', 'node-c'];
const KEYS = 200;
/** Per loss level: 2 s of writes at one per millisecond, then 3 s of bursts with quiet gaps. */
const RUN_MS = 5000;
const SUSTAINED_MS = 2000;
const INTERVAL_MS = 100;
const LEASE_MS = INTERVAL_MS * 1.25;
/** Time between a datagram's arrival and its handling, allowed on a busy 2-core machine. */
const SCHEDULING_ALLOWANCE_MS = 25;
const LOSSES = [0, 5, 20, 40];

/** Multicast at every loss level with retransmission on and off; static discovery (unicast to each node), plain and encrypted, at 20%. */
const RUNS = [
  { discovery: 'multicast', retransmit: true, losses: LOSSES, xml: '' },
  { discovery: 'multicast', retransmit: false, losses: LOSSES, xml: '' },
  { discovery: 'static', retransmit: true, losses: [20], xml: '  <Discovery type="static"/>' },
  { discovery: 'static, encrypted', retransmit: true, losses: [20], xml: '  <Discovery type="static"/>\n  <Encryption links="secret" datagrams="encrypted"/>' },
  { discovery: 'dns', retransmit: true, losses: [20], xml: '' },
] as const;
type Run = (typeof RUNS)[number];
const skip = canCreateNamespaces() ? false : 'needs root to create network namespaces (CI runs as root)';

interface RunReply {
  readonly writes: number;
  readonly stats: { hits: number; misses: number; gapClears: number; leaseMisses: number };
  readonly bus: InvalidationBusStats;
}

interface Figures {
  discovery: Run['discovery'];
  retransmit: boolean;
  lossPercent: number;
  writes: number;
  reads: number;
  staleBeyondLease: number;
  staleBeyondInterval: number;
  worstStalenessMs: number;
  hitRatio: number;
  gapClears: number;
  repairs: number;
  leaseLapses: number;
  naks: number;
  falseDeaths: number;
}

/** Writes per key in version order, with the time each completed. */
function readWrites(file: string): Map<number, number[]> {
  const completedAt = new Map<number, number[]>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const [key, version, at] = line.split(' ').map(Number) as [number, number, number];
    const list = completedAt.get(key) ?? [0];
    list[version] = at; // versions of a key increase by one per write
    completedAt.set(key, list);
  }
  return completedAt;
}

/** Stale reads: the version returned is older than one whose write completed `windowMs` before the read. */
function staleness(file: string, writes: Map<number, number[]>, windowMs: number): { reads: number; stale: number; worstMs: number } {
  let reads = 0;
  let stale = 0;
  let worstMs = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const [key, version, startedAt] = line.split(' ').map(Number) as [number, number, number];
    reads++;
    const superseded = writes.get(key)?.[version + 1];
    if (superseded !== undefined && superseded < startedAt - windowMs) {
      stale++;
      worstMs = Math.max(worstMs, startedAt - superseded);
    }
  }
  return { reads, stale, worstMs };
}

async function startCluster(hosts: Hosts, dir: string, run: Run, index: number, dns: DnsServer) {
  // With dns discovery the members are the addresses the harness's DNS server gives, and each is named by its address.
  const names = run.discovery === 'dns' ? NAMES.map((_, i) => hosts.address(i)) : NAMES;
  const { configPath, secret } = writeHostsConfig(hosts, dir, {
    names,
    ...(run.discovery === 'dns' ? { dns } : {}),
    file: `server-${index}.xml`,
    heartbeat: { intervalMs: INTERVAL_MS, deadAfterMs: 5 * INTERVAL_MS },
    extraXml: `  <Messaging retransmit="${run.retransmit ? 'on' : 'off'}"/>\n  <Caches><Cache type="product" capacity="1000"/></Caches>\n${run.xml}`,
  });
  const db = path.join(dir, 'database');
  writeFileSync(db, Buffer.alloc(KEYS * 8));
  const processes = names.map((name, i) => new NodeProcess(name, configPath, { CASTMIRROR_LOAD_DB: db }, 'cache-load', [], hosts.ns(i)));
  await Promise.all(processes.map((p) => p.started()));
  const auth = { authorization: `Bearer ${secret}` };
  for (const i of NAMES.keys()) {
    await eventually(async () => (await hosts.json<NodeStatus>(`http://${hosts.address(i)}:9081/status`, { headers: auth })).members.filter((m) => m.state === 'alive').length === 3, {
      timeoutMs: 15_000,
      what: `${names[i]} to see 3 members`,
    });
  }
  return processes;
}

describe('datagram loss across hosts: no stale read beyond the lease, with and without retransmission', { skip, timeout: 240_000 }, () => {
  const cleanups: (() => void)[] = [];
  after(async () => {
    await killAll();
    for (const cleanup of cleanups.reverse()) cleanup();
  });

  test('multicast: 0%, 5%, 20% and 40% loss per hop; static discovery, plain and encrypted, and dns discovery: 20%', async (t) => {
    const hosts = Hosts.create(NAMES.length);
    cleanups.push(() => hosts.cleanup());
    const dir = mkdtempSync(path.join(tmpdir(), 'castmirror-loss-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const dns = await DnsServer.start(hosts);
    cleanups.push(() => dns.stop());
    await dns.setAddresses(NAMES.map((_, i) => hosts.address(i)));
    const figures: Figures[] = [];
    for (const [index, runSettings] of RUNS.entries()) {
      const { retransmit, discovery } = runSettings;
      const datagrams = discovery === 'multicast' ? 'multicast' : 'udp';
      const processes = await startCluster(hosts, dir, runSettings, index, dns);
      for (const lossPercent of runSettings.losses) {
        for (const i of NAMES.keys()) hosts.loss(i, lossPercent, datagrams);
        const logs = NAMES.map((name) => path.join(dir, `${name}-${index}-${lossPercent}.log`));
        const run = (i: number, body: Record<string, unknown>) => hosts.json<RunReply>(`http://${hosts.address(i)}:8081/run`, { method: 'POST', body: { keys: KEYS, log: logs[i], ...body } });
        const deathsBefore = processes.map((p) => p.logs.filter((l) => l.msg === 'member declared dead').length);
        const [writer, ...readers] = await Promise.all([
          run(0, { role: 'writer', durationMs: RUN_MS, sustainedMs: SUSTAINED_MS, ratePerMs: 1, maxGapMs: 3 * INTERVAL_MS }),
          run(1, { role: 'reader', durationMs: RUN_MS + 200 }),
          run(2, { role: 'reader', durationMs: RUN_MS + 200 }),
        ]);
        const writes = readWrites(logs[0]!);
        const strict = logs.slice(1).map((log) => staleness(log, writes, INTERVAL_MS));
        const bound = logs.slice(1).map((log) => staleness(log, writes, LEASE_MS + SCHEDULING_ALLOWANCE_MS));
        const hits = readers.reduce((n, r) => n + r.stats.hits, 0);
        const lookups = readers.reduce((n, r) => n + r.stats.hits + r.stats.misses, 0);
        const sum = (pick: (bus: InvalidationBusStats) => number) => readers.reduce((n, r) => n + pick(r.bus), 0);
        figures.push({
          discovery,
          retransmit,
          lossPercent,
          writes: writer.writes,
          reads: bound.reduce((n, s) => n + s.reads, 0),
          staleBeyondLease: bound.reduce((n, s) => n + s.stale, 0),
          staleBeyondInterval: strict.reduce((n, s) => n + s.stale, 0),
          worstStalenessMs: Math.round(Math.max(...strict.map((s) => s.worstMs))),
          hitRatio: Math.round((1000 * hits) / Math.max(1, lookups)) / 1000,
          gapClears: readers.reduce((n, r) => n + r.stats.gapClears, 0),
          repairs: sum((b) => b.repairs),
          leaseLapses: sum((b) => b.leaseLapses),
          naks: sum((b) => b.naksSent),
          falseDeaths: processes.reduce((n, p, i) => n + p.logs.filter((l) => l.msg === 'member declared dead').length - deathsBefore[i]!, 0),
        });
      }
      for (const i of NAMES.keys()) hosts.loss(i, 0, datagrams);
      for (const p of processes) p.kill('SIGTERM');
      await Promise.all(processes.map((p) => p.exited));
    }
    for (const f of figures) {
      t.diagnostic(
        `${f.discovery}, retransmit ${f.retransmit ? 'on ' : 'off'} loss ${String(f.lossPercent).padStart(2)}%: ${f.writes} writes, ${f.reads} reads, stale ${f.staleBeyondLease} beyond the lease (${f.staleBeyondInterval} beyond one interval, worst ${f.worstStalenessMs} ms), hit ratio ${f.hitRatio}, gap clears ${f.gapClears}, repairs ${f.repairs}, NAKs ${f.naks}, lease lapses ${f.leaseLapses}, false deaths ${f.falseDeaths}`,
      );
    }
    process.stdout.write(`${JSON.stringify({ figure: 'loss', runs: figures })}\n`);
    for (const f of figures) {
      assert.equal(f.staleBeyondLease, 0, `stale reads at ${f.lossPercent}% loss, ${f.discovery}, retransmit ${f.retransmit}`);
      assert.equal(f.falseDeaths, 0, `no member is declared dead by loss (${f.lossPercent}%, ${f.discovery})`);
      assert.ok(f.reads > 1000, 'the readers ran');
    }
    const lossy = figures.filter((f) => f.lossPercent >= 20 && f.discovery === 'multicast');
    assert.ok(
      lossy.filter((f) => f.retransmit).every((on) => on.gapClears < lossy.find((off) => !off.retransmit && off.lossPercent === on.lossPercent)!.gapClears),
      'retransmission spares gap clears',
    );
  });
});
