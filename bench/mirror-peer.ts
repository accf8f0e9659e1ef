/**
 * The far side of bench/mirror.bench.ts and bench/takeover.bench.ts, in its own process,
 * driven over IPC:
 *   { cmd: 'raw', port }            a TCP server: counts length-prefixed frames, echoes pings
 *   { cmd: 'expect', frames }       reply { done } once that many frames have arrived
 *   { cmd: 'node', configPath, name } run a castmirror node
 *   { cmd: 'create', count }        (on a node) create sessions; reply with their hints
 *   { cmd: 'stop' }                 close the node (graceful)
 */
import net from 'node:net';
import { startNode } from '../lib/start.js';
import type { CacheNode } from '../lib/node/cache-node.js';
import { FrameSplitter, framed } from '../lib/transport/frame-stream.js';

let frames = 0;
let expected = Infinity;
let server: net.Server | undefined;
let node: CacheNode | undefined;

const reply = (message: object) => process.send!(message);

// If the benchmark dies, so does its peer: no orphan holds ports or CPU.
process.on('disconnect', () => process.exit(1));

process.on('message', async (message: { cmd: string; port?: number; frames?: number; configPath?: string; name?: string; count?: number; members?: number }) => {
  switch (message.cmd) {
    case 'raw':
      server = net.createServer((socket) => {
        socket.setNoDelay(true);
        const splitter = new FrameSplitter(1 << 20);
        socket.on('data', (chunk: Buffer) => {
          for (const frame of splitter.push(chunk)) {
            frames++;
            if (frame[0] === 1) socket.write(framed(frame)); // a ping: echo it
            if (frames === expected) reply({ done: true });
          }
        });
      });
      server.listen(message.port, '127.0.0.1', () => reply({ ready: true }));
      break;
    case 'expect':
      frames = 0;
      expected = message.frames!;
      reply({ ready: true });
      break;
    case 'node':
      node = await startNode({ configPath: message.configPath!, nodeName: message.name!, admin: false });
      reply({ ready: true, incarnation: node.incarnation.id });
      break;
    case 'create': {
      // This node must see the others too, or its sessions start without a backup.
      const deadline = Date.now() + 30_000;
      while (node!.membership!.alive().length < (message.members ?? 1) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      const hints = [];
      for (let i = 0; i < message.count!; i++) hints.push((await node!.sessions.run(undefined, (s) => s.global.set('cart', ['sku-1', 'sku-2']))).hint);
      reply({ hints });
      break;
    }
    case 'stop':
      await node?.close();
      node = undefined;
      reply({ ready: true });
      break;
    case 'exit':
      server?.close();
      await node?.close();
      process.exit(0);
  }
});
