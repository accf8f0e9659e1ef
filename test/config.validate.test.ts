import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError, loadConfig, parseClusterConfig, parseConfigText, resolveNodeConfig, UnknownNodeError } from '../lib/index.js';
import { ROOT } from './helpers/cluster.js';

const SECRET_ENV = { CASTMIRROR_SECRET: 'test-secret-0123456789abcdef' };
const example = readFileSync(path.join(ROOT, 'server.xml.example'), 'utf8');

/** A minimal valid clustered config; `inner` is inserted inside <Server>. */
function xml(inner: string, nodes = NODES): string {
  return `<Server name="t">
  <Cluster>1</Cluster>
  <MulticastAddress>239.1.2.3</MulticastAddress>
  <MulticastPort>45000</MulticastPort>
  <Secret env="CASTMIRROR_SECRET"/>
${inner}
  <ClusterNodes>
${nodes}
  </ClusterNodes>
</Server>`;
}
const NODES = `    <Node name="a" host="127.0.0.1" httpPort="8001" replicationPort="7001" adminPort="9001"/>
    <Node name="b" host="127.0.0.1" httpPort="8002" replicationPort="7002" adminPort="9002"/>`;

function diagnostics(text: string, env: NodeJS.ProcessEnv = SECRET_ENV): string[] {
  return parseClusterConfig(text, 'server.xml', { env }).diagnostics.map((d) => `${d.file}:${d.line}:${d.column}: ${d.message}`);
}

describe('server.xml.example', () => {
  test('validates and resolves every node', () => {
    const { config, secret, diagnostics: problems } = parseClusterConfig(example, 'server.xml.example', { env: SECRET_ENV });
    assert.deepEqual(problems, []);
    assert.ok(config);
    assert.equal(secret?.source, 'env');
    assert.equal(config.name, 'shop');
    assert.equal(config.clustered, true);
    assert.deepEqual(config.multicast, { address: '239.255.42.99', port: 45564, interface: '127.0.0.1', ttl: 1 });
    assert.deepEqual(config.heartbeat, { intervalMs: 200, deadAfterMs: 1000 });
    assert.deepEqual(config.nodes.map((n) => n.name), ['node-a', 'node-b', 'node-c']);
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.nodes[0]) && Object.isFrozen(config.multicast));
  });

  test('a NodeSetting overrides only what it names', () => {
    const { config } = parseClusterConfig(example, 'server.xml.example', { env: SECRET_ENV });
    const a = resolveNodeConfig(config!, 'node-a');
    const b = resolveNodeConfig(config!, 'node-b');
    assert.deepEqual(a.caches, [{ type: 'product', capacity: 10000, ttlSeconds: 300 }]);
    assert.deepEqual(b.caches, [{ type: 'product', capacity: 20000, ttlSeconds: 300 }]);
    assert.deepEqual(b.heartbeat, a.heartbeat);
    assert.throws(() => resolveNodeConfig(config!, 'node-z'), UnknownNodeError);
  });

  test('per-node heartbeat, interface and TTL overrides merge attribute by attribute', () => {
    const text = xml(`  <Heartbeat intervalMs="100" deadAfterMs="600"/>
  <NodeSetting node="b">
    <MulticastInterface>127.0.0.1</MulticastInterface>
    <MulticastTTL>0</MulticastTTL>
    <Heartbeat deadAfterMs="900"/>
  </NodeSetting>`);
    const { config } = parseConfigText(text, 'server.xml', { env: SECRET_ENV });
    const b = resolveNodeConfig(config, 'b');
    assert.deepEqual(b.heartbeat, { intervalMs: 100, deadAfterMs: 900 });
    assert.equal(b.multicast.interface, '127.0.0.1');
    assert.equal(b.multicast.ttl, 0);
    assert.equal(resolveNodeConfig(config, 'a').multicast.interface, '0.0.0.0');
  });
});

