/**
 * Invalidation fan-out between two processes on loopback multicast.
 *
 *   raw        baseline: bare node:dgram datagrams of one invalidation's size, sent as fast
 *              as the kernel takes them; delivered datagrams/s at the receiver
 *   coalesced  castmirror invalidations published as fast as possible; delivered
 *              invalidations/s at the receiver (coalescing packs many per datagram)
 *   oneByOne   castmirror invalidations each awaited before the next (one per datagram),
 *              against raw datagrams each awaited (rawOneByOne): the per-datagram cost
 *   latency    castmirror invalidations paced at 10,000/s; publish-to-applied p50/p99/p999
 *
 * Rates are delivered / (last delivery - first send), the same definition for both.
 */
import { fork } from 'node:child_process';
import dgram from 'node:dgram';
import { startNode } from '../lib/start.js';
import { CacheNode } from '../lib/node/cache-node.js';
import { FrameCodec } from '../lib/wire/frame.js';
import { benchCluster, benchNetwork, freePort } from './cluster-fixture.js';
import { percentile, print, round, sibling, until } from './common.js';

const RAW_DATAGRAMS = Number(process.env.BENCH_RAW_DATAGRAMS ?? 200_000);
const INVALIDATIONS = Number(process.env.BENCH_INVALIDATIONS ?? 500_000);
const SINGLE_INVALIDATIONS = Number(process.env.BENCH_SINGLE_INVALIDATIONS ?? 50_000);
const PACED_RATE = 10_000;
const PACED_SECONDS = Number(process.env.BENCH_PACED_SECONDS ?? 3);
const now = () => Number(process.hrtime.bigint() / 1000n);

interface Report {
  received: number;
  firstAt: number;
  lastAt: number;
  clears: number;
  latencies: number[];
  recvBuffer?: number;
  drops?: Record<string, number>;
}

const cluster = await benchCluster(['sender', 'receiver'], '<Heartbeat intervalMs="200" deadAfterMs="5000"/>');
const configPath = cluster.write('fanout.xml', '<Caches><Cache type="bench" capacity="1000"/></Caches>');
const secret = cluster.secret;
const group = cluster.group;
const port = cluster.port;

