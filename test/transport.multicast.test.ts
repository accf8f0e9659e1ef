import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TransportError } from '../lib/errors.js';
import { MulticastChannel, type MulticastChannelOptions } from '../lib/transport/multicast.js';
import { ClusterChannel } from '../lib/transport/cluster-channel.js';
import { FrameCodec } from '../lib/wire/frame.js';
import { freeUdpPort, randomGroup } from './helpers/ports.js';
import { eventually } from './helpers/wait.js';

async function options(overrides: Partial<MulticastChannelOptions> = {}): Promise<MulticastChannelOptions> {
  return { group: randomGroup(), port: await freeUdpPort(), interface: '127.0.0.1', ttl: 0, recvBufferBytes: 1 << 20, receiveQueueLimit: 1000, ...overrides };
}

describe('multicast channel (real sockets on 127.0.0.1)', () => {
  test('two channels on one host and port both receive every datagram, their own included', async () => {
    const shared = await options();
    const a = await MulticastChannel.open(shared);
    const b = await MulticastChannel.open(shared);
    try {
      const got = { a: [] as string[], b: [] as string[] };
      a.onDatagram((d) => got.a.push(d.toString()));
      b.onDatagram((d) => got.b.push(d.toString()));
      for (let i = 0; i < 50; i++) await a.send(Buffer.from(`m${i}`));
      await eventually(() => got.a.length === 50 && got.b.length === 50, { what: '50 datagrams on each' });
      assert.deepEqual(got.b, Array.from({ length: 50 }, (_, i) => `m${i}`));
      assert.equal(a.stats.datagramsSent, 50);
      assert.ok(b.stats.recvBufferBytes >= 1 << 20);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('two clusters sharing a port and secret never see each other\'s frames', async () => {
    // On Linux a socket bound to 0.0.0.0:port may receive every group joined on the host;
    // the cluster id in each frame is what keeps clusters apart.
    const port = await freeUdpPort();
    const secret = Buffer.from('shared-by-mistake-0123456789');
    const open = async (cluster: string) => {
      const transport = await MulticastChannel.open(await options({ port }));
      const channel = new ClusterChannel(transport, new FrameCodec({ cluster, secret, maxFrameBytes: 1400 }), { cluster, name: 'n', incarnation: cluster, startedAt: 1 });
      const delivered: string[] = [];
      channel.onEnvelope((e) => delivered.push(e.cluster));
      return { transport, channel, delivered };
    };
    const blue = await open('blue');
    const green = await open('green');
    try {
      const payload = { seq: 1, entries: [{ type: 't', prev: 0, clear: true, keys: [] }] };
      for (let i = 0; i < 5; i++) {
        await blue.channel.send('invalidate', payload);
        await green.channel.send('invalidate', payload);
      }
      await eventually(() => blue.delivered.length >= 5 && green.delivered.length >= 5, { what: 'own frames back' });
      assert.ok(blue.delivered.every((c) => c === 'blue'));
      assert.ok(green.delivered.every((c) => c === 'green'));
      assert.equal(blue.channel.drops['wrong-cluster'], blue.transport.stats.datagramsReceived - blue.delivered.length);
    } finally {
      await Promise.all([blue.transport.close(), green.transport.close()]);
    }
  });

  test('a full receive queue drops and counts; injected drops are counted apart', async () => {
    const base = await options({ receiveQueueLimit: 100 });
    const sender = await MulticastChannel.open(base);
    const receiver = await MulticastChannel.open({ ...base, dropEveryNth: 10 });
    try {
      let handled = 0;
      receiver.onDatagram(() => handled++);
      sender.onDatagram(() => {});
      // Sent without yielding to the receiver's handler: its queue overflows.
      await Promise.all(Array.from({ length: 1000 }, (_, i) => sender.send(Buffer.from(`x${i}`))));
      await eventually(() => receiver.stats.datagramsReceived === 1000, { what: 'all 1000 datagrams counted', timeoutMs: 3000 });
      await eventually(() => receiver.queueDepth === 0, { what: 'queue drained' });
      const s = receiver.stats;
      assert.equal(s.droppedInjected, 100);
      assert.equal(handled + s.droppedInjected + s.droppedQueueFull, 1000, 'every datagram handled or counted as dropped');
    } finally {
      await Promise.all([sender.close(), receiver.close()]);
    }
  });

  test('close() is idempotent and send() after close rejects with CASTMIRROR_CLOSED', async () => {
    const channel = await MulticastChannel.open(await options());
    await Promise.all([channel.close(), channel.close()]);
    await channel.close();
    await assert.rejects(channel.send(Buffer.from('x')), { code: 'CASTMIRROR_CLOSED' });
  });

  test('joining on an interface that does not exist fails with a TransportError', async () => {
    await assert.rejects(MulticastChannel.open(await options({ interface: 'no-such-interface' })), (error: unknown) => {
      assert.ok(error instanceof TransportError);
      assert.match(error.message, /cannot join multicast group/);
      return true;
    });
  });
});