describe('errors name file:line:column', () => {
  test('malformed XML', () => {
    assert.deepEqual(diagnostics('<Server name="t">\n  <Cluster>1</Cluster>\n  <ClusterNodes>\n</Server>'), [
      'server.xml:4:1: malformed XML: Opening and ending tag mismatch: "ClusterNodes" != "Server"',
    ]);
    // At the construct itself, not where the parser stopped (the end of the line before).
    assert.deepEqual(diagnostics('<Server name="t">\n  <ClusterNodes>\n    <Node name="a" host="x">\n  </ClusterNodes>\n</Server>'), [
      'server.xml:4:3: malformed XML: Opening and ending tag mismatch: "Node" != "ClusterNodes"',
    ]);
    assert.match(diagnostics('<Server/><Server/>')[0]!, /^server\.xml:1:10: malformed XML/);
    assert.match(diagnostics('')[0]!, /^server\.xml:1:1: malformed XML: missing root element/);
  });

  test('unknown elements and attributes, with a suggestion', () => {
    const problems = diagnostics(xml('  <Heartbeet intervalMs="100"/>\n  <Heartbeat intervalMs="100" deadAfterMs="500" jitter="5"/>'));
    assert.deepEqual(problems, [
      'server.xml:6:3: unknown element <Heartbeet> in <Server> (did you mean <Heartbeat>?)',
      'server.xml:7:49: unknown attribute jitter on <Heartbeat>',
    ]);
  });

  test('missing required values', () => {
    const problems = diagnostics(`<Server name="t">
  <Cluster>1</Cluster>
  <ClusterNodes>
    <Node name="a" host="127.0.0.1" httpPort="8001" replicationPort="7001"/>
  </ClusterNodes>
</Server>`);
    assert.deepEqual(problems, [
      'server.xml:1:1: <Server> is missing <MulticastAddress>',
      'server.xml:1:1: <Server> is missing <MulticastPort>',
      'server.xml:1:1: <Server> is missing <Secret>',
      'server.xml:4:5: <Node> is missing the adminPort attribute',
    ]);
  });

  test('the multicast address must be class D', () => {
    for (const bad of ['10.0.0.1', '224.0.0.0', '240.0.0.1', '239.1.2', 'group']) {
      const problems = diagnostics(xml('').replace('239.1.2.3', bad));
      assert.equal(problems.length, 1, bad);
      assert.match(problems[0]!, /^server\.xml:3:3: <MulticastAddress> must be a class D IPv4 address/);
    }
    for (const good of ['224.0.0.1', '239.255.255.255']) assert.deepEqual(diagnostics(xml('').replace('239.1.2.3', good)), []);
  });

  test('ports are 1-65535 and no two listeners share one host:port', () => {
    const problems = diagnostics(
      xml('  <Proxy host="127.0.0.1" port="9002"/>', `    <Node name="a" host="127.0.0.1" httpPort="0" replicationPort="7001" adminPort="9001"/>
    <Node name="b" host="127.0.0.1" httpPort="8002" replicationPort="8002" adminPort="9002"/>
    <Node name="c" host="10.0.0.9" httpPort="8002" replicationPort="7003" adminPort="9003"/>`),
    );
    assert.deepEqual(problems, [
      'server.xml:6:3: the proxy port uses 127.0.0.1:9002, which is already the adminPort of node b (on 127.0.0.1)',
      'server.xml:8:37: httpPort on <Node> must be between 1 and 65535, not 0',
      'server.xml:9:5: replicationPort of node b uses 127.0.0.1:8002, which is already the httpPort of node b',
    ]);
  });

  test('node names are unique and NodeSetting names a listed node', () => {
    const problems = diagnostics(
      xml('  <NodeSetting node="z"><Heartbeat intervalMs="100"/></NodeSetting>', `${NODES}\n    <Node name="a" host="127.0.0.2" httpPort="1" replicationPort="2" adminPort="3"/>`),
    );
    assert.deepEqual(problems, ['server.xml:6:3: <NodeSetting> names node "z", which <ClusterNodes> does not list', 'server.xml:10:5: node name "a" is already used at line 8']);
  });

  test('a NodeSetting may not change cluster-wide settings or unknown cache types', () => {
    const problems = diagnostics(
      xml(`  <Caches><Cache type="product"/></Caches>
  <NodeSetting node="a">
    <MulticastPort>1</MulticastPort>
    <Caches><Cache type="prodcut" capacity="5"/></Caches>
  </NodeSetting>`),
    );
    assert.deepEqual(problems, [
      'server.xml:8:5: <MulticastPort> cannot be set per node in <NodeSetting>: every node must agree on it',
      'server.xml:9:13: <NodeSetting> overrides cache type "prodcut", which <Caches> does not configure',
    ]);
  });

  test('Cluster is 0 or 1; 0 needs neither multicast nor a secret', () => {
    assert.deepEqual(diagnostics(xml('').replace('<Cluster>1</Cluster>', '<Cluster>2</Cluster>')), ['server.xml:2:3: <Cluster> must be between 0 and 1, not 2']);
    const standalone = `<Server name="solo"><Cluster>0</Cluster><ClusterNodes>${NODES}</ClusterNodes></Server>`;
    const { config, secret } = parseConfigText(standalone, 'solo.xml', { env: {} });
    assert.equal(config.clustered, false);
    assert.equal(secret, undefined);
  });

  test('heartbeat timing must leave room for suspicion', () => {
    assert.deepEqual(diagnostics(xml('  <Heartbeat intervalMs="200" deadAfterMs="300"/>')), ['server.xml:6:3: deadAfterMs (300) must be at least 3 x intervalMs (200)']);
  });

  test('several errors are reported together, in file order', () => {
    const problems = diagnostics(`<Server name="bad name">
  <Cluster>1</Cluster>
  <MulticastAddress>1.2.3.4</MulticastAddress>
  <MulticastPort>99999</MulticastPort>
  <Secret/>
  <Replication mode="eventually"/>
  <ClusterNodes><Node name="a" host="127.0.0.1" httpPort="x" replicationPort="1" adminPort="2"/></ClusterNodes>
</Server>`);
    assert.equal(problems.length, 6);
    assert.deepEqual(
      problems.map((p) => p.split(': ')[0]),
      ['server.xml:1:9', 'server.xml:3:3', 'server.xml:4:3', 'server.xml:5:3', 'server.xml:6:16', 'server.xml:7:49'],
    );
  });
});

