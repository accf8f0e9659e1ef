/**
 * Replication links inside TLS (real TCP on 127.0.0.1): keyed from the cluster secret
 * (TLS 1.3 with a pre-shared key) and with certificates checked both ways. A relay between
 * the nodes records every byte: with TLS on, no session id or value crosses in clear; with
 * it off, they do (so the check can fail). A peer with the wrong secret, a certificate from
 * another CA, or no TLS at all is refused and counted.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEFAULTS, type EncryptionSettings } from '../lib/config/types.js';
import { PeerUnavailableError } from '../lib/errors.js';
import { connect, linkIdentity, newLinkStats, ReplicationServer, type LinkIdentity, type LinkStats } from '../lib/replication/link.js';
import { streamSecurity } from '../lib/transport/secure-stream.js';
import { hasOpenssl, makeCertificates } from './helpers/certificates.js';
import { freeTcpPort } from './helpers/ports.js';
import { eventually } from './helpers/wait.js';

const SECRET = Buffer.from('link-tls-test-secret-0123456789');
const SESSION = 'sessionidvisibleinclear0123456';
const VALUE = 'cart-value-visible-in-clear';

const identity = (node: string, encryption: EncryptionSettings, secret = SECRET): LinkIdentity => linkIdentity({ cluster: 'c', node, incarnation: `${node}-1` }, secret, encryption);

/** A TCP relay that forwards to `port` and keeps every byte it saw, both ways. */
async function relay(port: number): Promise<{ port: number; seen: () => Buffer; close: () => Promise<void> }> {
  const chunks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((inbound) => {
    const outbound = net.connect({ host: '127.0.0.1', port });
    for (const [from, to] of [[inbound, outbound], [outbound, inbound]] as const) {
      sockets.add(from);
      from.on('data', (chunk: Buffer) => (chunks.push(chunk), to.write(chunk)));
      from.on('error', () => to.destroy());
      from.on('close', () => to.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    seen: () => Buffer.concat(chunks),
    close: () => new Promise((resolve) => (sockets.forEach((s) => s.destroy()), server.close(() => resolve()))),
  };
}

async function serve(encryption: EncryptionSettings, stats: LinkStats, received: string[]): Promise<{ server: ReplicationServer; port: number }> {
  const port = await freeTcpPort();
  const server = await ReplicationServer.listen({
    host: '127.0.0.1',
    port,
    identity: identity('b', encryption),
    knownNodes: new Set(['a', 'b', 'rogue']),
    stats,
    handle: (message) => {
      received.push(message.t);
      return message.t === 'fetch' ? { t: 'fetched', id: message.id, snapshot: null, role: 'none' } : undefined;
    },
  });
  return { server, port };
}

/** Sends a session's change through a relay; returns whether its id or value crossed in clear. */
async function mirrorThroughRelay(encryption: EncryptionSettings, port: number): Promise<boolean> {
  const tap = await relay(port);
  try {
    const connection = await connect({ name: 'b', host: '127.0.0.1', port: tap.port }, identity('a', encryption), newLinkStats());
    const reply = await connection.request({ t: 'fetch', session: `${SESSION}${VALUE}`.slice(0, 48) });
    assert.equal(reply.t, 'fetched');
    connection.close();
    const seen = tap.seen().toString('latin1');
    return seen.includes(SESSION) || seen.includes(VALUE.slice(0, 10));
  } finally {
    await tap.close();
  }
}

const SECRET_TLS: EncryptionSettings = { ...DEFAULTS.encryption, links: 'secret' };
const PLAIN: EncryptionSettings = DEFAULTS.encryption;

describe('replication links with TLS keyed from the cluster secret', () => {
  const stats = newLinkStats();
  const received: string[] = [];
  let server: ReplicationServer;
  let port: number;
  before(async () => ({ server, port } = await serve(SECRET_TLS, stats, received)));
  after(() => server.close());

  test('a node with the secret connects; the bytes on the wire hold no session id or value (they do without TLS)', async () => {
    assert.equal(await mirrorThroughRelay(SECRET_TLS, port), false, 'nothing readable crossed the relay');
    const plainStats = newLinkStats();
    const plain = await serve(PLAIN, plainStats, []);
    try {
      assert.equal(await mirrorThroughRelay(PLAIN, plain.port), true, 'without TLS the same request is readable: the check above can fail');
    } finally {
      await plain.server.close();
    }
  });

  test('a node with another secret is refused in TLS, before the link\'s own handshake, and both sides count it', async () => {
    const before = stats.handshakeFailures;
    const clientStats = newLinkStats();
    await assert.rejects(connect({ name: 'b', host: '127.0.0.1', port }, identity('a', SECRET_TLS, Buffer.from('another-secret-0123456789abcdef')), clientStats), (error: unknown) => error instanceof PeerUnavailableError && /TLS handshake/.test(error.message));
    assert.equal(clientStats.handshakeFailures, 1);
    await eventually(() => stats.handshakeFailures === before + 1, { what: 'the server to count the refusal' });
  });

  test('a node without TLS is refused and counted; nothing reaches the handler', async () => {
    const before = stats.handshakeFailures;
    const count = received.length;
    await assert.rejects(connect({ name: 'b', host: '127.0.0.1', port }, identity('a', PLAIN), newLinkStats()), PeerUnavailableError);
    await eventually(() => stats.handshakeFailures === before + 1, { what: 'the server to count the refusal' });
    assert.equal(received.length, count);
  });
});

describe('replication links with certificates', { skip: hasOpenssl() ? false : 'needs the openssl command to make certificates (npm test installs it as root)' }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'castmirror-certs-'));
  const files = (ca: string): EncryptionSettings => ({ ...DEFAULTS.encryption, links: 'certificates', certificates: { cert: path.join(dir, '{node}.crt'), key: path.join(dir, '{node}.key'), ca: path.join(dir, ca) } });
  const stats = newLinkStats();
  let server: ReplicationServer;
  let port: number;
  before(async () => {
    makeCertificates(dir, [{ name: 'a', address: '127.0.0.1' }, { name: 'b', address: '127.0.0.1' }], { name: 'rogue', address: '127.0.0.1' });
    ({ server, port } = await serve(files('ca.crt'), stats, []));
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('nodes with certificates from the cluster CA connect; nothing readable crosses the wire', async () => {
    assert.equal(await mirrorThroughRelay(files('ca.crt'), port), false);
  });

  test('a node whose certificate another CA signed is refused and counted by the server', async () => {
    const before = stats.handshakeFailures;
    // The rogue trusts the cluster CA (it could get that file), but its own certificate is not the CA's.
    await assert.rejects(connect({ name: 'b', host: '127.0.0.1', port }, identity('rogue', files('ca.crt')), newLinkStats()), PeerUnavailableError);
    await eventually(() => stats.handshakeFailures === before + 1, { what: 'the server to count the refusal' });
  });

  test('a node refuses a server whose certificate its CA did not sign, and counts it', async () => {
    const clientStats = newLinkStats();
    await assert.rejects(connect({ name: 'b', host: '127.0.0.1', port }, identity('a', files('rogue-ca.crt')), clientStats), (error: unknown) => error instanceof PeerUnavailableError && /TLS handshake/.test(error.message));
    assert.equal(clientStats.handshakeFailures, 1);
  });

  test('a key that is not the certificate\'s fails at once, naming both files', () => {
    const swapped = { ...files('ca.crt'), certificates: { cert: path.join(dir, 'a.crt'), key: path.join(dir, 'b.key'), ca: path.join(dir, 'ca.crt') } };
    assert.throws(() => streamSecurity(swapped, 'a', Buffer.alloc(32)), /the key .*b\.key and the certificate .*a\.crt given in <Encryption> do not make a pair/);
  });

  test('a certificate file that cannot be read fails at once, naming the file', () => {
    assert.throws(() => streamSecurity({ ...files('ca.crt'), certificates: { cert: path.join(dir, 'missing.crt'), key: path.join(dir, 'a.key'), ca: path.join(dir, 'ca.crt') } }, 'a', Buffer.alloc(32)), /cannot read the certificate file .*missing\.crt/);
  });
});
