/**
 * A JSON view of a session for administration: every pool's entries, references shown as
 * references ({ $ref: kind, value }), never rebuilt.
 */
import type { Pool } from './pool.js';
import { LogicalRef } from './reference.js';
import type { SessionObject } from './session.js';

export interface SessionView {
  readonly id: string;
  readonly role: 'primary' | 'backup';
  readonly version: number;
  readonly primary: string;
  readonly backup: string | null;
  readonly origin: string;
  readonly createdAt: string;
  readonly lastAccessAt: string;
  readonly timeoutSeconds: number;
  readonly pools: Record<string, Record<string, unknown>>;
}

export function viewOf(session: SessionObject, role: 'primary' | 'backup'): SessionView {
  const pools: Record<string, Record<string, unknown>> = {};
  for (const pool of session.pools()) pools[pool.path] = entriesOf(pool);
  const { meta } = session;
  return {
    id: meta.id,
    role,
    version: meta.version,
    primary: meta.primary,
    backup: meta.backup ?? null,
    origin: meta.origin,
    createdAt: new Date(meta.createdAt).toISOString(),
    lastAccessAt: new Date(meta.lastAccessAt).toISOString(),
    timeoutSeconds: Math.round(meta.timeoutMs / 1000),
    pools,
  };
}

function entriesOf(pool: Pool): Record<string, unknown> {
  return Object.fromEntries(pool.entries().map(([key, value]) => [key, value instanceof LogicalRef ? { $ref: value.kind, value: value.ref } : value]));
}
