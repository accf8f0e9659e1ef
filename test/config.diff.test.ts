/**
 * diffConfig: which changes to server.xml a running node takes, and which need a restart
 * (each named with its XML spelling).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffConfig } from '../lib/config/diff.js';
import { parseConfigText, resolveNodeConfig } from '../lib/index.js';

const SECRET = { CM_SECRET: 'diff-test-secret-0123456789' };
const xml = (inside: string, nodes = '') => `<Server name="shop"><Cluster>1</Cluster><MulticastAddress>239.1.2.3</MulticastAddress><MulticastPort>45000</MulticastPort>
<MulticastInterface>127.0.0.1</MulticastInterface><MulticastTTL>0</MulticastTTL><Secret env="CM_SECRET"/>${inside}
<ClusterNodes><Node name="a" host="127.0.0.1" httpPort="8001" replicationPort="7001" adminPort="9001"/><Node name="b" host="127.0.0.1" httpPort="8002" replicationPort="7002" adminPort="9002"/>${nodes}</ClusterNodes></Server>`;
const load = (text: string) => parseConfigText(text, 'server.xml', { env: SECRET });
const diff = (before: string, after: string) => {
  const [x, y] = [load(before), load(after)];
  return diffConfig(resolveNodeConfig(x.config, 'a'), resolveNodeConfig(y.config, 'a'), { current: x.secret, next: y.secret });
};

test('nothing changed: nothing to apply, nothing to restart', () => {
  const same = xml('<Caches><Cache type="product" capacity="10"/></Caches>');
  assert.deepEqual(diff(same, same), { live: [], restart: [] });
});

test('live: nodes added and removed, cache capacity and TTL, new cache types and applications, heartbeat, replication', () => {
  const before = xml('<Heartbeat intervalMs="100" deadAfterMs="500"/><Caches><Cache type="product" capacity="10"/></Caches><Applications><Application name="shop" enabled="1"/></Applications>');
  const after = xml(
    '<Heartbeat intervalMs="200" deadAfterMs="1000"/><Replication mode="batched" batchSize="10"/><Caches><Cache type="product" capacity="20" ttlSeconds="5"/><Cache type="price"/></Caches><Applications><Application name="shop" enabled="1"/><Application name="blog" enabled="0"/></Applications>',
    '<Node name="c" host="127.0.0.1" httpPort="8003" replicationPort="7003" adminPort="9003"/>',
  );
  const result = diff(before, after);
  assert.deepEqual(result.restart, []);
  assert.deepEqual(result.live, [
    'nodes added: c',
    '<Heartbeat>: intervalMs 200, deadAfterMs 1000',
    '<Replication>: mode batched, batchSize 10, batchIntervalMs 1000, rehome eager, noBackup accept',
    'cache product: capacity 20, ttlSeconds 5',
    'cache price added (capacity 10000, ttlSeconds 0)',
    'applications added: blog',
  ]);
  assert.deepEqual(diff(after, before).live.slice(0, 1), ['nodes removed: c']);
});

test('restart: the group, TTL, messaging, sessions, admin, this node\'s own entry, removed caches and applications', () => {
  const before = xml('<Caches><Cache type="product"/></Caches><Applications><Application name="shop" enabled="1"/></Applications>');
  const after = xml('<Messaging coalesceMs="5"/><Sessions timeoutSeconds="60"/><Admin host="0.0.0.0"/>')
    .replace('45000', '45001')
    .replace('<MulticastTTL>0', '<MulticastTTL>1')
    .replace('httpPort="8001"', 'httpPort="8101"');
  const { restart } = diff(before, after);
  for (const expected of ['<MulticastAddress>/<MulticastPort>', '<MulticastInterface>/<MulticastTTL>', '<Messaging>', '<Sessions timeoutSeconds>', '<Admin host>', "this node's <Node> entry", 'cache product removed', 'application shop removed']) {
    assert.ok(restart.some((line) => line.startsWith(expected)), `${expected} in ${JSON.stringify(restart)}`);
  }
});

test('a new secret needs a restart', () => {
  const text = xml('');
  const x = load(text);
  const y = parseConfigText(text, 'server.xml', { env: { CM_SECRET: 'another-secret-0123456789' } });
  const { restart } = diffConfig(resolveNodeConfig(x.config, 'a'), resolveNodeConfig(y.config, 'a'), { current: x.secret, next: y.secret });
  assert.deepEqual(restart, ['<Secret> changed: needs a restart of a']);
});
