#!/usr/bin/env node
// Runs `node --import tsx --test test/*.test.ts` and fails if no test ran: on Node 20,
// a glob that matches nothing, or a runner that finds no .ts files, would exit 0.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { provisionTestTools } from './test-tools.mjs';

const root = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '..');
const only = process.argv.slice(2);
const files = readdirSync(path.join(root, 'test'))
  .filter((f) => f.endsWith('.test.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort()
  .map((f) => path.join('test', f));
if (files.length === 0) {
  console.error('run-tests: no test files match test/*.test.ts');
  process.exit(1);
}

provisionTestTools();

const scratch = mkdtempSync(path.join(tmpdir(), 'castmirror-tap-'));
const tap = path.join(scratch, 'results.tap');
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-timeout=120000', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...files],
  { cwd: root, stdio: 'inherit' },
);
child.on('exit', (code, signal) => {
  let ran = 0;
  try {
    const match = /^# tests (\d+)$/m.exec(readFileSync(tap, 'utf8'));
    ran = match ? Number(match[1]) : 0;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  if (signal) {
    console.error(`run-tests: test runner killed by ${signal}`);
    process.exit(1);
  }
  if (ran === 0) {
    console.error('run-tests: the runner executed no test');
    process.exit(1);
  }
  process.exit(code ?? 1);
});