describe('the cluster secret', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'castmirror-secret-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('env first, then the file (relative to the config), inline with a warning', async () => {
    writeFileSync(path.join(dir, 'secret'), 'from-the-file-0123456789\n', { mode: 0o600 });
    const configPath = path.join(dir, 'server.xml');
    writeFileSync(configPath, xml('').replace('<Secret env="CASTMIRROR_SECRET"/>', '<Secret env="CM_TEST_SECRET" file="secret"/>'));
    const fromFile = await loadConfig(configPath, { env: {} });
    assert.equal(fromFile.secret?.source, 'file');
    assert.equal(fromFile.secret?.value.toString(), 'from-the-file-0123456789');
    assert.deepEqual(fromFile.warnings, []);
    const fromEnv = await loadConfig(configPath, { env: { CM_TEST_SECRET: 'from-the-environment-0123' } });
    assert.equal(fromEnv.secret?.source, 'env');

    const inline = parseConfigText(xml('').replace('<Secret env="CASTMIRROR_SECRET"/>', '<Secret>inline-secret-0123456789</Secret>'), 'i.xml', { env: {} });
    assert.equal(inline.secret?.source, 'inline');
    assert.match(inline.warnings[0]!, /inline/);
  });

  test('a missing or short secret is an error at the <Secret> element', () => {
    assert.deepEqual(diagnostics(xml(''), {}), ['server.xml:5:3: no cluster secret: environment variable CASTMIRROR_SECRET is unset']);
    assert.deepEqual(diagnostics(xml(''), { CASTMIRROR_SECRET: 'short' }), [
      'server.xml:5:3: the cluster secret from env is 5 bytes; at least 16 are required',
    ]);
  });

  test('loadConfig throws ConfigError with every diagnostic', async () => {
    const configPath = path.join(dir, 'bad.xml');
    writeFileSync(configPath, '<Server name="x"><Cluster>7</Cluster></Server>');
    await assert.rejects(loadConfig(configPath, { env: {} }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.code, 'CASTMIRROR_CONFIG_INVALID');
      assert.equal(error.diagnostics.length, 2);
      return true;
    });
    await assert.rejects(loadConfig(path.join(dir, 'missing.xml')), { code: 'CASTMIRROR_CONFIG_READ' });
  });
});

