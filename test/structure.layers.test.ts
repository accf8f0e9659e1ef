/**
 * The layers of lib/ (lowest first), read from the imports themselves: a module may import
 * its own layer or a lower one, never a higher one, and no chain of imports comes back to
 * where it started. Type-only imports count: a type that climbs is a dependency that climbs.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from './helpers/cluster.js';

const LIB = path.join(ROOT, 'lib');

/** Each layer and the paths (relative to lib/) that belong to it. */
const LAYERS: readonly (readonly string[])[] = [
  ['errors.ts', 'diagnostics.ts', 'util/', 'metrics/'],
  ['config/'],
  ['wire/'],
  ['transport/'],
  ['membership/'],
  ['messaging/'],
  ['cache/'],
  ['session/'],
  ['replication/'],
  ['apps/'],
  ['node/'],
  ['admin/', 'http/', 'express-session/', 'proxy/', 'start.ts', 'index.ts'],
];

function layerOf(file: string): number {
  const layer = LAYERS.findIndex((members) => members.some((m) => (m.endsWith('/') ? file.startsWith(m) : file === m)));
  assert.notEqual(layer, -1, `lib/${file} belongs to no layer: add its folder to LAYERS in this test and to the layout in docs/internals.md`);
  return layer;
}

function libFiles(dir = LIB): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return libFiles(full);
    return entry.name.endsWith('.ts') ? [path.relative(LIB, full)] : [];
  });
}

/** The lib/ files a file imports (static, re-exported or dynamic), as paths relative to lib/. */
function importsOf(file: string): string[] {
  const source = readFileSync(path.join(LIB, file), 'utf8');
  const specifiers = [...source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s*'([^']+)'|import\(\s*'([^']+)'\s*\)/g)].map((m) => m[1] ?? m[2]!);
  return specifiers
    .filter((s) => s.startsWith('.'))
    .map((s) => path.relative(LIB, path.resolve(path.dirname(path.join(LIB, file)), s.replace(/\.js$/, '.ts'))));
}

/** Imports that climb a layer. */
function upwardImports(graph: ReadonlyMap<string, readonly string[]>): string[] {
  const upward: string[] = [];
  for (const [file, imports] of graph) {
    for (const target of imports) if (layerOf(target) > layerOf(file)) upward.push(`lib/${file} -> lib/${target}`);
  }
  return upward;
}

/** Every cycle a depth-first walk meets, as a chain of files. */
function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[] {
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const target of graph.get(file) ?? []) {
      if (state.get(target) === 'open') cycles.push([...stack.slice(stack.indexOf(target)), target].map((f) => `lib/${f}`).join(' -> '));
      else if (!state.has(target)) visit(target);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return cycles;
}

const files = libFiles();
const graph = new Map(files.map((f) => [f, importsOf(f)]));

test('every import in lib/ resolves to a file of lib/', () => {
  assert.ok(files.length > 60);
  for (const [file, imports] of graph) for (const target of imports) assert.ok(graph.has(target), `lib/${file} imports lib/${target}, which does not exist`);
});

test('no module imports a layer above its own', () => {
  const upward = upwardImports(graph);
  assert.deepEqual(upward, [], `upward imports:\n${upward.join('\n')}`);
});

test('no import cycle', () => {
  const cycles = importCycles(graph);
  assert.deepEqual(cycles, [], `import cycles:\n${cycles.join('\n')}`);
});

test('the checks find an upward import and a cycle where there are some', () => {
  const broken = new Map([
    ['node/cache-node.ts', ['admin/server.ts']],
    ['admin/server.ts', ['node/cache-node.ts']],
    ['replication/mirror.ts', ['replication/session-manager.ts']],
    ['replication/session-manager.ts', ['replication/mirror.ts']],
  ]);
  assert.deepEqual(upwardImports(broken), ['lib/node/cache-node.ts -> lib/admin/server.ts']);
  assert.deepEqual(importCycles(broken), [
    'lib/node/cache-node.ts -> lib/admin/server.ts -> lib/node/cache-node.ts',
    'lib/replication/mirror.ts -> lib/replication/session-manager.ts -> lib/replication/mirror.ts',
  ]);
  const real = importsOf('start.ts');
  assert.ok(real.includes('admin/server.ts') && real.includes('node/cache-node.ts'), 'the import reader sees start.ts attach the admin API to a node');
});

test('no file in lib/ is over 420 lines', () => {
  const long = files.map((f) => [f, readFileSync(path.join(LIB, f), 'utf8').split('\n').length] as const).filter(([, lines]) => lines > 420);
  assert.deepEqual(long, []);
});
