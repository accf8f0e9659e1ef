/**
 * The route cookie: what the node signs, it reads back; anything else (tampered, signed
 * with another secret or for another cluster, malformed) is refused, counted, and never
 * throws.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { serialize } from 'cookie';
import fc from 'fast-check';
import { InvalidArgumentError } from '../lib/errors.js';
import { RouteCookie } from '../lib/http/route-cookie.js';
import { newSessionId } from '../lib/session/id.js';

const secret = randomBytes(32);
const hint = { sessionId: newSessionId(), primary: 'node-a', backup: 'node-b', primaryIncarnation: 'abcDEF123-0', version: 7 };

describe('RouteCookie', () => {
  test('round trip, and a Set-Cookie header with safe defaults', () => {
    const cookie = new RouteCookie({ secret, cluster: 'shop' });
    assert.deepEqual(cookie.decode(cookie.encode(hint)), hint);
    const header = cookie.serialize(hint);
    assert.match(header, /^castmirror\.route=v1\.[\w-]+\.[\w-]+; Path=\/; HttpOnly; SameSite=Lax$/);
    const secure = new RouteCookie({ secret, cluster: 'shop', name: 'r', secure: true, sameSite: 'strict', maxAgeSeconds: 60 });
    assert.match(secure.serialize(hint), /^r=.*; Max-Age=60; Path=\/; HttpOnly; Secure; SameSite=Strict$/);
    // A session without a backup yet.
    const alone = { sessionId: hint.sessionId, primary: 'node-a', backup: undefined, primaryIncarnation: 'x', version: 0 };
    assert.deepEqual(cookie.decode(cookie.encode(alone)), alone);
  });

  test('the Set-Cookie header is what the cookie package writes, for any attributes', () => {
    for (const options of [{}, { name: 'r', secure: true, sameSite: 'strict' as const, maxAgeSeconds: 60 }, { path: '/shop', sameSite: 'none' as const, secure: true }, { maxAgeSeconds: 0 }]) {
      const cookie = new RouteCookie({ secret, cluster: 'shop', ...options });
      const expected = serialize(cookie.name, cookie.encode(hint), { path: options.path ?? '/', httpOnly: true, sameSite: options.sameSite ?? 'lax', secure: options.secure === true, maxAge: options.maxAgeSeconds });
      assert.equal(cookie.serialize(hint), expected, JSON.stringify(options));
    }
  });

  test('tampering with any part, another secret or another cluster: refused', () => {
    const cookie = new RouteCookie({ secret, cluster: 'shop' });
    const value = cookie.encode(hint);
    const [prefix, body, tag] = value.split('.') as [string, string, string];
    const forgedBody = Buffer.from(JSON.stringify([hint.sessionId, 'node-c', 'node-b', hint.primaryIncarnation, 7])).toString('base64url');
    const flipped = (s: string, at: number) => s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);
    for (const bad of [
      `${prefix}.${forgedBody}.${tag}`,
      `${prefix}.${body}.${flipped(tag, 3)}`,
      `${prefix}.${flipped(body, 10)}.${tag}`,
      `v2.${body}.${tag}`,
      `${value}.extra`,
      `${prefix}.${body}.`,
      new RouteCookie({ secret: randomBytes(32), cluster: 'shop' }).encode(hint),
      new RouteCookie({ secret, cluster: 'other' }).encode(hint),
      'x'.repeat(5000),
    ]) {
      assert.equal(cookie.decode(bad), undefined, bad.slice(0, 60));
    }
  });

  test('read() counts valid and forged cookies and ignores the others', () => {
    const cookie = new RouteCookie({ secret, cluster: 'shop' });
    const value = cookie.encode(hint);
    assert.deepEqual(cookie.read(undefined), { status: 'absent' });
    assert.deepEqual(cookie.read('theme=dark; lang=en'), { status: 'absent' });
    assert.deepEqual(cookie.read(`theme=dark; castmirror.route=${value}`), { status: 'valid', hint });
    assert.deepEqual(cookie.read(`castmirror.route=${value.slice(0, -2)}`), { status: 'forged' });
    assert.deepEqual(cookie.read('castmirror.route=%E0%A4%A'), { status: 'forged' });
    assert.deepEqual(cookie.read('castmirror.route='), { status: 'absent' }, 'a removed cookie');
    assert.deepEqual(cookie.stats, { valid: 1, forged: 2 });
    assert.match(cookie.clearing(), /^castmirror\.route=; Max-Age=0; Path=\/; HttpOnly; SameSite=Lax$/);
  });

  test('arbitrary cookie values never throw and never pass', () => {
    const cookie = new RouteCookie({ secret, cluster: 'shop' });
    const valid = cookie.encode(hint);
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.tuple(fc.nat(valid.length - 1), fc.string({ minLength: 1, maxLength: 3 })).map(([at, s]) => valid.slice(0, at) + s + valid.slice(at + 1))), (value) => {
        const decoded = cookie.decode(value);
        if (value === valid) return;
        assert.equal(decoded, undefined);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('RouteCookie attributes', () => {
  test('are checked once, at the door, with a coded error (never the cookie package raw TypeError)', () => {
    const secret = randomBytes(32);
    for (const bad of [{ maxAgeSeconds: 1.5 }, { maxAgeSeconds: -1 }, { sameSite: 'sometimes' as never }, { path: 'no-slash' }, { path: '/a;b' }]) {
      assert.throws(() => new RouteCookie({ secret, cluster: 'shop', ...bad }), (error: unknown) => error instanceof InvalidArgumentError, JSON.stringify(bad));
    }
  });

  test('the counts of valid and forged cookies are the token\'s, read-only', () => {
    const cookie = new RouteCookie({ secret: randomBytes(32), cluster: 'shop' });
    cookie.read(`${cookie.name}=${cookie.encode({ sessionId: newSessionId(), primary: 'a', version: 1 })}`);
    cookie.read(`${cookie.name}=v1.forged.tag`);
    assert.deepEqual(cookie.stats, { valid: 1, forged: 1 });
    (cookie.stats as { valid: number }).valid = 99;
    assert.equal(cookie.stats.valid, 1, 'a copy: the counts cannot be changed from outside');
  });
});
