/**
 * The receiving side of bench/fanout.bench.ts, in its own process. Driven over IPC:
 *   { cmd: 'raw', group?, port }     a bare node:dgram socket (in the group, or unicast on 127.0.0.1) counting datagrams
 *   { cmd: 'node', configPath }      run castmirror node "receiver" and count invalidations
 *   { cmd: 'report' }                reply with what was received, once traffic has stopped
 * Times are process.hrtime (CLOCK_MONOTONIC), comparable across processes on one machine.
 */
import dgram from 'node:dgram';
import { startNode } from '../lib/start.js';
import { CacheNode } from '../lib/node/cache-node.js';

const now = () => Number(process.hrtime.bigint() / 1000n); // microseconds

let received = 0;
let firstAt = 0;
let lastAt = 0;
let clears = 0;
let latencies: number[] = [];
let socket: dgram.Socket | undefined;
let node: CacheNode | undefined;

function count(n: number): void {
  const t = now();
  if (received === 0) firstAt = t;
  lastAt = t;
  received += n;
}

async function quiet(): Promise<void> {
  // Traffic has stopped when the count holds still for 300 ms.
  let before = -1;
  while (before !== received) {
    before = received;
    await new Promise((r) => setTimeout(r, 300));
  }
}

function reset(): void {
  received = firstAt = lastAt = clears = 0;
  latencies = [];
}

// If the benchmark dies, so does its peer: no orphan holds ports or CPU.
process.on('disconnect', () => process.exit(1));

process.on('message', async (message: { cmd: string; group?: string; port?: number; configPath?: string }) => {
  switch (message.cmd) {
    case 'raw': {
      reset();
      socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
      await new Promise<void>((resolve) => socket!.bind(message.port, message.group ? undefined : '127.0.0.1', resolve));
      if (message.group) {
        socket.setMulticastInterface('127.0.0.1');
        socket.addMembership(message.group, '127.0.0.1');
      }
      socket.setRecvBufferSize(4 * 1024 * 1024);
      socket.on('message', () => count(1));
      process.send!({ ready: true });
      break;
    }
    case 'node': {
      socket?.close();
      socket = undefined;
      reset();
      node = await startNode({ configPath: message.configPath!, nodeName: 'receiver', admin: false });
      CacheNode.unsafeExposeInternals(node).core!.bus.subscribe('bench', {
        invalidate(keys) {
          count(keys.length);
          const t = now();
          for (const key of keys) {
            // Keys of the latency phase carry their publish time: "t<micros>-<n>".
            if (key.charCodeAt(0) === 116) latencies.push(t - Number(key.slice(1, key.indexOf('-'))));
          }
        },
        clear() {
          clears++;
        },
      });
      process.send!({ ready: true });
      break;
    }
    case 'reset':
      reset();
      process.send!({ ready: true });
      break;
    case 'report': {
      await quiet();
      const recvBuffer = socket?.getRecvBufferSize();
      process.send!({ received, firstAt, lastAt, clears, latencies, recvBuffer, drops: node ? { ...CacheNode.unsafeExposeInternals(node).core!.channel.drops } : undefined });
      break;
    }
    case 'exit':
      socket?.close();
      await node?.close();
      process.exit(0);
  }
});
