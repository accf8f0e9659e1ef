import assert from 'node:assert/strict';
import { plainDataProblem } from '../lib/session/plain-data.js';
import { describe, test } from 'node:test';
import { Decoder, Encoder } from 'cbor-x';
import { SessionStateError, SessionValueError } from '../lib/errors.js';
import { applyDelta, deltaOf, sessionFromSnapshot, snapshotOf, type SessionDelta, type SessionSnapshot } from '../lib/session/codec.js';
import { isSessionId, newSessionId } from '../lib/session/id.js';
import { LogicalRef, type ReferenceRegistry } from '../lib/session/reference.js';
import { SessionObject } from '../lib/session/session.js';
import { makeDatabase, makeReferences, PageIterator } from './helpers/references.js';

const encoder = new Encoder({ useRecords: false, mapsAsObjects: true });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });
/** Through CBOR and back, as on a replication link. */
const wire = <T>(value: T): T => decoder.decode(encoder.encode(value)) as T;

function newSession(references: ReferenceRegistry<unknown> = makeReferences() as ReferenceRegistry<unknown>): SessionObject {
  return new SessionObject({ id: newSessionId(), version: 0, epoch: 0, primary: 'a', backup: 'b', origin: 'a', createdAt: 1, lastAccessAt: 1, timeoutMs: 60_000, expiresAt: null }, references);
}

describe('session ids', () => {
  test('are URL-safe, at least 128 random bits, and unique', () => {
    const ids = new Set(Array.from({ length: 10_000 }, newSessionId));
    assert.equal(ids.size, 10_000);
    for (const id of [...ids].slice(0, 100)) {
      assert.ok(isSessionId(id));
      assert.ok(Buffer.from(id, 'base64url').length * 8 >= 128);
    }
  });
});

describe('pools', () => {
  test('typed accessors and change tracking since the last mirrored version', () => {
    const s = newSession();
    s.global.set('user', 'ada').set('visits', 3);
    s.interactive.set('step', 'address');
    assert.equal(s.global.getString('user'), 'ada');
    assert.equal(s.global.getNumber('visits'), 3);
    assert.throws(() => s.global.getNumber('user'), SessionValueError);
    const first = deltaOf(s)!;
    assert.deepEqual(first.set.map(([p, k]) => `${p}/${k}`).sort(), ['global/user', 'global/visits', 'interactive/step']);
    s.markMirrored();
    assert.equal(deltaOf(s), undefined, 'nothing changed since');
    s.global.delete('visits');
    s.global.set('user', 'ada lovelace');
    const second = deltaOf(s)!;
    assert.deepEqual(second.set, [['global', 'user', 'ada lovelace']]);
    assert.deepEqual(second.delete, [['global', 'visits']]);
  });

  test('a value that cannot be mirrored fails at set(), naming pool and key', () => {
    const s = newSession();
    const cases: [unknown, RegExp][] = [
      [() => 1, /a function/],
      [{ nested: { when: Symbol('x') } }, /a symbol at nested\.when/],
      [new (class Basket {})(), /instance of Basket would lose its class/],
      [undefined, /undefined cannot be stored/],
    ];
    for (const [value, message] of cases) {
      assert.throws(
        () => s.application.set('cart', value),
        (error: unknown) => error instanceof SessionValueError && error.pool === 'application' && error.key === 'cart' && message.test(error.message),
      );
    }
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => s.global.set('loop', cyclic), /circular reference at self/);
    s.global.set('ok', { when: new Date(0), tags: new Set(['a']), bytes: Buffer.from('x'), list: [1, null, true] });
  });

  test('the message names the path to the problem exactly', () => {
    const problemOf = (value: unknown) => plainDataProblem(value);
    assert.equal(problemOf({ a: [1, { b: () => 1 }] }), 'a function at a[1].b cannot be stored');
    assert.equal(problemOf([[Symbol('s')]]), 'a symbol at [0][0] cannot be stored');
    assert.equal(problemOf(new Map([['k', { deep: () => 0 }]])), 'a function at .get(k).deep cannot be stored');
    assert.equal(problemOf(new Map([[() => 0, 1]])), 'a function at <key> cannot be stored');
    assert.equal(problemOf({ tags: new Set([Symbol('t')]) }), 'a symbol at tags<item> cannot be stored');
    assert.equal(problemOf(() => 1), 'a function cannot be stored');
    const shared = { n: 1 };
    assert.equal(problemOf({ a: shared, b: shared, c: [shared, shared] }), undefined, 'the same object twice is not a cycle');
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = { d: deep };
    assert.match(problemOf(deep)!, /^nesting deeper than 32 at d\.d\./);
    assert.equal(problemOf({ ok: [1, 'x', null, new Date(0), { y: true }] }), undefined);
  });
});

