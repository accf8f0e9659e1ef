/**
 * ApplicationRegistry: the merge rule (highest version, then origin; version 0 is each
 * node's own config), persistence (atomic file, read back at start, a damaged file
 * ignored), and refusals (an unknown application, an unknown state).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { ApplicationRegistry } from '../lib/apps/registry.js';
import type { AppState } from '../lib/wire/messages.js';

const initial = [
  { name: 'shop', enabled: true },
  { name: 'blog', enabled: false },
];

describe('ApplicationRegistry', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'castmirror-apps-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('starts from server.xml at version 0; changes count up from the highest version seen', () => {
    const apps = new ApplicationRegistry({ self: 'node-a', initial });
    assert.deepEqual(apps.list().map((a) => [a.name, a.state, a.version]), [['blog', 'disabled', 0], ['shop', 'enabled', 0]]);
    assert.deepEqual(apps.change('shop', 'draining'), { name: 'shop', state: 'draining', version: 1, origin: 'node-a' });
    assert.deepEqual(apps.merge([{ name: 'shop', state: 'enabled', version: 5, origin: 'node-c' }]).length, 1);
    assert.equal(apps.change('shop', 'disabled').version, 6);
  });

  test('merge: higher version wins, then higher origin; version 0 and unknown names never travel', () => {
    const apps = new ApplicationRegistry({ self: 'node-b', initial });
    const taken = (state: AppState, version: number, origin: string) => apps.merge([{ name: 'shop', state, version, origin }]).length;
    assert.equal(taken('disabled', 0, 'node-z'), 0, "another node's config does not override ours");
    assert.equal(taken('disabled', 2, 'node-a'), 1);
    assert.equal(taken('enabled', 1, 'node-z'), 0, 'an older version loses');
    assert.equal(taken('enabled', 2, 'node-0'), 0, 'same version, lower origin loses');
    assert.equal(taken('draining', 2, 'node-c'), 1, 'same version, higher origin wins');
    assert.equal(apps.merge([{ name: 'wiki', state: 'enabled', version: 9, origin: 'node-a' }]).length, 0);
    assert.equal(apps.get('wiki'), undefined);
  });

  test('persists every change atomically and reads it back; a damaged file is ignored', () => {
    const file = path.join(dir, 'state', 'apps.node-a.json');
    const first = new ApplicationRegistry({ self: 'node-a', initial, stateFile: file });
    first.change('blog', 'enabled');
    assert.deepEqual(readdirSync(path.dirname(file)), ['apps.node-a.json'], 'no temporary file left behind');
    const second = new ApplicationRegistry({ self: 'node-a', initial, stateFile: file });
    assert.deepEqual(second.get('blog'), { name: 'blog', state: 'enabled', version: 1, origin: 'node-a' });
    assert.match(readFileSync(file, 'utf8'), /"blog"/);
    writeFileSync(file, '{ not json');
    const third = new ApplicationRegistry({ self: 'node-a', initial, stateFile: file });
    assert.equal(third.get('blog')!.state, 'disabled', 'back to server.xml');
  });

  test('refuses an unknown application or state, naming what is known', () => {
    const apps = new ApplicationRegistry({ self: 'node-a', initial });
    assert.throws(() => apps.change('wiki', 'enabled'), { code: 'CASTMIRROR_INVALID_ARGUMENT', message: /no application "wiki" \(known: shop, blog\)/ });
    assert.throws(() => apps.change('shop', 'paused' as AppState), { code: 'CASTMIRROR_INVALID_ARGUMENT' });
  });
});
