/**
 * Supervisor: the child processes one command starts (`cluster`: the nodes of this machine
 * and the proxy; `start --node GROUP`: the processes of one `<Node processes>` entry).
 *
 * - Each child runs in its own process group, so a terminal's Ctrl-C reaches only this
 *   process, which then asks each child once (SIGTERM) to close gracefully. A second
 *   signal kills them (SIGKILL).
 * - Each child holds an IPC channel to this process and closes itself gracefully when the
 *   channel drops: children do not outlive a supervisor that was killed.
 * - A child that exits unasked (a crash, kill -9) is started again after RESTART_DELAY_MS,
 *   doubled up to MAX_RESTART_DELAY_MS while it keeps exiting within STABLE_AFTER_MS of its
 *   start. A child that exits with code 0 by itself (drained) is not started again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import type { Io } from './common.js';

export const RESTART_DELAY_MS = 2_000;
const MAX_RESTART_DELAY_MS = 30_000;
const STABLE_AFTER_MS = 10_000;
const STOP_GRACE_MS = 5_000;

export interface ChildSpec {
  readonly name: string;
  /** Arguments to this CLI (`start --config F --node N`). */
  readonly args: readonly string[];
  /** Where its stdout and stderr go (appended); undefined: this process's own. */
  readonly logFile: string | undefined;
}

interface Supervised {
  readonly spec: ChildSpec;
  child: ChildProcess | undefined;
  startedAt: number;
  restartDelayMs: number;
  restartTimer: NodeJS.Timeout | undefined;
  restarts: number;
  /** Size of its log file before its first start: what follows was written by this run. */
  logOffset: number;
}

export interface SupervisorOptions {
  readonly io: Io;
  /** Start crashed children again (default true). */
  readonly restart?: boolean;
}

export class Supervisor {
  private readonly children = new Map<string, Supervised>();
  private stopping = false;
  private readonly restart: boolean;
  private readonly exitWaiters: (() => void)[] = [];

  constructor(private readonly options: SupervisorOptions) {
    this.restart = options.restart ?? true;
  }

  launch(spec: ChildSpec): void {
    const logOffset = spec.logFile !== undefined && existsSync(spec.logFile) ? statSync(spec.logFile).size : 0;
    const entry: Supervised = { spec, child: undefined, startedAt: 0, restartDelayMs: RESTART_DELAY_MS, restartTimer: undefined, restarts: 0, logOffset };
    this.children.set(spec.name, entry);
    this.spawn(entry);
  }

  pidOf(name: string): number | undefined {
    return this.children.get(name)?.child?.pid;
  }

  /**
   * The errors a child logged since this supervisor started it: its JSON lines of level
   * error or worse, and the CLI's own `castmirror: ...` lines (a node that could not start).
   */
  errorsLogged(name: string): string[] {
    const entry = this.children.get(name);
    if (!entry?.spec.logFile || !existsSync(entry.spec.logFile)) return [];
    const text = readFileSync(entry.spec.logFile).subarray(entry.logOffset).toString('utf8');
    return text.split('\n').flatMap((line) => {
      if (line.startsWith('castmirror: ')) return [line.slice('castmirror: '.length)];
      try {
        const record = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
        return (record.level ?? 0) >= 50 ? [record.err?.message ? `${record.msg}: ${record.err.message}` : (record.msg ?? line)] : [];
      } catch {
        return [];
      }
    });
  }

  /** Every child launched is running and none has been started again. */
  get allFirstRunning(): boolean {
    return [...this.children.values()].every((e) => e.child !== undefined && e.restarts === 0);
  }

  /** Resolves when no child is running and none will be started again. */
  whenAllExited(): Promise<void> {
    if (this.idle()) return Promise.resolve();
    return new Promise((resolve) => this.exitWaiters.push(resolve));
  }

  /** Sends `signal` to every running child (SIGHUP: reload their config). */
  signal(signal: NodeJS.Signals): void {
    for (const entry of this.children.values()) entry.child?.kill(signal);
  }

  /** SIGTERM to every child, SIGKILL to those still running after the grace period. */
  async stop(): Promise<void> {
    this.cancelRestarts();
    const exited = this.whenAllExited();
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.kill(), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }

  /** Ends every child at once. */
  kill(): void {
    this.cancelRestarts();
    this.signal('SIGKILL');
  }

  /** No child is started again from now on (one waiting to be restarted stays down). */
  private cancelRestarts(): void {
    this.stopping = true;
    for (const entry of this.children.values()) {
      clearTimeout(entry.restartTimer);
      entry.restartTimer = undefined;
    }
    if (this.idle()) for (const resolve of this.exitWaiters.splice(0)) resolve();
  }

  /**
   * Runs until Ctrl-C or SIGTERM, then stops gracefully and resolves `signal` (a second
   * signal kills the children), or until every child has exited by itself: `exited`.
   * SIGHUP is passed on to the children.
   */
  untilSignalOrExit(): Promise<'signal' | 'exited'> {
    return new Promise((resolve) => {
      const stop = (): void => {
        if (this.stopping) {
          this.options.io.err('second signal: killing the children');
          this.kill();
          return;
        }
        void this.stop().then(() => resolve('signal'));
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      process.on('SIGHUP', () => this.signal('SIGHUP'));
      void this.whenAllExited().then(() => {
        if (!this.stopping) resolve('exited');
      });
    });
  }

  private spawn(entry: Supervised): void {
    const { spec } = entry;
    const log = spec.logFile === undefined ? undefined : openSync(spec.logFile, 'a');
    const output = log ?? 'inherit';
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...spec.args], { stdio: ['ignore', output, output, 'ipc'], detached: true });
    if (log !== undefined) closeSync(log);
    entry.child = child;
    entry.startedAt = performance.now();
    child.on('exit', (code, signal) => this.exited(entry, child, code, signal));
  }

  private exited(entry: Supervised, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    entry.child = undefined;
    const { name, logFile } = entry.spec;
    const how = signal ? `on ${signal}` : `with code ${code}`;
    const see = logFile ? `; see ${logFile}` : '';
    if (this.stopping || !this.restart || code === 0) {
      if (!this.stopping) this.options.io.err(`${name} (pid ${child.pid}) exited ${how}${see}`);
      if (this.idle()) for (const resolve of this.exitWaiters.splice(0)) resolve();
      return;
    }
    const stable = performance.now() - entry.startedAt >= STABLE_AFTER_MS;
    const delay = stable ? RESTART_DELAY_MS : entry.restartDelayMs;
    entry.restartDelayMs = Math.min(delay * 2, MAX_RESTART_DELAY_MS);
    this.options.io.err(`${name} (pid ${child.pid}) exited ${how}${see}; starting it again in ${delay / 1000} s`);
    entry.restartTimer = setTimeout(() => {
      entry.restartTimer = undefined;
      entry.restarts += 1;
      this.spawn(entry);
      this.options.io.err(`${name} started again (pid ${entry.child?.pid})`);
    }, delay);
  }

  private idle(): boolean {
    return [...this.children.values()].every((e) => e.child === undefined && e.restartTimer === undefined);
  }
}
