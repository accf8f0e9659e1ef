import type { ObjectCacheStats } from '../../lib/cache/object-cache.js';
import type { LoadedConfig } from '../../lib/config/load.js';
import type { NodeStatus } from '../../lib/node/cache-node.js';
import { AdminUnreachableError } from '../../lib/errors.js';
import { loadConfig } from '../../lib/config/load.js';
import { adminClients, EXIT, parse, printJson, requireConfigPath, table, UsageError, type Verb } from '../cli/common.js';

export const top: Verb = {
  name: 'top',
  summary: 'a live view of the cluster: members, sessions, cache hit ratios, rates',
  usage: `usage: castmirror top --config F [--interval-ms 1000] [--once] [--json]

Polls every node's admin API and shows, per node: its state as the cluster sees it,
sessions held as primary and as backup, the cache hit ratio, invalidations sent and
received per second, mirror requests per second and the last ack lag. On a terminal
the view refreshes in place until Ctrl-C; otherwise one block is printed per interval.
--once takes two samples one interval apart and prints one view (--json: one object).
Exit 1 when no node answered the last sample.`,
  async run(argv, io) {
    const { values } = parse(argv, {
      config: { type: 'string', short: 'c' },
      'interval-ms': { type: 'string' },
      once: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      io.out(this.usage);
      return EXIT.ok;
    }
    const interval = Number(values['interval-ms'] ?? 1000);
    if (!Number.isSafeInteger(interval) || interval < 100 || interval > 60_000) throw new UsageError('--interval-ms must be 100 to 60000');
    const loaded = await loadConfig(requireConfigPath(values.config));
    let previous = await sample(loaded);
    const live = !values.once;
    const inPlace = live && process.stdout.isTTY === true;
    let stopped = false;
    const stop = (): void => {
      stopped = true;
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    let reachedAny = false;
    try {
      do {
        await new Promise((resolve) => setTimeout(resolve, interval));
        const current = await sample(loaded);
        const view = viewOf(loaded, previous, current);
        reachedAny = [...current.nodes.values()].some((n) => n !== null);
        previous = current;
        if (values.json) printJson(io, view);
        else io.out(`${inPlace ? '\x1b[H\x1b[2J' : ''}${render(view, live)}${inPlace ? '' : '\n'}`);
      } while (live && !stopped);
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    // As status does: no node answering is a failure (the view still shows who was tried).
    return reachedAny ? EXIT.ok : EXIT.failure;
  },
};

interface Sample {
  readonly at: number;
  readonly nodes: ReadonlyMap<string, { status: NodeStatus; caches: ObjectCacheStats[] } | null>;
}

async function sample(loaded: LoadedConfig): Promise<Sample> {
  const entries = await Promise.all(
    adminClients(loaded, undefined).map(async ({ node, client }) => {
      try {
        const [status, caches] = await Promise.all([client.json<NodeStatus>('GET', '/status'), client.json<{ caches: ObjectCacheStats[] }>('GET', '/caches')]);
        return [node, { status, caches: caches.caches }] as const;
      } catch (error) {
        if (error instanceof AdminUnreachableError) return [node, null] as const;
        throw error;
      }
    }),
  );
  return { at: performance.now(), nodes: new Map(entries) };
}

export interface TopView {
  readonly cluster: string;
  readonly at: string;
  readonly intervalMs: number;
  readonly nodes: readonly TopRow[];
}

export interface TopRow {
  readonly node: string;
  /** As the first answering node sees it; `unreachable` when its admin API did not answer. */
  readonly state: string;
  readonly incarnation: string | null;
  readonly sessions: { readonly primary: number; readonly backup: number } | null;
  /** Hits / (hits + misses) over every cache type since the node started; null before any lookup. */
  readonly hitRatio: number | null;
  readonly perSecond: { readonly invalidationsSent: number; readonly invalidationsReceived: number; readonly mirrors: number } | null;
  readonly lastAckLagMs: number | null;
}

function viewOf(loaded: LoadedConfig, before: Sample, after: Sample): TopView {
  const seconds = Math.max(0.001, (after.at - before.at) / 1000);
  const observer = [...after.nodes.values()].find((n) => n !== null)?.status;
  const rows = loaded.config.nodes.map((entry): TopRow => {
    const now = after.nodes.get(entry.name) ?? null;
    const then = before.nodes.get(entry.name) ?? null;
    const member = observer?.members.find((m) => m.name === entry.name);
    if (!now) return { node: entry.name, state: member ? `${member.state}, unreachable` : 'unreachable', incarnation: member?.incarnation ?? null, sessions: null, hitRatio: null, perSecond: null, lastAckLagMs: null };
    const sum = (caches: ObjectCacheStats[] | undefined, pick: (c: ObjectCacheStats) => number) => (caches ?? []).reduce((total, c) => total + pick(c), 0);
    const hits = sum(now.caches, (c) => c.hits);
    const lookups = hits + sum(now.caches, (c) => c.misses);
    const rate = (pick: (c: ObjectCacheStats) => number) => round((sum(now.caches, pick) - sum(then?.caches, pick)) / seconds);
    const restarted = then && then.status.incarnation !== now.status.incarnation;
    return {
      node: entry.name,
      state: member?.state ?? 'alive',
      incarnation: now.status.incarnation,
      sessions: { primary: now.status.sessions.primaries, backup: now.status.sessions.backups },
      hitRatio: lookups === 0 ? null : round(hits / lookups, 3),
      perSecond:
        then && !restarted
          ? {
              invalidationsSent: rate((c) => c.invalidationsSent),
              invalidationsReceived: rate((c) => c.invalidationsReceived),
              mirrors: round((now.status.sessions.mirrorsSent - then.status.sessions.mirrorsSent) / seconds),
            }
          : null,
      lastAckLagMs: now.status.sessions.lastAckLagMs,
    };
  });
  return { cluster: loaded.config.name, at: new Date().toISOString(), intervalMs: Math.round(seconds * 1000), nodes: rows };
}

function render(view: TopView, live: boolean): string {
  const header = `castmirror top: cluster "${view.cluster}", ${view.at}, rates over ${view.intervalMs} ms${live ? ' (Ctrl-C to quit)' : ''}`;
  const rows = view.nodes.map((r) => [
    r.node,
    r.state,
    r.sessions ? `${r.sessions.primary}/${r.sessions.backup}` : '-',
    r.hitRatio === null ? '-' : `${(r.hitRatio * 100).toFixed(1)}%`,
    r.perSecond ? `${r.perSecond.invalidationsSent}/${r.perSecond.invalidationsReceived}` : '-',
    r.perSecond ? r.perSecond.mirrors : '-',
    r.lastAckLagMs === null ? '-' : r.lastAckLagMs.toFixed(2),
  ]);
  return `${header}\n\n${table(['NODE', 'STATE', 'SESSIONS P/B', 'HIT RATIO', 'INVAL/S OUT/IN', 'MIRRORS/S', 'ACK LAG MS'], rows)}`;
}

function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
