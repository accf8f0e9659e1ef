/**
 * The shared store's copy of sessions (lib/replication/vault.ts) against a real
 * redis-server on 127.0.0.1: write-through waits for the store, write-behind keeps only the
 * latest version of a session and writes it at the next flush, TTLs follow the session's
 * expiry, a damaged value is refused and counted; the store killed and started again: no
 * write waits or fails, the backlog is written when it is back, and a full backlog drops its
 * oldest changes, counted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { StoreSettings } from '../lib/config/types.js';
import { decodeSnapshot } from '../lib/replication/protocol.js';
import { SessionVault } from '../lib/replication/vault.js';
import { newSessionId } from '../lib/session/id.js';
import { ReferenceRegistry } from '../lib/session/reference.js';
import { SessionObject } from '../lib/session/session.js';
import { REDIS_SKIP, RedisServer } from './helpers/redis.js';
import { eventually } from './helpers/wait.js';

function session(timeoutMs = 60_000): SessionObject {
  const now = Date.now();
  return new SessionObject({ id: newSessionId(), version: 1, epoch: 0, primary: 'node-a', backup: undefined, origin: 'node-a', createdAt: now, lastAccessAt: now, timeoutMs, expiresAt: null }, new ReferenceRegistry());
}

describe('the shared store (a real redis-server)', { skip: REDIS_SKIP, timeout: 60_000 }, () => {
  let redis: RedisServer;
  let reader: Redis;
  const vaults: SessionVault[] = [];
  const open = async (settings: Partial<StoreSettings> = {}) => {
    const vault = await SessionVault.open({ type: 'redis', url: redis.url, mode: 'write-through', flushMs: 20, backlogLimit: 1000, keyPrefix: `t${vaults.length}`, ...settings }, 'unit');
    vaults.push(vault);
    await eventually(() => vault.stats.state === 'up', { what: 'the vault to connect' });
    return vault;
  };
  const stored = async (vault: SessionVault, id: string) => {
    const bytes = await reader.getBuffer(`t${vaults.indexOf(vault)}:unit:session:${id}`);
    return bytes ? decodeSnapshot(bytes) : undefined;
  };

  before(async () => {
    redis = await RedisServer.start();
    reader = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: null });
    reader.on('error', () => {}); // the store is killed on purpose below
    await reader.connect();
  });
  after(async () => {
    for (const vault of vaults) await vault.close(100);
    reader.disconnect();
    await redis.remove();
  });

  test('write-through: a write resolves once the store has it; its TTL is the session\'s end; load, touch and delete', async () => {
    const vault = await open();
    const s = session(60_000);
    s.global.set('cart', ['sku-1']);
    await vault.write(s);
    const copy = await stored(vault, s.id);
    assert.deepEqual(copy?.entries.map(([pool, key]) => [pool, key]), [['global', 'cart']]);
    const ttl = await reader.pttl(`t0:unit:session:${s.id}`);
    assert.ok(ttl > 55_000 && ttl <= 60_000, `TTL ${ttl} ms is the session's lifetime`);
    assert.equal((await vault.load(s.id))?.meta.id, s.id);
    // A touch moves the TTL, at most every 1/20 of the lifetime (3 s here): the first one now is skipped.
    vault.touch(s);
    s.meta.lastAccessAt = Date.now() + 10_000;
    vault.touch(s);
    assert.equal(vault.stats.backlog, 0, 'throttled: written less than 3 s ago');
    vault.delete(s.id);
    await eventually(async () => (await stored(vault, s.id)) === undefined, { what: 'the delete' });
    assert.equal(await vault.load(s.id), undefined);
    assert.equal(vault.stats.deletes, 1);
  });

  test('write-behind: writes return at once; only the latest version of a session is written, at the next flush', async () => {
    const vault = await open({ mode: 'write-behind', flushMs: 50 });
    const s = session();
    for (let version = 1; version <= 100; version++) {
      s.meta.version = version;
      assert.equal(vault.write(s), undefined, 'nothing to wait for');
    }
    assert.equal(vault.stats.backlog, 1, 'one change per session waits');
    await eventually(async () => (await stored(vault, s.id))?.meta.version === 100, { what: 'the latest version in the store' });
    assert.equal(vault.stats.writes, 1, 'one write for 100 versions');
  });

  test('a damaged value is refused and counted, never served', async () => {
    const vault = await open();
    const id = newSessionId();
    await reader.set(`t${vaults.indexOf(vault)}:unit:session:${id}`, 'not cbor at all \u00ff');
    assert.equal(await vault.load(id), undefined);
    assert.equal(vault.stats.loadFailures, 1);
  });

  test('the store killed and started again: no write waits or fails; the backlog is written when it is back; a full backlog drops the oldest, counted', async (t) => {
    const through = await open();
    const bounded = await open({ backlogLimit: 3 });
    const sessions = Array.from({ length: 5 }, () => session());
    await redis.stop();
    await eventually(() => through.stats.state === 'down' && bounded.stats.state === 'down', { what: 'both vaults to see the store down' });
    const started = performance.now();
    for (const s of sessions) {
      s.meta.version = 7;
      await through.write(s);
      await bounded.write(s);
    }
    const waitedMs = performance.now() - started;
    assert.equal(through.stats.backlog, 5);
    assert.equal(bounded.stats.backlog, 3);
    assert.equal(bounded.stats.backlogDropped, 2);
    await redis.start();
    await eventually(() => through.stats.backlog === 0 && bounded.stats.backlog === 0, { what: 'the backlogs written', timeoutMs: 10_000 });
    for (const s of sessions) assert.equal((await stored(through, s.id))?.meta.version, 7, 'every change reached the store');
    const kept = await Promise.all(sessions.map(async (s) => (await stored(bounded, s.id))?.meta.version));
    assert.deepEqual(kept, [undefined, undefined, 7, 7, 7], 'the two oldest were dropped');
    t.diagnostic(`10 writes with the store down took ${Math.round(waitedMs)} ms in all`);
  });
});
