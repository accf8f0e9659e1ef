/**
 * @fastify/session's own tests (vendored in test/upstream/fastify-session with the changes its
 * README lists) with CastmirrorStore as the store of every app they build: on a standalone node
 * here; test/suite.fastify-session-cluster.test.ts runs them on a two-node cluster in sync mode.
 */
import { createRequire } from 'node:module';
import { after, before } from 'node:test';
import { CastmirrorStore } from '../lib/express-session/store.js';
import { parseConfigText, startNode, type CacheNode } from '../lib/index.js';

const require = createRequire(import.meta.url);
let node: CacheNode;
let stores = 0;
before(async () => {
  const config = parseConfigText('<Server name="solo"><Cluster>0</Cluster><ClusterNodes><Node name="a" host="127.0.0.1" httpPort="1" replicationPort="2" adminPort="3"/></ClusterNodes></Server>', 'inline.xml');
  node = await startNode({ config, nodeName: 'a', admin: false });
});
after(() => node.close());
(require('./upstream/store-factory.cjs') as { use(make: () => CastmirrorStore): void }).use(() => new CastmirrorStore({ node, prefix: `suite-${++stores}:` }));
for (const file of ['base', 'cookie', 'expiration', 'session', 'store', 'verifyPath']) require(`./upstream/fastify-session/${file}.test.cjs`);
