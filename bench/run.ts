/**
 * Runs every bench/*.bench.ts in its own process, one after another, prints each JSON
 * result line, and writes them all to bench/results/latest.json.
 *   npm run bench                 all of them
 *   npm run bench -- fanout       those whose name contains "fanout"
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const here = import.meta.dirname;
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts') && (filters.length === 0 || filters.some((x) => f.includes(x))))
  .sort();
const results: unknown[] = [];
for (const file of files) {
  const output = execFileSync(process.execPath, ['--import', 'tsx', path.join(here, file)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 300_000 });
  for (const line of output.trim().split('\n')) {
    process.stdout.write(`${line}\n`);
    results.push(JSON.parse(line));
  }
}
mkdirSync(path.join(here, 'results'), { recursive: true });
writeFileSync(
  path.join(here, 'results', 'latest.json'),
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, results }, null, 2)}\n`,
);
