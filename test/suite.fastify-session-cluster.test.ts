/**
 * @fastify/session's own tests (test/upstream/fastify-session) with CastmirrorStore on the first
 * node of a real two-node cluster in sync mode: every save is mirrored to the other node before
 * @fastify/session is told it is done.
 */
import { createRequire } from 'node:module';
import { after, before } from 'node:test';
import { CastmirrorStore } from '../lib/express-session/store.js';
import { nodePair, type NodePair } from './helpers/nodes.js';

const require = createRequire(import.meta.url);
let pair: NodePair;
let stores = 0;
before(async () => {
  pair = await nodePair();
});
after(() => pair?.close());
(require('./upstream/store-factory.cjs') as { use(make: () => CastmirrorStore): void }).use(() => new CastmirrorStore({ node: pair.nodes[0], prefix: `suite-${++stores}:` }));
for (const file of ['base', 'cookie', 'expiration', 'session', 'store', 'verifyPath']) require(`./upstream/fastify-session/${file}.test.cjs`);
