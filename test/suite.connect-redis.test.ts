/**
 * connect-redis's store lifecycle test (test/upstream/connect-redis) against CastmirrorStore:
 * standalone, and on a two-node cluster in sync mode.
 */
import { after, before, describe, test } from 'node:test';
import { CastmirrorStore } from '../lib/express-session/store.js';
import { keyOf } from '../lib/express-session/stored-form.js';
import { parseConfigText, startNode, type CacheNode } from '../lib/index.js';
import { makeCluster, type TestCluster } from './helpers/cluster.js';
import { eventually } from './helpers/wait.js';
import { lifecycleTest } from './upstream/connect-redis/lifecycle.js';

/** How long `node` keeps the session `sid` of `store`, in seconds (what Redis's TTL says of a key). */
function ttlOf(node: CacheNode, store: CastmirrorStore) {
  return (sid: string): number => {
    const held = node.sessions.inspect(keyOf(store.prefix + sid));
    if (!held) return -2;
    const { expiresAt, lastAccessAt, timeoutMs } = held.session.meta;
    return Math.ceil(((expiresAt ?? lastAccessAt + timeoutMs) - Date.now()) / 1000);
  };
}

describe('connect-redis lifecycle test, standalone node', () => {
  let node: CacheNode;
  before(async () => {
    const config = parseConfigText('<Server name="solo"><Cluster>0</Cluster><ClusterNodes><Node name="a" host="127.0.0.1" httpPort="1" replicationPort="2" adminPort="3"/></ClusterNodes></Server>', 'inline.xml');
    node = await startNode({ config, nodeName: 'a', admin: false });
  });
  after(() => node.close());

  test('lifecycle', async () => {
    const store = new CastmirrorStore({ node, prefix: 'sess:' });
    await lifecycleTest(store, ttlOf(node, store), node.config.sessions.timeoutSeconds);
  });
});

describe('connect-redis lifecycle test, two-node cluster in sync mode', { timeout: 60_000 }, () => {
  let cluster: TestCluster;
  let nodes: CacheNode[] = [];
  before(async () => {
    cluster = await makeCluster({ nodes: 2, extraXml: '<Replication mode="sync"/>' });
    nodes = await Promise.all(['node-a', 'node-b'].map((nodeName) => startNode({ configPath: cluster.configPath, nodeName })));
    await eventually(() => nodes.every((n) => n.membership!.alive().length === 2), { what: 'two members' });
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.close()));
    cluster?.cleanup();
  });

  test('lifecycle', async () => {
    const store = new CastmirrorStore({ node: nodes[0]!, prefix: 'sess:' });
    await lifecycleTest(store, ttlOf(nodes[0]!, store), nodes[0]!.config.sessions.timeoutSeconds);
  });
});
