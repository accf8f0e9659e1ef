/**
 * Session mirroring between two processes on loopback, next to raw TCP between the same
 * two processes in the same run:
 *   raw frames/s        length-prefixed frames of one delta's size, pipelined
 *   raw ping-pong/s     a frame and its echo, 1 and 64 in flight
 *   async, batched      delta updates/s acknowledged by the backup (64 sessions round-robin,
 *                       64 updates per turn of the event loop)
 *   sync                commits/s with 1 and 64 sessions in flight
 */
import { fork } from 'node:child_process';
import net from 'node:net';
import { startNode } from '../lib/start.js';
import type { CacheNode } from '../lib/node/cache-node.js';
import type { RouteHint } from '../lib/replication/route-hint.js';
import { encodeMessage } from '../lib/replication/protocol.js';
import { deltaOf } from '../lib/session/codec.js';
import { newSessionId } from '../lib/session/id.js';
import { ReferenceRegistry } from '../lib/session/reference.js';
import { SessionObject } from '../lib/session/session.js';
import { FrameSplitter, framed } from '../lib/transport/frame-stream.js';
import { benchCluster, benchNetwork, freePort } from './cluster-fixture.js';
import { print, round, sibling, until } from './common.js';

const UPDATES = Number(process.env.BENCH_MIRROR_UPDATES ?? 50_000);
const RAW_FRAMES = Number(process.env.BENCH_RAW_FRAMES ?? 200_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const SESSIONS = 64;

const peer = fork(sibling('mirror-peer'), { execArgv: sibling.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const ask = <T = unknown>(message: object): Promise<T> =>
  new Promise((resolve) => {
    peer.once('message', (reply) => resolve(reply as T));
    peer.send(message);
  });
const cluster = await benchCluster(['primary', 'backup']);

/** A delta message the size castmirror sends for one small change. */
function sampleDelta(): Buffer {
  const session = new SessionObject({ id: newSessionId(), version: 41, epoch: 0, primary: 'primary', backup: 'backup', origin: 'primary', createdAt: Date.now(), lastAccessAt: Date.now(), timeoutMs: 1_800_000, expiresAt: null }, new ReferenceRegistry());
  session.global.set('n', 12345);
  return Buffer.from(encodeMessage({ t: 'batch', id: 123456, deltas: [deltaOf(session)!] }));
}

async function rawFigures() {
  const port = await freePort();
  await ask({ cmd: 'raw', port });
  const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
  await new Promise((r) => socket.once('connect', r));
  const body = sampleDelta();
  body[0] = 0; // not a ping

  await ask({ cmd: 'expect', frames: RAW_FRAMES });
  const done = new Promise((r) => peer.once('message', r));
  let started = performance.now();
  for (let i = 0; i < RAW_FRAMES; i++) {
    if (!socket.write(framed(body))) await new Promise((r) => socket.once('drain', r));
  }
  await done;
  const framesPerSecond = RAW_FRAMES / ((performance.now() - started) / 1000);

  // Ping-pong: the peer echoes frames that start with 1.
  const ping = Buffer.from(body);
  ping[0] = 1;
  const splitter = new FrameSplitter(1 << 20);
  let waiters: (() => void)[] = [];
  socket.on('data', (chunk: Buffer) => {
    for (const _ of splitter.push(chunk)) waiters.shift()?.();
  });
  const roundTrip = () =>
    new Promise<void>((resolve) => {
      waiters.push(resolve);
      socket.write(framed(ping));
    });
  const pingPong = async (inFlight: number) => {
    let count = 0;
    const until = performance.now() + SECONDS * 1000;
    started = performance.now();
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (performance.now() < until) {
          await roundTrip();
          count++;
        }
      }),
    );
    return count / ((performance.now() - started) / 1000);
  };
  const pingPong1 = await pingPong(1);
  const pingPong64 = await pingPong(64);
  socket.destroy();
  waiters = [];
  return { deltaBytes: body.length, framesPerSecond: Math.round(framesPerSecond), pingPong1: Math.round(pingPong1), pingPong64: Math.round(pingPong64) };
}

