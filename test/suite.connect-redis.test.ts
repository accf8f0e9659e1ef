/**
 * connect-redis's store lifecycle test (test/upstream/connect-redis) against CastmirrorStore:
 * standalone, and on a two-node cluster in sync mode.
 */
import { after, before, describe, test } from 'node:test';
import { CastmirrorStore } from '../lib/express-session/store.js';
import { keyOf } from '../lib/express-session/stored-form.js';
import type { CacheNode } from '../lib/index.js';
import { nodePair, standaloneNode, type NodePair } from './helpers/nodes.js';
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
    node = await standaloneNode();
  });
  after(() => node.close());

  test('lifecycle', async () => {
    const store = new CastmirrorStore({ node, prefix: 'sess:' });
    await lifecycleTest(store, ttlOf(node, store), node.config.sessions.timeoutSeconds);
  });
});

describe('connect-redis lifecycle test, two-node cluster in sync mode', { timeout: 60_000 }, () => {
  let pair: NodePair;
  before(async () => {
    pair = await nodePair();
  });
  after(() => pair?.close());

  test('lifecycle', async () => {
    const [node] = pair.nodes;
    const store = new CastmirrorStore({ node, prefix: 'sess:' });
    await lifecycleTest(store, ttlOf(node, store), node.config.sessions.timeoutSeconds);
  });
});