describe('the route cookie name', () => {
  test('<Sessions cookie> names it cluster-wide; the default is castmirror.route', () => {
    const named = parseClusterConfig(xml('  <Sessions timeoutSeconds="60" cookie="shop.route"/>'), 'server.xml', { env: SECRET_ENV });
    assert.deepEqual(named.diagnostics, []);
    assert.equal(named.config!.sessions.cookie, 'shop.route');
    assert.equal(resolveNodeConfig(named.config!, 'b').sessions.cookie, 'shop.route');
    assert.equal(parseClusterConfig(xml(''), 'server.xml', { env: SECRET_ENV }).config!.sessions.cookie, 'castmirror.route');
  });

  test('a name that is not a cookie token, or a per-node name, is refused at its position', () => {
    assert.deepEqual(diagnostics(xml('  <Sessions cookie="shop route;"/>')), ['server.xml:6:13: cookie="shop route;" on <Sessions> is not a cookie name (1-64 characters, an RFC 6265 token)']);
    assert.deepEqual(diagnostics(xml('  <NodeSetting node="b"><Sessions timeoutSeconds="60" cookie="b.route"/></NodeSetting>')), [
      'server.xml:6:55: cookie on <Sessions> cannot be set per node in <NodeSetting>: the proxy and every node read one route cookie',
    ]);
  });
});

