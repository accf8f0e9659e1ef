/**
 * WebSocket (any HTTP `Upgrade`) through the proxy. The upgrade request is routed like any
 * request (the route cookie: primary, else backup, else least loaded); the nodes are tried
 * in order while a connection cannot be opened or a node answers "not applied" (it is
 * leaving). Once a node answers 101, the two sockets are joined byte for byte. An answer
 * other than 101 is passed to the client as it is.
 *
 * A tunnel does not outlive its node: when the node dies, the client's socket closes. A
 * client that reconnects with its cookies is routed again, to the session's backup when the
 * primary is down, which takes the session over (test/http.websocket.test.ts).
 */
import http, { type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { NOT_APPLIED_HEADER } from '../http/headers.js';

export interface TunnelOptions {
  readonly req: IncomingMessage;
  readonly client: Duplex;
  /** What the client sent after its upgrade request (usually nothing). */
  readonly head: Buffer;
  /** Node names, best first. */
  readonly order: readonly string[];
  readonly target: (name: string) => { readonly host: string; readonly port: number };
  /** The request's headers as forwarded (hop-by-hop ones removed; the upgrade ones are put back here). */
  readonly headers: http.OutgoingHttpHeaders;
  readonly connectTimeoutMs: number;
  readonly on: {
    unreachable(name: string): void;
    notApplied(name: string): void;
    joined(name: string): void;
    noNode(): void;
  };
}

export function tunnel(options: TunnelOptions): void {
  const { req, client, head, order, on } = options;
  const headers = { ...options.headers, connection: 'Upgrade', upgrade: req.headers.upgrade ?? 'websocket' };
  let attempt = 0;
  client.on('error', () => client.destroy());

  const tryNext = (): void => {
    const name = order[attempt++];
    if (name === undefined) {
      on.noNode();
      client.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const { host, port } = options.target(name);
    let connected = false;
    const upstream = http.request({ host, port, method: req.method, path: req.url, headers, agent: false });
    const timer = setTimeout(() => upstream.destroy(new Error(`connect timeout after ${options.connectTimeoutMs} ms`)), options.connectTimeoutMs);
    upstream.on('socket', (socket) => socket.once('connect', () => ((connected = true), clearTimeout(timer))));
    upstream.on('error', () => {
      clearTimeout(timer);
      if (connected || client.destroyed) return client.destroy();
      on.unreachable(name);
      tryNext();
    });
    upstream.on('upgrade', (response, socket, upstreamHead) => {
      on.joined(name);
      client.write(statusAndHeaders(response));
      if (upstreamHead.length > 0) client.write(upstreamHead);
      if (head.length > 0) socket.write(head);
      socket.on('error', () => client.destroy());
      client.on('close', () => socket.destroy());
      socket.on('close', () => client.destroy());
      socket.pipe(client).pipe(socket);
    });
    upstream.on('response', (response) => {
      if (response.statusCode === 503 && response.headers[NOT_APPLIED_HEADER.toLowerCase()] === '1') {
        response.resume();
        on.notApplied(name);
        return tryNext();
      }
      // Refused by the application (401, 404, ...): the client sees why, then the connection ends.
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const body = Buffer.concat(chunks);
        client.end(Buffer.concat([Buffer.from(statusAndHeaders(response, { 'Content-Length': String(body.length), Connection: 'close' })), body]));
      });
    });
    upstream.end();
  };
  tryNext();
}

/** The status line and headers of a node's answer; `framing` replaces how its body is delimited. */
function statusAndHeaders(response: IncomingMessage, framing?: Record<string, string>): string {
  const lines = [`HTTP/1.1 ${response.statusCode} ${response.statusMessage ?? ''}`];
  const replaced = new Set(Object.keys(framing ?? {}).map((k) => k.toLowerCase()));
  if (framing) replaced.add('transfer-encoding');
  for (let i = 0; i < response.rawHeaders.length; i += 2) {
    if (!replaced.has(response.rawHeaders[i]!.toLowerCase())) lines.push(`${response.rawHeaders[i]}: ${response.rawHeaders[i + 1]}`);
  }
  for (const [key, value] of Object.entries(framing ?? {})) lines.push(`${key}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}
