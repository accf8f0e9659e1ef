/**
 * Members from DNS, against the harness's small DNS server on 127.0.0.1 (real UDP): the
 * answer becomes the node list (each member named by its address, on the <Discovery>
 * ports); the watch reports each change once, with this node in it; a server that stops
 * answering keeps the last members. And the config rules of `<Discovery type="dns">`.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { DnsMemberWatch, lookupMembers, withMembers } from '../lib/config/dns-members.js';
import { parseConfigText } from '../lib/config/load.js';
import { parseClusterConfig } from '../lib/config/parse.js';
import type { DnsDiscovery } from '../lib/config/types.js';
import { ROOT } from './helpers/cluster.js';
import { freeUdpPort } from './helpers/ports.js';
import { eventually } from './helpers/wait.js';

const ENV = { CASTMIRROR_SECRET: 'dns-test-secret-0123456789abc' };
const dnsXml = (attributes: string, rest = '') => `<Server name="t">
  <Cluster>1</Cluster>
  <Discovery type="dns" ${attributes}/>
  <Secret env="CASTMIRROR_SECRET"/>
${rest}</Server>`;

describe('<Discovery type="dns"> in server.xml', () => {
  test('needs a name and the three ports; refreshMs and resolver are optional; no <ClusterNodes>', () => {
    const { config } = parseConfigText(dnsXml('name="castmirror.shop.svc.cluster.local" httpPort="8080" replicationPort="7080" adminPort="9080" resolver="10.96.0.10:53"'), 'server.xml', { env: ENV });
    assert.deepEqual(config.discovery, { type: 'dns', name: 'castmirror.shop.svc.cluster.local', refreshMs: 5000, resolver: '10.96.0.10:53', httpPort: 8080, replicationPort: 7080, adminPort: 9080 });
    assert.deepEqual(config.nodes, [], 'the list comes from DNS, after parsing');
    const problems = (text: string) => parseClusterConfig(text, 'server.xml', { env: ENV }).diagnostics.map((d) => d.message);
    assert.deepEqual(problems(dnsXml('name="bad name!" httpPort="1" replicationPort="1" adminPort="2"')), [
      'httpPort, replicationPort and adminPort must differ: every member listens on all three',
      'name="bad name!" on <Discovery> is not a DNS name',
    ]);
    assert.deepEqual(problems(dnsXml('name="x.test" httpPort="1" replicationPort="2" adminPort="3"', '  <ClusterNodes><Node name="a" host="127.0.0.1" httpPort="4" replicationPort="5" adminPort="6"/></ClusterNodes>\n')), [
      'with <Discovery type="dns"> the members are the addresses of the DNS name: remove <ClusterNodes>, which would not be read',
    ]);
  });

  test('withMembers: one entry per address, named by it, its own machine, on the <Discovery> ports', () => {
    const { config } = parseConfigText(dnsXml('name="x.test" httpPort="8080" replicationPort="7080" adminPort="9080"'), 'server.xml', { env: ENV });
    const members = withMembers(config, ['10.0.0.12', '10.0.0.11', '10.0.0.12']);
    assert.deepEqual(members.nodes.map((n) => [n.name, n.host, n.machine, n.httpPort, n.replicationPort, n.adminPort]), [
      ['10.0.0.11', '10.0.0.11', '10.0.0.11', 8080, 7080, 9080],
      ['10.0.0.12', '10.0.0.12', '10.0.0.12', 8080, 7080, 9080],
    ]);
    assert.ok(Object.isFrozen(members.nodes) && Object.isFrozen(members.nodes[0]));
  });
});

describe('DNS lookups of the members (a real DNS server on 127.0.0.1)', () => {
  let server: ChildProcess;
  let lines: AsyncIterator<string>;
  let discovery: DnsDiscovery;
  const setAddresses = async (addresses: string[]) => {
    server.stdin!.write(`${JSON.stringify({ addresses })}\n`);
    await lines.next();
  };

  before(async () => {
    const port = await freeUdpPort();
    server = spawn(process.execPath, [path.join(ROOT, 'test', 'helpers', 'dns-server.mjs'), '127.0.0.1', String(port), 'members.castmirror.test'], { stdio: ['pipe', 'pipe', 'inherit'] });
    lines = createInterface({ input: server.stdout! })[Symbol.asyncIterator]();
    await lines.next();
    discovery = { type: 'dns', name: 'members.castmirror.test', refreshMs: 100, resolver: `127.0.0.1:${port}`, httpPort: 1, replicationPort: 2, adminPort: 3 };
  });
  after(() => server.kill('SIGKILL'));

  test('lookupMembers: the sorted answer; [] for a name with no records', async () => {
    await setAddresses(['10.9.0.3', '10.9.0.1']);
    assert.deepEqual(await lookupMembers(discovery), ['10.9.0.1', '10.9.0.3']);
    assert.deepEqual(await lookupMembers({ ...discovery, name: 'other.castmirror.test' }), []);
  });

  test('the watch reports each change once, with this node in it; a silent server keeps the last members', async () => {
    await setAddresses(['10.9.0.1', '10.9.0.2']);
    const changes: string[][] = [];
    const watch = new DnsMemberWatch(discovery, '10.9.0.5', ['10.9.0.1', '10.9.0.2', '10.9.0.5'], (addresses) => void changes.push(addresses));
    watch.start();
    try {
      await setAddresses(['10.9.0.1', '10.9.0.2', '10.9.0.3']);
      await eventually(() => changes.length === 1, { what: 'the added member reported' });
      assert.deepEqual(changes[0], ['10.9.0.1', '10.9.0.2', '10.9.0.3', '10.9.0.5']);
      await setAddresses(['10.9.0.2']);
      await eventually(() => changes.length === 2, { what: 'the removed members reported' });
      assert.deepEqual(changes[1], ['10.9.0.2', '10.9.0.5']);
      server.kill('SIGSTOP'); // no answers: lookups time out
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.equal(changes.length, 2, 'no answer is not "no members"');
    } finally {
      server.kill('SIGCONT');
      watch.stop();
    }
  });
});