describe('several processes per <Node>', () => {
  const parse = (nodes: string, inner = '', cores = 4) => parseClusterConfig(xml(inner, nodes), 'server.xml', { env: SECRET_ENV, cores });

  test('processes="N" is N nodes name-0..name-(N-1) on consecutive ports, one machine', () => {
    const { config, diagnostics: problems } = parse(`    <Node name="web" processes="3" host="127.0.0.1" httpPort="8001" replicationPort="7001" adminPort="9001"/>
    <Node name="b" host="127.0.0.1" machine="m2" httpPort="8100" replicationPort="7100" adminPort="9100"/>`);
    assert.deepEqual(problems, []);
    assert.deepEqual(
      config!.nodes.map((n) => [n.name, n.group, n.index, n.processes, n.machine, n.httpPort, n.replicationPort, n.adminPort]),
      [
        ['web-0', 'web', 0, 3, '127.0.0.1', 8001, 7001, 9001],
        ['web-1', 'web', 1, 3, '127.0.0.1', 8002, 7002, 9002],
        ['web-2', 'web', 2, 3, '127.0.0.1', 8003, 7003, 9003],
        ['b', 'b', 0, 1, 'm2', 8100, 7100, 9100],
      ],
    );
  });

  test('processes="auto" is one per core of the machine reading the config, capped at 64', () => {
    const node = '    <Node name="web" processes="auto" host="127.0.0.1" httpPort="8001" replicationPort="7001" adminPort="9001"/>';
    assert.equal(parse(node, '', 2).config!.nodes.length, 2);
    assert.equal(parse(node, '', 1).config!.nodes.map((n) => n.name).join(), 'web-0');
    assert.equal(parse(node, '', 200).config!.nodes.length, 64);
  });

  test('a backup naming a group pins process i to its process i mod size; a NodeSetting on a group covers every process', () => {
    const { config, diagnostics: problems } = parse(
      `    <Node name="web" processes="3" host="127.0.0.1" httpPort="8001" replicationPort="7001" adminPort="9001" backup="api"/>
    <Node name="api" processes="2" host="127.0.0.2" httpPort="8001" replicationPort="7001" adminPort="9001" backup="web-2"/>`,
      '  <NodeSetting node="web"><Heartbeat intervalMs="100" deadAfterMs="300"/></NodeSetting>\n  <NodeSetting node="api-1"><Heartbeat intervalMs="50" deadAfterMs="300"/></NodeSetting>',
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(config!.nodes.map((n) => `${n.name}->${n.backup}`), ['web-0->api-0', 'web-1->api-1', 'web-2->api-0', 'api-0->web-2', 'api-1->web-2']);
    assert.deepEqual(['web-0', 'web-2', 'api-0', 'api-1'].map((n) => resolveNodeConfig(config!, n).heartbeat.intervalMs), [100, 100, 200, 50]);
  });

  test('bad counts, clashing names, ports and overlapping ranges are reported at the <Node>', () => {
    const long = 'n'.repeat(63);
    assert.deepEqual(
      diagnostics(
        xml(
          '  <NodeSetting node="web"><Heartbeat intervalMs="100"/></NodeSetting>\n  <NodeSetting node="web-1"><Heartbeat intervalMs="100"/></NodeSetting>',
          `    <Node name="web" processes="2" host="127.0.0.1" httpPort="8001" replicationPort="7001" adminPort="9001"/>
    <Node name="web-1" host="127.0.0.2" httpPort="8001" replicationPort="7001" adminPort="9001"/>
    <Node name="x" processes="0" host="127.0.0.3" httpPort="8001" replicationPort="7001" adminPort="9001"/>
    <Node name="y" processes="many" host="127.0.0.3" httpPort="8001" replicationPort="7001" adminPort="9001"/>
    <Node name="${long}" processes="10" host="127.0.0.3" httpPort="8001" replicationPort="7001" adminPort="9001"/>
    <Node name="z" processes="4" host="127.0.0.3" httpPort="65534" replicationPort="7001" adminPort="9001"/>
    <Node name="w" processes="4" host="127.0.0.1" httpPort="7999" replicationPort="7101" adminPort="9101" backup="web"/>`,
        ),
      ),
      [
        'server.xml:7:3: node "web-1" has more than one <NodeSetting>',
        'server.xml:10:5: node name "web-1" is already used at line 9',
        'server.xml:11:20: processes="0" on <Node> must be a number from 1 to 64, or "auto" (one per core)',
        'server.xml:12:20: processes="many" on <Node> must be a number from 1 to 64, or "auto" (one per core)',
        `server.xml:13:5: name="${long}" with 10 processes gives "${long}-9", longer than a name may be (64 characters)`,
        'server.xml:14:5: 4 processes from these ports need port 65537, above 65535',
        'server.xml:15:5: httpPort of node w-2 uses 127.0.0.1:8001, which is already the httpPort of node web-0',
        'server.xml:15:5: httpPort of node w-3 uses 127.0.0.1:8002, which is already the httpPort of node web-1',
      ],
    );
  });

  test('a node missing from the list that looks like a process of a group gets a hint about auto', async () => {
    const { unlistedProcessHint } = await import('../lib/config/types.js');
    assert.match(unlistedProcessHint(['web-0', 'web-1', 'b'], 'web-5') ?? '', /processes="auto" counts the cores of each machine/);
    assert.equal(unlistedProcessHint(['web-0', 'b'], 'api-5'), undefined);
    assert.equal(unlistedProcessHint(['web-0', 'b'], 'c'), undefined);
  });
});

describe('admin logins', () => {
  test('<Admin><User>: passwords found as the secret is, kept out of the config; missing ones reported at the <User>', () => {
    const text = xml('  <Admin host="127.0.0.1"><User name="viewer" role="read" env="CM_VIEWER"/><User name="ops" role="operator" env="CM_OPS"/></Admin>');
    const found = parseClusterConfig(text, 'server.xml', { env: { ...SECRET_ENV, CM_VIEWER: 'viewer-password-123456', CM_OPS: 'ops-password-1234567890' } });
    assert.deepEqual(found.diagnostics, []);
    assert.deepEqual(found.adminCredentials.map((c) => [c.name, c.role, c.password.toString()]), [['viewer', 'read', 'viewer-password-123456'], ['ops', 'operator', 'ops-password-1234567890']]);
    assert.doesNotMatch(JSON.stringify(found.config), /password-1234/, 'the config holds where a password is, never the password');
    assert.deepEqual(diagnostics(text, { ...SECRET_ENV, CM_VIEWER: 'viewer-password-123456' }), ['server.xml:6:76: no password of admin user ops: environment variable CM_OPS is unset']);
    assert.equal(parseClusterConfig(text, 'server.xml', { env: SECRET_ENV, skipSecretLookup: true }).diagnostics.length, 0, 'validate --skip-secret skips them too');
  });

  test('roles, duplicates, a missing source, and logins per node are refused', () => {
    assert.deepEqual(
      diagnostics(
        xml(`  <Admin><User name="a" role="root" env="X"/><User name="b" role="read"/><User name="c" role="read" env="X"/><User name="c" role="read" env="X"/></Admin>
  <NodeSetting node="a"><Admin><User name="d" role="read" env="X"/></Admin></NodeSetting>`),
        { ...SECRET_ENV, X: 'a-long-enough-password' },
      ),
      [
        'server.xml:6:25: role="root" on <User> must be one of read, operator',
        'server.xml:6:46: <User> needs env="VAR" or file="path" for its password',
        'server.xml:6:110: admin user "c" is listed twice',
        'server.xml:7:32: unknown element <User> in <Admin>',
      ],
    );
  });
});

describe('<Discovery> and <Encryption>', () => {
  const staticXml = (inner: string, proxyHost = '127.0.0.1') => `<Server name="t">
  <Cluster>1</Cluster>
  <Discovery type="static"/>
  <Secret env="CASTMIRROR_SECRET"/>
${inner}
  <Proxy host="${proxyHost}" port="8000"/>
  <ClusterNodes>
${NODES}
  </ClusterNodes>
</Server>`;

  test('multicast by default; static needs no multicast group; every node must agree, so neither is per node', () => {
    const multicast = parseConfigText(xml(''), 'server.xml', { env: SECRET_ENV });
    assert.deepEqual(multicast.config.discovery, { type: 'multicast' });
    assert.deepEqual(multicast.config.encryption, { links: 'off', datagrams: 'signed', admin: 'http', certificates: undefined });
    const unicast = parseConfigText(staticXml(''), 'server.xml', { env: SECRET_ENV });
    assert.deepEqual(unicast.config.discovery, { type: 'static' });
    assert.deepEqual(diagnostics(xml('  <Discovery type="gossip"/>')).map((d) => d.replace(/^server\.xml:\d+:\d+: /, '')), ['type="gossip" on <Discovery> must be one of multicast, static, dns, pubsub']);
    assert.match(diagnostics(xml('  <NodeSetting node="a"><Discovery type="static"/></NodeSetting>')).join('\n'), /Discovery/);
    assert.match(diagnostics(xml('  <NodeSetting node="a"><Encryption links="secret"/></NodeSetting>')).join('\n'), /Encryption/);
  });

  test('static discovery refuses wildcard hosts, where no datagram can be sent, at their element', () => {
    assert.deepEqual(diagnostics(staticXml('', '0.0.0.0')), ['server.xml:6:3: with <Discovery type="static">, <Proxy host> must be an address or name the nodes can reach (they send it their heartbeats), not 0.0.0.0']);
    const wildcardNode = staticXml('').replace('name="b" host="127.0.0.1"', 'name="b" host="0.0.0.0"');
    assert.deepEqual(diagnostics(wildcardNode), ['server.xml:9:5: with <Discovery type="static">, host of node b must be an address or name the other nodes can reach (datagrams are sent there), not 0.0.0.0']);
  });

  test('encryption: TLS keyed from the secret, or certificate files relative to server.xml with {node}; files only with certificates', () => {
    const keyed = parseConfigText(xml('  <Encryption links="secret" datagrams="encrypted"/>'), '/etc/castmirror/server.xml', { env: SECRET_ENV });
    assert.deepEqual(keyed.config.encryption, { links: 'secret', datagrams: 'encrypted', admin: 'http', certificates: undefined });
    const files = parseConfigText(xml('  <Encryption links="certificates" cert="tls/{node}.crt" key="tls/{node}.key" ca="tls/ca.crt"/>'), '/etc/castmirror/server.xml', { env: SECRET_ENV });
    assert.deepEqual(files.config.encryption.certificates, { cert: '/etc/castmirror/tls/{node}.crt', key: '/etc/castmirror/tls/{node}.key', ca: '/etc/castmirror/tls/ca.crt' });
    assert.deepEqual(diagnostics(xml('  <Encryption links="certificates" cert="a.crt"/>')), [`server.xml:6:3: links="certificates" needs cert, key and ca attributes (PEM files; {node} in a path stands for the node's name)`]);
    assert.deepEqual(diagnostics(xml('  <Encryption links="secret" ca="ca.crt"/>')), ['server.xml:6:3: cert, key and ca are read only with links="certificates" or admin="https", not links="secret"']);
  });
});

describe('<Store>', () => {
  test('defaults, every URL kind, and the refusals', () => {
    const store = (attributes: string) => parseConfigText(xml(`  <Store type="redis" ${attributes}/>`), 'server.xml', { env: SECRET_ENV }).config.store;
    assert.equal(parseConfigText(xml(''), 'server.xml', { env: SECRET_ENV }).config.store, undefined);
    assert.deepEqual(store('url="redis://10.0.0.5:6379"'), { type: 'redis', url: 'redis://10.0.0.5:6379', mode: 'write-through', flushMs: 100, backlogLimit: 100_000, keyPrefix: 'castmirror' });
    for (const url of ['rediss://cache.internal:6380', 'redis+cluster://h1:6379,h2:6379', 'redis+sentinel://:pw@h1:26379,h2:26379/mymaster']) assert.equal(store(`url="${url}"`)?.url, url);
    assert.equal(store('url="redis://h" mode="write-behind" flushMs="50"')?.flushMs, 50);
    const problems = (attributes: string) => diagnostics(xml(`  <Store ${attributes}/>`)).map((d) => d.replace(/^server\.xml:\d+:\d+: /, ''));
    assert.deepEqual(problems('type="memcached" url="redis://h"'), ['type="memcached" on <Store> must be one of redis']);
    assert.deepEqual(problems('type="redis" url="http://h"'), ['url="http://h" on <Store> is not a redis://, rediss://, redis+cluster:// or redis+sentinel:// URL']);
    assert.deepEqual(problems('type="redis" url="redis://h" mode="sometimes"'), ['mode="sometimes" on <Store> must be one of write-through, write-behind']);
    assert.match(diagnostics(xml('  <NodeSetting node="a"><Store type="redis" url="redis://h"/></NodeSetting>')).join('\n'), /Store/);
  });

  test('pubsub discovery needs a write-through store, named where it is missing or wrong', () => {
    const pubsub = parseConfigText(xml('  <Discovery type="pubsub"/>\n  <Store type="redis" url="redis://10.0.0.5:6379"/>'), 'server.xml', { env: SECRET_ENV }).config;
    assert.equal(pubsub.discovery.type, 'pubsub');
    assert.equal(pubsub.store?.mode, 'write-through');
    assert.deepEqual(diagnostics(xml('  <Discovery type="pubsub"/>')), ['server.xml:6:3: <Discovery type="pubsub"> publishes heartbeats and invalidations through the shared store: add <Store type="redis" url="..."/>']);
    assert.deepEqual(diagnostics(xml('  <Discovery type="pubsub"/>\n  <Store type="redis" url="redis://h" mode="write-behind"/>')), ['server.xml:7:3: with <Discovery type="pubsub"> the store holds the only other copy of each session: use mode="write-through" (every commit waits for the store)']);
    // Node hosts are not datagram targets there: a wildcard is the proxy's business alone.
    assert.deepEqual(diagnostics(xml('  <Discovery type="pubsub"/>\n  <Store type="redis" url="redis://h"/>', '    <Node name="a" host="0.0.0.0" httpPort="8081" replicationPort="7081" adminPort="9081"/>')), []);
  });
});
