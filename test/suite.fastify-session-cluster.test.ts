/**
 * @fastify/session's own tests (test/upstream/fastify-session) with CastmirrorStore on the first
 * node of a real two-node cluster in sync mode: every save is mirrored to the other node before
 * @fastify/session is told it is done.
 */
import { createRequire } from 'node:module';
import { after, before } from 'node:test';
import { CastmirrorStore } from '../lib/express-session/store.js';
import { startNode, type CacheNode } from '../lib/index.js';
import { makeCluster, type TestCluster } from './helpers/cluster.js';
import { eventually } from './helpers/wait.js';

const require = createRequire(import.meta.url);
let cluster: TestCluster;
let nodes: CacheNode[] = [];
let stores = 0;
before(async () => {
  cluster = await makeCluster({ nodes: 2, extraXml: '<Replication mode="sync"/>' });
  nodes = await Promise.all(['node-a', 'node-b'].map((nodeName) => startNode({ configPath: cluster.configPath, nodeName })));
  await eventually(() => nodes.every((n) => n.membership!.alive().length === 2), { what: 'two members' });
});
after(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  cluster?.cleanup();
});
(require('./upstream/store-factory.cjs') as { use(make: () => CastmirrorStore): void }).use(() => new CastmirrorStore({ node: nodes[0]!, prefix: `suite-${++stores}:` }));
for (const file of ['base', 'cookie', 'expiration', 'session', 'store', 'verifyPath']) require(`./upstream/fastify-session/${file}.test.cjs`);
