#!/usr/bin/env node
/**
 * castmirror CLI: parse the verb, run it, map the outcome to an exit code
 * (0 success, 1 runtime failure, 2 usage or configuration error).
 */
import { readFileSync } from 'node:fs';
import { EXIT, reportError, stdio, type Verb } from './cli/common.js';
import { app } from './commands/app.js';
import { cache } from './commands/cache.js';
import { cluster } from './commands/cluster.js';
import { demo } from './commands/demo.js';
import { drain } from './commands/drain.js';
import { reload } from './commands/reload.js';
import { proxy } from './commands/proxy.js';
import { sessions } from './commands/sessions.js';
import { start } from './commands/start.js';
import { status } from './commands/status.js';
import { validate } from './commands/validate.js';
import { top } from './commands/top.js';

const VERBS: readonly Verb[] = [start, demo, proxy, cluster, validate, reload, status, top, app, drain, cache, sessions];

function usage(): string {
  const width = Math.max(...VERBS.map((v) => v.name.length));
  return [
    'usage: castmirror <verb> [options]',
    '',
    ...VERBS.map((v) => `  ${v.name.padEnd(width)}  ${v.summary}`),
    '',
    'castmirror <verb> --help describes a verb. --json gives machine-readable output.',
    'Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.',
  ].join('\n');
}

/** package.json sits one folder up from bin/ in the source and two from dist/bin/. */
function version(): string {
  for (const candidate of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(candidate, import.meta.url), 'utf8')) as { name?: string; version: string };
      if (pkg.name === 'castmirror') return pkg.version;
    } catch {
      // not at this depth
    }
  }
  return 'unknown';
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    stdio.out(usage());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version' || name === '-v') {
    stdio.out(version());
    return EXIT.ok;
  }
  const verb = VERBS.find((v) => v.name === name);
  if (!verb) {
    stdio.err(`castmirror: unknown verb "${name}"\n${usage()}`);
    return EXIT.usage;
  }
  try {
    return await verb.run(rest, stdio);
  } catch (error) {
    return reportError(error, stdio, verb.usage);
  }
}

// `castmirror ... | head`: the reader closing the pipe ends the output, not with a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(EXIT.ok);
});

process.exitCode = await main(process.argv.slice(2));
