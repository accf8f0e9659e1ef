/**
 * @fastify/session's own tests (vendored in test/upstream/fastify-session with the changes its
 * README lists) with CastmirrorStore as the store of every app they build: on a standalone node
 * here; test/suite.fastify-session-cluster.test.ts runs them on a two-node cluster in sync mode.
 */
import { createRequire } from 'node:module';
import { after, before } from 'node:test';
import { CastmirrorStore } from '../lib/express-session/store.js';
import type { CacheNode } from '../lib/index.js';
import { standaloneNode } from './helpers/nodes.js';

const require = createRequire(import.meta.url);
let node: CacheNode;
let stores = 0;
before(async () => {
  node = await standaloneNode();
});
after(() => node.close());
(require('./upstream/store-factory.cjs') as { use(make: () => CastmirrorStore): void }).use(() => new CastmirrorStore({ node, prefix: `suite-${++stores}:` }));
for (const file of ['base', 'cookie', 'expiration', 'session', 'store', 'verifyPath']) require(`./upstream/fastify-session/${file}.test.cjs`);