const peer = fork(sibling('fanout-peer'), { execArgv: sibling.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const ask = <T>(message: object): Promise<T> =>
  new Promise((resolve) => {
    peer.once('message', (reply) => resolve(reply as T));
    peer.send(message);
  });

try {
  // Raw baseline: datagrams the size of a one-key invalidation frame.
  const codec = new FrameCodec({ cluster: 'bench', secret: Buffer.from(secret), maxFrameBytes: 1400, encrypt: benchNetwork.encryption === 'on' });
  const sample = codec.encode({ cluster: 'bench', sender: 'sender', incarnation: 'x'.repeat(24), startedAt: Date.now(), seq: 1, kind: 'invalidate', payload: { seq: 1, entries: [{ type: 'bench', prev: 0, clear: false, keys: ['k100000'] }] } });
  // The baseline travels as castmirror's datagrams do: to the group, or unicast to the receiver.
  const unicast = benchNetwork.discovery === 'static';
  const rawPort = unicast ? await freePort() : port;
  const rawTarget = unicast ? '127.0.0.1' : group;
  await ask({ cmd: 'raw', group: unicast ? undefined : group, port: rawPort });
  const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  socket.setMulticastInterface('127.0.0.1');
  socket.setMulticastTTL(0);
  socket.setSendBufferSize(4 * 1024 * 1024);
  const rawStart = now();
  for (let sent = 0; sent < RAW_DATAGRAMS; ) {
    const batch = Math.min(64, RAW_DATAGRAMS - sent);
    await Promise.all(Array.from({ length: batch }, () => new Promise<void>((resolve) => socket.send(sample, rawPort, rawTarget, () => resolve()))));
    sent += batch;
  }
  const raw = await ask<Report>({ cmd: 'report' });
  const rawRate = raw.received / ((raw.lastAt - rawStart) / 1e6);
  // Raw, each send awaited before the next: the baseline for castmirror one by one.
  await ask({ cmd: 'reset' });
  const rawSingleStart = now();
  for (let i = 0; i < SINGLE_INVALIDATIONS; i++) await new Promise<void>((resolve) => socket.send(sample, rawPort, rawTarget, () => resolve()));
  socket.close();
  const rawSingle = await ask<Report>({ cmd: 'report' });
  const rawSingleRate = rawSingle.received / ((rawSingle.lastAt - rawSingleStart) / 1e6);

  // castmirror, as fast as possible, coalescing.
  await ask({ cmd: 'node', configPath });
  const sender = await startNode({ configPath, nodeName: 'sender', admin: false });
  const cache = sender.caches.require('bench');
  await until(() => sender.membership!.get('receiver')?.state === 'alive', 'the receiver to be alive');
  const coalescedStart = now();
  for (let i = 0; i < INVALIDATIONS; ) {
    const batch = Math.min(2000, INVALIDATIONS - i);
    const pending: Promise<void>[] = [];
    for (let j = 0; j < batch; j++) pending.push(cache.invalidate(`k${i + j}`));
    await Promise.all(pending);
    i += batch;
  }
  const coalesced = await ask<Report>({ cmd: 'report' });
  const coalescedRate = coalesced.received / ((coalesced.lastAt - coalescedStart) / 1e6);
  const datagramsSent = CacheNode.unsafeExposeInternals(sender).core!.bus.stats.datagramsSent;

  // castmirror without coalescing: each invalidation awaited, so each has its own datagram.
  await ask({ cmd: 'reset' });
  const singleStart = now();
  for (let i = 0; i < SINGLE_INVALIDATIONS; i++) await cache.invalidate(`s${i}`);
  const single = await ask<Report>({ cmd: 'report' });
  const singleRate = single.received / ((single.lastAt - singleStart) / 1e6);

  // Paced at 10k/s: every millisecond, publish what is due. Keys carry the publish time.
  await ask({ cmd: 'reset' });
  const total = PACED_RATE * PACED_SECONDS;
  const pacedStart = now();
  let published = 0;
  while (published < total) {
    const due = Math.min(total, Math.floor(((now() - pacedStart) / 1e6) * PACED_RATE));
    const pending: Promise<void>[] = [];
    for (; published < due; published++) pending.push(cache.invalidate(`t${now()}-${published}`));
    await new Promise((r) => setTimeout(r, 1));
    await Promise.all(pending);
  }
  const paced = await ask<Report>({ cmd: 'report' });
  const latencies = paced.latencies.sort((a, b) => a - b);
  await sender.close();

  print({
    benchmark: 'fanout',
    node: process.version,
    ...benchNetwork,
    baseline: `raw node:dgram datagrams/s, ${unicast ? 'unicast to the receiver' : 'to the multicast group'}`,
    raw: { sent: RAW_DATAGRAMS, delivered: raw.received, deliveredPerSecond: Math.round(rawRate), datagramBytes: sample.length, receiverBufferBytes: raw.recvBuffer },
    coalesced: {
      published: INVALIDATIONS,
      delivered: coalesced.received,
      deliveredPerSecond: Math.round(coalescedRate),
      datagramsSent,
      invalidationsPerDatagram: round(INVALIDATIONS / datagramsSent, 1),
      gapClears: coalesced.clears,
      ratioToRaw: round(coalescedRate / rawRate, 3),
    },
    rawOneByOne: { sent: SINGLE_INVALIDATIONS, delivered: rawSingle.received, deliveredPerSecond: Math.round(rawSingleRate) },
    oneByOne: { published: SINGLE_INVALIDATIONS, delivered: single.received, deliveredPerSecond: Math.round(singleRate), ratioToRawOneByOne: round(singleRate / rawSingleRate, 3) },
    paced: {
      ratePerSecond: PACED_RATE,
      published: total,
      delivered: latencies.length,
      latencyMicros: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), p999: percentile(latencies, 99.9), max: latencies.at(-1) },
    },
    targets: { coalescedAtLeastHalfOfRaw: coalescedRate >= rawRate / 2, p99Under2ms: percentile(latencies, 99) < 2000 },
  });
} finally {
  peer.send({ cmd: 'exit' });
  await new Promise((r) => peer.once('exit', r));
  cluster.cleanup();
}
