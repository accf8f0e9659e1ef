/**
 * A client for one node's admin API, used by the CLI (and usable from scripts).
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { AdminRequestError, AdminUnreachableError } from '../errors.js';
import { certificateFilesFor } from '../config/network.js';
import type { ClusterConfig, NodeEntry } from '../config/types.js';

/**
 * Where a node's admin API can be reached: its `<Admin host>` (or override), a wildcard
 * bind through the node's own host; with `<Encryption admin="https">`, the CA to trust.
 */
export function adminEndpoint(config: ClusterConfig, node: NodeEntry): { host: string; port: number; caFile?: string } {
  const host = config.overrides[node.name]?.admin?.host ?? config.admin.host;
  const endpoint = { host: host === '0.0.0.0' ? node.host : host, port: node.adminPort };
  const { encryption } = config;
  return encryption.admin === 'https' ? { ...endpoint, caFile: certificateFilesFor(encryption.certificates!, node.name).ca } : endpoint;
}

export interface AdminClientOptions {
  readonly host: string;
  readonly port: number;
  readonly secret: Buffer | undefined;
  readonly timeoutMs?: number;
  /** HTTPS, trusting this CA (PEM file; read at the first request). */
  readonly caFile?: string | undefined;
}

export interface AdminResponse {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
}

export class AdminClient {
  constructor(private readonly options: AdminClientOptions) {}

  private ca: Buffer | undefined;

  get url(): string {
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
    return `${this.options.caFile ? 'https' : 'http'}://${host}:${this.options.port}`;
  }

  /** JSON request; throws AdminRequestError for an error status, AdminUnreachableError if no answer. */
  async json<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.request(method, path, body);
    let parsed: unknown;
    try {
      parsed = JSON.parse(response.text);
    } catch {
      throw new AdminRequestError(response.status, `admin API answered ${response.status} with a body that is not JSON`);
    }
    if (response.status >= 400) {
      const error = (parsed as { error?: { code?: string; message?: string } }).error;
      throw new AdminRequestError(response.status, error?.message ?? `admin API answered ${response.status}`, error?.code);
    }
    return parsed as T;
  }

  /** Plain text request (for /metrics). */
  async text(path: string): Promise<string> {
    const response = await this.request('GET', path);
    if (response.status >= 400) throw new AdminRequestError(response.status, `admin API answered ${response.status}`);
    return response.text;
  }

  request(method: string, path: string, body?: unknown): Promise<AdminResponse> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = { accept: 'application/json' };
    if (this.options.secret) headers.authorization = `Bearer ${this.options.secret.toString('utf8')}`;
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    return new Promise((resolve, reject) => {
      const target = { host: this.options.host, port: this.options.port, method, path, headers, timeout: this.options.timeoutMs ?? 5000, agent: false };
      let send: typeof http.request = http.request;
      if (this.options.caFile) {
        try {
          this.ca ??= readFileSync(this.options.caFile);
        } catch (error) {
          return reject(new AdminUnreachableError(this.url, { cause: error }));
        }
        Object.assign(target, { ca: this.ca, servername: isIP(this.options.host) ? undefined : this.options.host });
        send = https.request;
      }
      const req = send(
        target,
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', (error) => reject(new AdminUnreachableError(this.url, { cause: error })));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (error) => reject(new AdminUnreachableError(this.url, { cause: error })));
      req.end(payload);
    });
  }
}

/** Builds the API path of one cache entry (keys may contain "/"). */
export function entryPath(type: string, key: string): string {
  return `/caches/${encodeURIComponent(type)}/entries/${encodeURIComponent(key)}`;
}