async function withNodes<T>(mode: string, run: (primary: CacheNode, hints: RouteHint[]) => Promise<T>): Promise<T> {
  const configPath = cluster.write(`${mode}.xml`, `<Replication mode="${mode}" batchSize="100" batchIntervalMs="5"/>`);
  await ask({ cmd: 'node', configPath, name: 'backup' });
  const primary = await startNode({ configPath, nodeName: 'primary', admin: false });
  await until(() => primary.membership!.get('backup')?.state === 'alive', 'the backup to be alive');
  const hints: RouteHint[] = [];
  for (let i = 0; i < SESSIONS; i++) hints.push((await primary.sessions.run(undefined, (s) => s.global.set('n', 0))).hint);
  try {
    return await run(primary, hints);
  } finally {
    await primary.close();
    await ask({ cmd: 'stop' });
  }
}

/** Updates round-robin over the sessions; rate = updates acknowledged by the backup per second. */
async function throughput(mode: 'async' | 'batched') {
  return withNodes(mode, async (primary, hints) => {
    const acksBefore = primary.sessions.snapshotStats().acks;
    const started = performance.now();
    for (let i = 0; i < UPDATES; i++) {
      const slot = i % hints.length;
      hints[slot] = (await primary.sessions.run(hints[slot], (s) => s.global.set('n', i))).hint;
      // Requests arrive through I/O, a turn of the event loop at a time: yield after each
      // round over the sessions, or every update would pile into one turn and primary and
      // backup would take turns instead of working at once.
      if (slot === hints.length - 1) await new Promise((r) => setImmediate(r));
    }
    // Every update is acknowledged, or the run says how far it got (never an endless wait).
    const deadline = performance.now() + 60_000;
    while (primary.sessions.snapshotStats().acks - acksBefore < UPDATES) {
      if (performance.now() > deadline) throw new Error(`${mode}: only ${primary.sessions.snapshotStats().acks - acksBefore} of ${UPDATES} updates acknowledged: ${JSON.stringify(primary.sessions.snapshotStats())}`);
      await new Promise((r) => setTimeout(r, 1));
    }
    return Math.round(UPDATES / ((performance.now() - started) / 1000));
  });
}

async function syncCommits() {
  return withNodes('sync', async (primary, hints) => {
    const commits = async (inFlight: number) => {
      let count = 0;
      const until = performance.now() + SECONDS * 1000;
      const started = performance.now();
      await Promise.all(
        hints.slice(0, inFlight).map(async (_, slot) => {
          while (performance.now() < until) {
            hints[slot] = (await primary.sessions.run(hints[slot], (s) => s.global.set('n', count))).hint;
            count++;
          }
        }),
      );
      return Math.round(count / ((performance.now() - started) / 1000));
    };
    return { inFlight1: await commits(1), inFlight64: await commits(64) };
  });
}

try {
  const raw = await rawFigures();
  const asyncRate = await throughput('async');
  const batchedRate = await throughput('batched');
  const sync = await syncCommits();
  print({
    benchmark: 'mirror',
    node: process.version,
    ...benchNetwork,
    baseline: 'raw length-prefixed TCP between the same two processes',
    raw,
    async: { updatesPerSecond: asyncRate, ratioToRawFrames: round(asyncRate / raw.framesPerSecond, 3) },
    batched: { updatesPerSecond: batchedRate, ratioToRawFrames: round(batchedRate / raw.framesPerSecond, 3) },
    sync: {
      commitsPerSecond1: sync.inFlight1,
      ratioToPingPong1: round(sync.inFlight1 / raw.pingPong1, 3),
      commitsPerSecond64: sync.inFlight64,
      ratioToPingPong64: round(sync.inFlight64 / raw.pingPong64, 3),
    },
    targets: {
      asyncAtLeastHalfOfRaw: asyncRate >= raw.framesPerSecond / 2,
      batchedAtLeastHalfOfRaw: batchedRate >= raw.framesPerSecond / 2,
      sync1AtLeastHalfOfPingPong: sync.inFlight1 >= raw.pingPong1 / 2,
      sync64AtLeastHalfOfPingPong: sync.inFlight64 >= raw.pingPong64 / 2,
    },
  });
} finally {
  peer.send({ cmd: 'exit' });
  await new Promise((r) => peer.once('exit', r));
  cluster.cleanup();
}
