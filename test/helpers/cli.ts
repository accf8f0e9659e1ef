import { execFile } from 'node:child_process';
import { CLI, ROOT } from './cluster.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the castmirror CLI from source, bounded in time (in a network namespace, when given). */
export function runCli(args: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; netns?: string } = {}): Promise<CliResult> {
  const command = [process.execPath, '--import', 'tsx', CLI, ...args];
  const [file, ...argv] = options.netns ? ['ip', 'netns', 'exec', options.netns, ...command] : command;
  return new Promise((resolve) => {
    execFile(
      file!,
      argv,
      { cwd: ROOT, env: { ...process.env, ...options.env }, timeout: options.timeoutMs ?? 20_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
