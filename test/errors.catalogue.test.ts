import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as errors from '../lib/errors.js';
import { CastmirrorError, ErrorCodes, HTTP_STATUS_BY_CODE } from '../lib/errors.js';
import { ROOT } from './helpers/cluster.js';

const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

test('every error code is documented in the README, with its HTTP status', () => {
  for (const code of ErrorCodes) {
    const row = new RegExp(`^\\| \`${code}\` \\| (\\d{3}) \\|`, 'm').exec(readme);
    assert.ok(row, `${code} has no row in the README's error table`);
    assert.equal(Number(row[1]), HTTP_STATUS_BY_CODE[code], `${code}: README says ${row[1]}, the class says ${HTTP_STATUS_BY_CODE[code]}`);
  }
});

test('the code list is derived from every exported error class: none missing, none twice', () => {
  const classes = Object.values(errors).filter((value): value is typeof CastmirrorError => typeof value === 'function' && value.prototype instanceof CastmirrorError);
  assert.ok(classes.length >= 30);
  for (const cls of classes) {
    const codes: readonly string[] = 'CODES' in cls ? (cls.CODES as readonly string[]) : [(cls as unknown as { CODE: string }).CODE];
    for (const code of codes) assert.ok((ErrorCodes as readonly string[]).includes(code), `${cls.name}'s ${code} is not in ErrorCodes`);
  }
  assert.equal(new Set(ErrorCodes).size, ErrorCodes.length, 'a code is declared twice');
});

test('every CASTMIRROR_* error code written in lib/ is in the catalogue', () => {
  const used = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) for (const match of readFileSync(full, 'utf8').matchAll(/'(CASTMIRROR_[A-Z_]+)'/g)) used.add(match[1]!);
    }
  };
  walk(path.join(ROOT, 'lib'));
  assert.ok(used.size > 30);
  for (const code of used) assert.ok((ErrorCodes as readonly string[]).includes(code), `${code} is used in lib/ but is not a catalogue code`);
});

test('an error knows its literal code, its status and its name', () => {
  const error = new errors.UpstreamTimeoutError('node-a', 100);
  const code: 'CASTMIRROR_UPSTREAM_TIMEOUT' = error.code;
  assert.equal(code, 'CASTMIRROR_UPSTREAM_TIMEOUT');
  assert.equal(error.httpStatus, 504);
  assert.equal(error.name, 'UpstreamTimeoutError');
  assert.deepEqual(error.details(), { node: 'node-a' });
  assert.equal(new errors.InternalError({ cause: new Error('x') }).httpStatus, 500);
});
