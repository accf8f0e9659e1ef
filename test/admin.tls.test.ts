/**
 * The admin API over HTTPS (`<Encryption admin="https">`), one in-process node on
 * 127.0.0.1 with a certificate from a test CA: the CLI's client trusts the config's CA and
 * works; plain HTTP gets nothing; a client that does not trust the CA is refused; login
 * cookies are marked Secure.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { after, before, describe, test } from 'node:test';
import { AdminClient, adminEndpoint } from '../lib/admin/client.js';
import { loadConfig } from '../lib/config/load.js';
import { startNode, type CacheNode } from '../lib/index.js';
import { hasOpenssl, makeCertificates } from './helpers/certificates.js';
import { makeCluster, type TestCluster } from './helpers/cluster.js';

const ENCRYPTION = '  <Encryption admin="https" cert="{node}.crt" key="{node}.key" ca="ca.crt"/>\n  <Admin><User name="ops" role="operator" env="CASTMIRROR_TEST_OPS"/></Admin>';

function get(module: typeof http | typeof https, port: number, options: https.RequestOptions = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = module.get({ host: '127.0.0.1', port, path: '/healthz', timeout: 2000, ...options }, (res) => (res.resume(), resolve(res.statusCode ?? 0)));
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timed out')));
  });
}

describe('admin API over HTTPS', { skip: hasOpenssl() ? false : 'needs the openssl command to make certificates (npm test installs it as root)' }, () => {
  let cluster: TestCluster;
  let node: CacheNode;
  let client: AdminClient;
  let port: number;

  before(async () => {
    process.env.CASTMIRROR_TEST_OPS = 'ops-password-0123';
    cluster = await makeCluster({ nodes: 1, extraXml: ENCRYPTION });
    makeCertificates(cluster.dir, [{ name: 'node-a', address: '127.0.0.1' }], { name: 'node-x', address: '127.0.0.1' });
    node = await startNode({ configPath: cluster.configPath, nodeName: 'node-a' });
    const loaded = await loadConfig(cluster.configPath);
    const endpoint = adminEndpoint(loaded.config, loaded.config.nodes[0]!);
    port = endpoint.port;
    client = new AdminClient({ ...endpoint, secret: Buffer.from(cluster.secret) });
  });
  after(async () => {
    await node?.close();
    cluster?.cleanup();
    delete process.env.CASTMIRROR_TEST_OPS;
  });

  test('the client of the CLI trusts the config\'s CA and is answered over HTTPS', async () => {
    assert.match(client.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const status = await client.json<{ node: string }>('GET', '/status');
    assert.equal(status.node, 'node-a');
  });

  test('plain HTTP gets no answer; a client that does not trust the CA is refused', async () => {
    await assert.rejects(get(http, port), 'plain HTTP on the HTTPS port');
    await assert.rejects(get(https, port), /self[- ]signed|unable to verify|certificate/i);
    assert.equal(await get(https, port, { ca: undefined, rejectUnauthorized: false }), 200, 'the same request, not checking the certificate, is answered: the refusal above is about trust');
  });

  test('a login cookie is Secure, so a browser never sends it in clear', async () => {
    const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const body = JSON.stringify({ user: 'ops', password: 'ops-password-0123' });
      const req = https.request({ host: '127.0.0.1', port, path: '/login', method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, resolve);
      req.on('error', reject);
      req.end(body);
    });
    response.resume();
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['set-cookie']), /; Secure/);
  });
});
