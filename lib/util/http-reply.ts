/**
 * JSON replies for every HTTP edge (admin API, session middleware, proxy), and the one
 * error shape they all answer with:
 *
 *   { "error": { "code": "CASTMIRROR_…", "message": "…", …details } }
 *
 * The status comes from the error's class in the catalogue (errors.ts).
 */
import type { ServerResponse } from 'node:http';
import { asCastmirrorError, type CastmirrorError } from '../errors.js';

export type HeaderMap = Readonly<Record<string, string | number | readonly string[]>>;

/** Writes a JSON body with its length. A response whose headers already went is cut instead. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: HeaderMap = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) } as Record<string, string | number | string[]>);
  res.end(text);
}

/** The error body for `error` (anything that is not ours becomes CASTMIRROR_INTERNAL, its message withheld). */
export function errorBody(error: unknown): { readonly error: Record<string, unknown> } {
  const known: CastmirrorError = asCastmirrorError(error);
  return { error: { code: known.code, message: known.message, ...known.details() } };
}

/** Answers with the error's status and the one error shape. */
export function sendError(res: ServerResponse, error: unknown, headers: HeaderMap = {}): void {
  sendJson(res, asCastmirrorError(error).httpStatus, errorBody(error), headers);
}
