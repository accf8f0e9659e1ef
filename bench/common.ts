/**
 * Shared by the benchmarks: run tinybench tasks and report each beside its baseline, as
 * one JSON object on stdout. Figures are ratios to a baseline measured in the same run.
 */
import { readFileSync } from 'node:fs';
import { Bench, type Task } from 'tinybench';

export interface TaskFigures {
  readonly name: string;
  readonly opsPerSecond: number;
  readonly p50Micros: number;
  readonly p99Micros: number;
  readonly p999Micros: number;
  readonly rmePercent: number;
  readonly samples: number;
  /** opsPerSecond / the baseline's opsPerSecond. */
  readonly ratioToBaseline: number;
}

export interface MicroResult {
  readonly benchmark: string;
  readonly baseline: string;
  readonly node: string;
  readonly tasks: readonly TaskFigures[];
}

export async function runMicro(benchmark: string, baseline: string, tasks: Record<string, () => unknown>, timeMs = Number(process.env.BENCH_TIME_MS ?? 1000)): Promise<MicroResult> {
  const bench = new Bench({ time: timeMs, warmup: true });
  for (const [name, fn] of Object.entries(tasks)) bench.add(name, fn);
  await bench.run();
  const figures = bench.tasks.map(figuresOf);
  const base = figures.find((f) => f.name === baseline);
  if (!base) throw new Error(`no baseline task "${baseline}"`);
  return {
    benchmark,
    baseline,
    node: process.version,
    tasks: figures.map((f) => ({ ...f, ratioToBaseline: round(f.opsPerSecond / base.opsPerSecond, 3) })),
  };
}

function figuresOf(task: Task): TaskFigures {
  const result = task.result;
  if (result.state !== 'completed') throw new Error(`task ${task.name} did not complete: ${result.state}`);
  return {
    name: task.name,
    opsPerSecond: Math.round(result.throughput.mean),
    p50Micros: round(result.latency.p50 * 1000, 3),
    p99Micros: round(result.latency.p99 * 1000, 3),
    p999Micros: round(result.latency.p999 * 1000, 3),
    rmePercent: round(result.latency.rme, 2),
    samples: result.latency.samplesCount,
    ratioToBaseline: 1,
  };
}

export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Percentile of an ascending-sorted array (nearest rank). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Path of another bench module beside this one, in the same form (.ts under tsx, .js compiled). */
export const sibling = Object.assign(
  (name: string): string => new URL(`./${name}${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).pathname,
  { execArgv: import.meta.url.endsWith('.ts') ? ['--import', 'tsx'] : [] },
);

/** Waits until `condition()` holds; throws with `what` after `timeoutMs` instead of hanging. */
export async function until(condition: () => boolean, what: string, timeoutMs = 30_000, pollMs = 5): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

export function print(result: unknown): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** CPU time (user + system) a process has used, in ms, from /proc (Linux); 0 once it is gone. */
export function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the command name.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

