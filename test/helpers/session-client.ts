/**
 * A client of test/fixtures/session-app.ts that routes as the sticky proxy will: to the
 * primary the hint names, and to its backup when the primary refuses the connection.
 */
import http from 'node:http';
import type { RouteHint } from '../../lib/replication/route-hint.js';
import type { TestCluster } from './cluster.js';

export interface AppReply {
  readonly hint: RouteHint;
  readonly outcome: string;
  readonly node: string;
  readonly [key: string]: unknown;
}

/** The request may or may not have reached the node: its outcome is unknown. */
export class UnknownOutcomeError extends Error {}
/** Nothing listens there: the request was never sent. */
export class RefusedError extends Error {}

export function post(port: number, path: string, body: unknown, timeoutMs = 10_000): Promise<AppReply> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: 'POST', agent: false, timeout: timeoutMs, headers: { 'content-type': 'application/json', 'content-length': payload.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if (res.statusCode !== 200) reject(new Error(`${res.statusCode}: ${text}`));
          else resolve(JSON.parse(text) as AppReply);
        });
        res.on('error', (e) => reject(new UnknownOutcomeError(e.message)));
      },
    );
    req.on('timeout', () => req.destroy(new UnknownOutcomeError('timed out')));
    req.on('error', (error: NodeJS.ErrnoException) => reject(error.code === 'ECONNREFUSED' ? new RefusedError(error.message) : new UnknownOutcomeError(error.message)));
    req.end(payload);
  });
}

export function portOf(cluster: TestCluster, node: string): number {
  return cluster.nodes.find((n) => n.name === node)!.httpPort;
}

/** Sends to the hint's primary; if it refuses, to the hint's backup; without a hint, to `first`. */
export async function route(cluster: TestCluster, hint: RouteHint | undefined, path: string, body: Record<string, unknown>, first = 'node-a'): Promise<AppReply> {
  const targets = hint ? [hint.primary, hint.backup].filter((n): n is string => n !== undefined) : [first];
  let lastError: unknown;
  for (const target of targets) {
    try {
      return await post(portOf(cluster, target), path, { ...body, hint });
    } catch (error) {
      if (!(error instanceof RefusedError)) throw error;
      lastError = error;
    }
  }
  throw lastError;
}
