import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { PeerUnavailableError } from '../lib/errors.js';
import { connect, newLinkStats, ReplicationServer, type LinkIdentity } from '../lib/replication/link.js';
import { encodeMessage } from '../lib/replication/protocol.js';
import { framed } from '../lib/transport/frame-stream.js';
import { DEFAULTS } from '../lib/config/types.js';
import { streamSecurity } from '../lib/transport/secure-stream.js';
import { deriveKey } from '../lib/wire/frame.js';
import { freeTcpPort } from './helpers/ports.js';
import { eventually } from './helpers/wait.js';

const secret = Buffer.from('link-test-secret-0123456789');
const identity = (node: string, key = secret): LinkIdentity => ({ cluster: 'c', node, incarnation: `${node}-1`, key: deriveKey(key, 'c', 'replication'), security: streamSecurity(DEFAULTS.encryption, node, Buffer.alloc(0)) });

describe('replication links (real TCP on 127.0.0.1)', () => {
  let server: ReplicationServer;
  let port: number;
  const serverStats = newLinkStats();
  const seen: string[] = [];

  before(async () => {
    port = await freeTcpPort();
    server = await ReplicationServer.listen({
      host: '127.0.0.1',
      port,
      identity: identity('b'),
      knownNodes: new Set(['a', 'b']),
      stats: serverStats,
      handle: (message, from) => {
        seen.push(`${from.node}:${message.t}`);
        if (message.t === 'fetch') return { t: 'fetched', id: message.id, snapshot: null, role: 'none' };
        // A peer that has stopped answering (SIGSTOP, a long pause).
        if (message.t === 'rehome') return new Promise<undefined>(() => {});
        return undefined;
      },
    });
  });
  after(() => server.close());

  test('a node with the secret is welcomed and its requests answered', async () => {
    const connection = await connect({ name: 'b', host: '127.0.0.1', port }, identity('a'), newLinkStats());
    const reply = await connection.request({ t: 'fetch', session: 'abcdefghijklmnopqrstuvwxyz' });
    assert.deepEqual(reply, { t: 'fetched', id: 1, snapshot: null, role: 'none' });
    connection.send({ t: 'touch', session: 'abcdefghijklmnopqrstuvwxyz', at: 5, expiresAt: null });
    await eventually(() => seen.includes('a:touch'));
    connection.close();
  });

  test('a client without the secret is refused and counted; the server side counts it too', async () => {
    const failuresBefore = serverStats.handshakeFailures;
    const clientStats = newLinkStats();
    await assert.rejects(connect({ name: 'b', host: '127.0.0.1', port }, identity('a', Buffer.from('wrong-secret-0123456789abc')), clientStats), PeerUnavailableError);
    assert.equal(clientStats.handshakeFailures, 1, 'the client saw the server could not prove the secret');
    // A client with the wrong key that skips checking the server still cannot pass the proof.
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.resume(); // read, so that the server hanging up is noticed
    await new Promise((r) => socket.once('connect', r));
    socket.write(framed(encodeMessage({ t: 'hello', cluster: 'c', node: 'a', incarnation: 'x', nonce: Buffer.alloc(32, 1) })));
    socket.write(framed(encodeMessage({ t: 'proof', proof: Buffer.alloc(32, 9) })));
    await new Promise((r) => socket.once('close', r));
    await eventually(() => serverStats.handshakeFailures > failuresBefore, { what: 'refusal counted' });
    assert.ok(!seen.some((s) => s.startsWith('x')), 'nothing reached the handler');
  });

  test('unknown nodes, garbage and oversize frames are disconnected and counted', async () => {
    const before = { ...serverStats };
    const send = async (bytes: Buffer) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.on('error', () => {});
      socket.resume();
      await new Promise((r) => socket.once('connect', r));
      socket.write(bytes);
      await new Promise((r) => socket.once('close', r));
    };
    await send(framed(encodeMessage({ t: 'hello', cluster: 'c', node: 'intruder', incarnation: 'x', nonce: Buffer.alloc(32) })));
    await send(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    const oversize = Buffer.alloc(8);
    oversize.writeUInt32BE(64 * 1024 * 1024, 0);
    await send(oversize);
    await eventually(() => serverStats.handshakeFailures + serverStats.malformedFrames >= before.handshakeFailures + before.malformedFrames + 3, { what: 'three refusals counted' });
  });

  test('a request the peer does not answer in time fails with PeerUnavailableError and closes the link', async () => {
    const connection = await connect({ name: 'b', host: '127.0.0.1', port }, identity('a'), newLinkStats());
    const waiting = connection.request({ t: 'fetch', session: 'abcdefghijklmnopqrstuvwxyz' }, 2_000);
    await assert.rejects(connection.request({ t: 'rehome', session: 'abcdefghijklmnopqrstuvwxyz' }, 100), (error: unknown) => error instanceof PeerUnavailableError && /no answer within 100 ms/.test(error.message));
    assert.equal(connection.closed, true, 'a stalled link is not used again');
    // The answered request settled first; nothing else was left waiting on the closed link.
    assert.equal((await waiting).t, 'fetched');
  });

  test('a closed port fails fast with PeerUnavailableError', async () => {
    const closed = await freeTcpPort();
    await assert.rejects(connect({ name: 'b', host: '127.0.0.1', port: closed }, identity('a'), newLinkStats()), PeerUnavailableError);
  });
});
