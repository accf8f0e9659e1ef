import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ErrorCodes } from '../lib/errors.js';
import { ROOT } from './helpers/cluster.js';

const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

test('every error code is documented in the README', () => {
  for (const code of ErrorCodes) assert.ok(readme.includes(`\`${code}\``), `${code} is not in README.md`);
});

test('every CASTMIRROR_* code used in lib/ is in the catalogue or documented as an admin API code', () => {
  const used = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) for (const match of readFileSync(full, 'utf8').matchAll(/'(CASTMIRROR_[A-Z_]+)'/g)) used.add(match[1]!);
    }
  };
  walk(path.join(ROOT, 'lib'));
  assert.ok(used.size > 20);
  for (const code of used) assert.ok(readme.includes(`\`${code}\``), `${code} is used in lib/ but not documented`);
});
