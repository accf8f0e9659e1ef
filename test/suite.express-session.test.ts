/**
 * express-session's own test suite (test/session.js, vendored in test/upstream/express-session
 * with the changes its README lists) with CastmirrorStore in place of MemoryStore: on a
 * standalone node, and on the first node of a real two-node cluster in sync mode (every
 * session mirrored to the other node before express-session is told it is saved).
 */
import { createRequire } from 'node:module';
import { after, before, describe } from 'node:test';
import { CastmirrorStore } from '../lib/express-session/store.js';
import { parseConfigText, startNode, type CacheNode } from '../lib/index.js';
import { makeCluster, type TestCluster } from './helpers/cluster.js';
import { installMochaGlobals } from './upstream/mocha.js';
import { eventually } from './helpers/wait.js';

const require = createRequire(import.meta.url);
installMochaGlobals();
const suite = require('./upstream/express-session/session.cjs') as (newStore: () => CastmirrorStore) => void;

/** Each test's stores see only their own sessions, as each test's MemoryStore does upstream. */
let stores = 0;
const prefix = (): string => `suite-${++stores}:`;

describe('express-session test/session.js, standalone node', { timeout: 120_000 }, () => {
  let node: CacheNode;
  before(async () => {
    const config = parseConfigText('<Server name="solo"><Cluster>0</Cluster><ClusterNodes><Node name="a" host="127.0.0.1" httpPort="1" replicationPort="2" adminPort="3"/></ClusterNodes></Server>', 'inline.xml');
    node = await startNode({ config, nodeName: 'a', admin: false });
  });
  after(() => node.close());
  suite(() => new CastmirrorStore({ node, prefix: prefix() }));
});

describe('express-session test/session.js, two-node cluster in sync mode', { timeout: 120_000 }, () => {
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
  suite(() => new CastmirrorStore({ node: nodes[0]!, prefix: prefix() }));
});
