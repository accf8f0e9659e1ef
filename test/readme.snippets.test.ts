/**
 * The README's code is code that compiles: every TypeScript block in it is the whole of a
 * file under examples/snippets/ (which the typecheck of `npm test` compiles), named in the
 * comment above the block, and every snippet file is shown. Its links stay inside the
 * repository.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from './helpers/cluster.js';

const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

test('every ts block of the README is a compiled file, shown whole', () => {
  const blocks = [...readme.matchAll(/(?:<!-- snippet: (\S+) [^>]*-->\n)?```ts\n([\s\S]*?)\n```/g)];
  assert.ok(blocks.length >= 4);
  const shown = new Set<string>();
  for (const [, file, code] of blocks) {
    assert.ok(file, `a ts block without its file: ${code!.slice(0, 80)}`);
    assert.equal(code, readFileSync(path.join(ROOT, file), 'utf8').trimEnd(), `${file}: the README shows it as it is`);
    shown.add(file);
  }
  const snippets = readdirSync(path.join(ROOT, 'examples', 'snippets')).filter((f) => f !== 'db.ts').map((f) => `examples/snippets/${f}`);
  assert.deepEqual(snippets.filter((f) => !shown.has(f)), [], 'every snippet file is in the README');
});

test('the README and docs/ link only to files of the repository, and to anchors that exist', () => {
  for (const doc of ['README.md', 'docs/internals.md', 'BENCHMARKS.md']) {
    const text = readFileSync(path.join(ROOT, doc), 'utf8');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^https?:/.test(target!)) continue;
      const [file, anchor] = target!.split('#');
      const resolved = file ? path.resolve(path.dirname(path.join(ROOT, doc)), file) : path.join(ROOT, doc);
      assert.ok(resolved.startsWith(ROOT + path.sep) && existsSync(resolved), `${doc}: ${target} is not a file of the repository`);
      if (anchor) {
        const headings = [...readFileSync(resolved, 'utf8').matchAll(/^#+ (.+)$/gm)].map(([, h]) => h!.toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-'));
        assert.ok(headings.includes(anchor), `${doc}: #${anchor} is no heading of ${file || doc}`);
      }
    }
  }
});