describe('logical references', () => {
  test('a matching value is stored as its reference; the live object is kept on the primary', () => {
    const s = newSession();
    const row = { table: 'product', key: 'sku-7', data: { price: 17 } };
    s.application.set('product', row);
    assert.equal(s.application.get('product'), row);
    assert.deepEqual(s.application.getRef('product'), new LogicalRef('row', ['product', 'sku-7']));
    assert.deepEqual(deltaOf(s)!.set, [['application', 'product', new LogicalRef('row', ['product', 'sku-7'])]]);
  });

  test('an object changed in place is noticed at the next delta (the page iterator moves on)', () => {
    const s = newSession();
    const iterator = new PageIterator('Product', 40, 0);
    s.interactive.set('search', iterator);
    s.markMirrored();
    assert.equal(deltaOf(s), undefined);
    iterator.next();
    const delta = deltaOf(s)!;
    assert.deepEqual(delta.set, [['interactive', 'search', new LogicalRef('page-iterator', { q: 'Product', size: 40, page: 1 })]]);
  });

  test('a copy keeps references unrebuilt; materialize() rebuilds them, asynchronously', async () => {
    const references = makeReferences();
    const db = makeDatabase();
    const s = newSession(references as ReferenceRegistry<unknown>);
    s.application.set('product', { table: 'product', key: 'sku-3', data: {} });
    s.interactive.set('search', new PageIterator('number 1', 5, 1));
    const copy = sessionFromSnapshot(wire(snapshotOf(s)), references as ReferenceRegistry<unknown>);
    assert.throws(() => copy.application.get('product'), SessionStateError);
    assert.equal(db.reads, 0, 'nothing rebuilt on the copy');
    await copy.materialize(db);
    assert.deepEqual((copy.application.get('product') as { data: unknown }).data, db.rows.get('product/sku-3'));
    const iterator = copy.interactive.get('search') as PageIterator;
    assert.ok(iterator instanceof PageIterator);
    assert.equal(iterator.page, 1);
    assert.equal(iterator.rows.length, 5);
  });
});

describe('snapshots and deltas', () => {
  test('a stream of deltas, through CBOR, rebuilds the same state on the copy', () => {
    const references = makeReferences() as ReferenceRegistry<unknown>;
    const s = newSession(references);
    s.global.set('n', 0);
    const copy = sessionFromSnapshot(wire(snapshotOf(s)), references);
    s.markMirrored();
    for (let i = 1; i <= 50; i++) {
      s.global.set('n', i);
      if (i % 10 === 0) s.pushComposite().simple.set('at', i);
      if (i % 15 === 0) s.popComposite();
      if (i % 7 === 0) s.application.set(`k${i}`, { i });
      if (i % 14 === 0) s.application.delete(`k${i - 7}`);
      const delta = deltaOf(s)!;
      s.meta.version = delta.version;
      s.markMirrored();
      assert.equal(applyDelta(copy, wire(delta)), 'applied');
    }
    assert.deepEqual(wire(snapshotOf(copy)), wire(snapshotOf(s)));
  });

  test('a pop followed by a push within one version replaces the step on the copy', () => {
    const references = makeReferences() as ReferenceRegistry<unknown>;
    const s = newSession(references);
    s.pushComposite().pool.set('old', 1);
    const copy = sessionFromSnapshot(wire(snapshotOf(s)), references);
    s.markMirrored();
    s.popComposite();
    s.pushComposite().pool.set('new', 2);
    applyDelta(copy, wire(deltaOf(s)!));
    assert.deepEqual(copy.composite[0]!.pool.keys(), ['new']);
  });

  test('a delta applies only on top of its base version: a gap or a stale one is refused', () => {
    const references = makeReferences() as ReferenceRegistry<unknown>;
    const s = newSession(references);
    const copy = sessionFromSnapshot(snapshotOf(s), references);
    s.global.set('a', 1);
    const d1 = deltaOf(s)!;
    s.meta.version = d1.version;
    s.markMirrored();
    s.global.set('a', 2);
    const d2: SessionDelta = deltaOf(s)!;
    assert.equal(applyDelta(copy, d2), 'gap', 'version 2 cannot go on top of version 0');
    assert.equal(copy.version, 0);
    assert.equal(applyDelta(copy, d1), 'applied');
    assert.equal(applyDelta(copy, d1), 'stale');
    assert.equal(applyDelta(copy, d2), 'applied');
    assert.equal(copy.global.get('a'), 2);
  });

  test('snapshot shape survives the wire', () => {
    const s = newSession();
    s.global.set('x', new Map([['a', 1]]));
    const back: SessionSnapshot = wire(snapshotOf(s));
    assert.deepEqual(back.meta, s.meta);
  });
});
