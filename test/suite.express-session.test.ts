/**
 * express-session's own test suite (test/session.js, vendored in test/upstream/express-session
 * with the changes its README lists) with CastmirrorStore in place of MemoryStore: on a
 * standalone node, and on the first node of a real two-node cluster in sync mode (every
 * session mirrored to the other node before express-session is told it is saved).
 */
import { createRequire } from 'node:module';
import { after, before, describe } from 'node:test';
import { CastmirrorStore } from '../lib/express-session/store.js';
import type { CacheNode } from '../lib/index.js';
import { nodePair, standaloneNode, type NodePair } from './helpers/nodes.js';
import { installMochaGlobals } from './upstream/mocha.js';

const require = createRequire(import.meta.url);
installMochaGlobals();
const suite = require('./upstream/express-session/session.cjs') as (newStore: () => CastmirrorStore) => void;

/** Each test's stores see only their own sessions, as each test's MemoryStore does upstream. */
let stores = 0;
const prefix = (): string => `suite-${++stores}:`;

describe('express-session test/session.js, standalone node', { timeout: 120_000 }, () => {
  let node: CacheNode;
  before(async () => {
    node = await standaloneNode();
  });
  after(() => node.close());
  suite(() => new CastmirrorStore({ node, prefix: prefix() }));
});

describe('express-session test/session.js, two-node cluster in sync mode', { timeout: 120_000 }, () => {
  let pair: NodePair;
  before(async () => {
    pair = await nodePair();
  });
  after(() => pair?.close());
  suite(() => new CastmirrorStore({ node: pair.nodes[0], prefix: prefix() }));
});
