/**
 * Runs every benchmark in its own process, one after another, prints each JSON result
 * line, and writes them all to bench/results/latest.json.
 *   npm run bench                 all of them
 *   npm run bench -- fanout       those whose name contains "fanout"
 *
 * `npm run bench` compiles the benchmarks and lib/ with tsc first (into dist-bench/) and
 * runs the JavaScript: what users run. Under tsx, esbuild's keepNames wrapper alone costs
 * a measurable share of the hot paths.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const here = import.meta.dirname;
const compiled = import.meta.url.endsWith('.js');
const suffix = compiled ? '.bench.js' : '.bench.ts';
const runner = compiled ? [] : ['--import', 'tsx'];
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith(suffix) && (filters.length === 0 || filters.some((x) => f.includes(x))))
  .sort();
// Results live in the source tree, also when running from dist-bench/bench/.
const resultsDir = compiled ? path.join(here, '..', '..', 'bench', 'results') : path.join(here, 'results');
const results: unknown[] = [];
for (const file of files) {
  const output = execFileSync(process.execPath, [...runner, path.join(here, file)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 300_000 });
  for (const line of output.trim().split('\n')) {
    process.stdout.write(`${line}\n`);
    results.push(JSON.parse(line));
  }
}
mkdirSync(resultsDir, { recursive: true });
// A filtered run (npm run bench:http) keeps its own file, beside the full run's.
writeFileSync(
  path.join(resultsDir, filters.length === 0 ? 'latest.json' : `latest-${filters.join('-')}.json`),
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, compiled, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, results }, null, 2)}\n`,
);
