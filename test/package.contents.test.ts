/**
 * What a user installing the package gets (`npm pack --dry-run`): the build, the license,
 * the changelog and the example config, no tests or sources; source maps that carry their
 * TypeScript (the .ts files are not shipped); and a cbor-extract that installs from prebuilt
 * binaries, with no node-gyp build (an `overrides` entry would not reach a user).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from './helpers/cluster.js';

const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  overrides?: Record<string, unknown>;
};

test('the packed files: build, LICENSE, CHANGELOG, example config; maps carry their sources', { timeout: 180_000 }, () => {
  // --ignore-scripts: list what dist/ holds (npm ci built it) without rebuilding it under other tests.
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--silent', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })) as [{ files: { path: string }[] }];
  const files = packed.files.map((f) => f.path);
  for (const required of ['LICENSE', 'CHANGELOG.md', 'README.md', 'server.xml.example', 'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/bin/castmirror.js', 'dist/lib/express-session/store.js']) {
    assert.ok(files.includes(required), `${required} is packed`);
  }
  assert.deepEqual(files.filter((f) => /^(test|bench|lib|bin)\//.test(f) || f.endsWith('.ts') && !f.endsWith('.d.ts')), [], 'no tests, benches or TypeScript sources');
  const maps = files.filter((f) => f.endsWith('.js.map'));
  assert.ok(maps.length > 20);
  // The maps as the build makes them, built apart (another test rebuilds dist/ meanwhile).
  const out = mkdtempSync(path.join(tmpdir(), 'castmirror-build-'));
  try {
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--outDir', out], { cwd: ROOT, stdio: 'ignore', timeout: 120_000 });
    for (const map of maps) {
      const { sources, sourcesContent } = JSON.parse(readFileSync(path.join(out, map.slice('dist/'.length)), 'utf8')) as { sources: string[]; sourcesContent?: string[] };
      assert.equal(sourcesContent?.length, sources.length, `${map} carries its sources`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('cbor-extract: the version with prebuilt binaries, chosen by the package itself, not by overrides', () => {
  const extract = pkg.optionalDependencies?.['cbor-extract'];
  assert.equal(extract, '2.2.2', 'an optional dependency of ours: a user gets it');
  assert.equal(pkg.overrides?.['cbor-extract'], undefined, 'not only an override (it would not reach a user)');
  const cborX = JSON.parse(readFileSync(path.join(ROOT, 'node_modules', 'cbor-x', 'package.json'), 'utf8')) as { version: string; optionalDependencies: Record<string, string> };
  assert.equal(cborX.version, pkg.dependencies['cbor-x'], 'cbor-x is pinned');
  const wanted = /^\^2\.2\.(\d+)$/.exec(cborX.optionalDependencies['cbor-extract']!);
  assert.ok(wanted && Number(wanted[1]) <= 2, `cbor-x ${cborX.version} accepts cbor-extract 2.2.2 (asks ${cborX.optionalDependencies['cbor-extract']}), so npm dedupes to ours`);
  const installed = JSON.parse(readFileSync(path.join(ROOT, 'node_modules', 'cbor-extract', 'package.json'), 'utf8')) as { version: string };
  assert.equal(installed.version, '2.2.2');
});
