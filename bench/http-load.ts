/**
 * A closed-loop HTTP load generator: `users` virtual users, each with its own cookies (its
 * own session), each sending its next request when the previous one answered, over
 * keep-alive connections. Bounded by time and by a request count.
 */
import http from 'node:http';
import { percentile, round } from './common.js';

export interface LoadOptions {
  readonly url: string;
  readonly path: string;
  readonly body: (user: number, request: number) => unknown;
  readonly users: number;
  readonly durationMs: number;
  readonly maxRequests?: number;
  /** Called once, this long after the start (the failover run kills a node there). */
  readonly at?: { readonly ms: number; readonly action: () => void };
}

export interface LoadResult {
  readonly requests: number;
  readonly ok: number;
  readonly failed: number;
  readonly statuses: Record<string, number>;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Completions per 100 ms, from the start: [ok, failed]. */
  readonly timeline: readonly (readonly [number, number])[];
}

export const BUCKET_MS = 100;

export async function load(options: LoadOptions): Promise<LoadResult> {
  const target = new URL(options.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.users });
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const timeline: [number, number][] = [];
  const maxRequests = options.maxRequests ?? 1_000_000;
  let sent = 0;
  const started = performance.now();
  const deadline = started + options.durationMs;
  const timer = options.at ? setTimeout(options.at.action, options.at.ms) : undefined;

  const record = (status: string, ms: number): void => {
    statuses[status] = (statuses[status] ?? 0) + 1;
    const bucket = Math.floor((performance.now() - started) / BUCKET_MS);
    while (timeline.length <= bucket) timeline.push([0, 0]);
    const ok = status.startsWith('2');
    timeline[bucket]![ok ? 0 : 1]++;
    if (ok) latencies.push(ms);
  };

  const user = async (index: number): Promise<void> => {
    let cookies = new Map<string, string>();
    for (let n = 0; performance.now() < deadline && sent < maxRequests; n++) {
      sent++;
      const payload = Buffer.from(JSON.stringify(options.body(index, n)));
      const begin = performance.now();
      const status = await new Promise<string>((resolve) => {
        const req = http.request(
          {
            host: target.hostname,
            port: target.port,
            path: options.path,
            method: 'POST',
            agent,
            headers: { 'content-type': 'application/json', 'content-length': payload.length, ...(cookies.size ? { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {}) },
          },
          (res) => {
            for (const line of res.headers['set-cookie'] ?? []) {
              const pair = line.split(';')[0]!;
              const at = pair.indexOf('=');
              cookies = new Map(cookies).set(pair.slice(0, at), pair.slice(at + 1));
            }
            res.resume();
            res.on('end', () => resolve(String(res.statusCode)));
            res.on('error', () => resolve('reset'));
          },
        );
        req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
        req.end(payload);
      });
      record(status, performance.now() - begin);
      // A failing target is not hammered in a tight loop.
      if (!status.startsWith('2')) await new Promise((r) => setTimeout(r, 5));
    }
  };

  await Promise.all(Array.from({ length: options.users }, (_, i) => user(i)));
  clearTimeout(timer);
  agent.destroy();
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const ok = latencies.length;
  return {
    requests: sent,
    ok,
    failed: sent - ok,
    statuses,
    requestsPerSecond: Math.round(ok / elapsed),
    p50Ms: round(percentile(latencies, 50), 3),
    p99Ms: round(percentile(latencies, 99), 3),
    timeline,
  };
}
