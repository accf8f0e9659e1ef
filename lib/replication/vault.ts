/**
 * SessionVault: the shared store's copy of every session (`<Store>`, Redis or Valkey): a
 * second line of defence behind the backup node. A session that no node holds (its primary
 * and backup both died, the whole cluster restarted, a node behind a balancer that ignores
 * cookies) is loaded from here on its next request, and continues.
 *
 * Each commit writes the session whole, in the replication protocol's encoding (logical
 * references stay references), with the session's expiry as the key's TTL; touches move the
 * TTL, at most every 1/20 of the session's lifetime. `write-through`: the commit waits for
 * the store; `write-behind`: changed sessions are written every `flushMs`, the latest
 * version of each only. Either way, while the store is down nothing waits for it: changes
 * wait in a backlog (the latest per session, at most `backlogLimit`; beyond it the oldest
 * are dropped and counted: those sessions reach the store again at their next commit), and
 * are written when it is back.
 */
import type { StoreSettings } from '../config/types.js';
import { TransportError } from '../errors.js';
import { snapshotOf } from '../session/codec.js';
import type { SessionSnapshot } from '../session/codec.js';
import type { SessionObject } from '../session/session.js';
import { openRedis, type RedisClient } from '../transport/redis.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { decodeSnapshot, encodeSnapshot } from './protocol.js';

export type VaultState = 'connecting' | 'up' | 'down';

export interface VaultStats {
  state: VaultState;
  /** Sessions written (SET), deleted (DEL), their TTL moved (PEXPIRE). */
  writes: number;
  deletes: number;
  touches: number;
  /** Commands the store did not take (down, timed out): their changes went to the backlog. */
  failures: number;
  /** Changes waiting for the store now, and dropped because the backlog was full. */
  backlog: number;
  backlogDropped: number;
  /** Loads on a miss: asked, found (restored), failed (the store down). */
  loads: number;
  loadHits: number;
  loadFailures: number;
  /** How long the oldest change of the last batch waited before the store had it. */
  lastFlushLagMs: number;
}

/**
 * A change waiting for the store. A write holds the session's snapshot as it was at its
 * commit (a shallow copy; stored values do not change), encoded only when it is sent: a
 * session committed many times between two flushes is encoded once.
 */
type Pending = { readonly kind: 'set'; readonly snapshot: SessionSnapshot; readonly ttlMs: number; readonly queuedAt: number } | { readonly kind: 'del' | 'expire'; readonly ttlMs: number; readonly queuedAt: number };

/** Changes sent to the store at a time (auto-pipelined). */
const FLUSH_BATCH = 1_000;

/** When the session ends, as a TTL from now (0: already over). */
function ttlOf(session: SessionObject, now: number): number {
  const { expiresAt, lastAccessAt, timeoutMs } = session.meta;
  return Math.max(0, (expiresAt ?? lastAccessAt + timeoutMs) - now);
}

export class SessionVault {
  readonly stats: VaultStats = { state: 'connecting', writes: 0, deletes: 0, touches: 0, failures: 0, backlog: 0, backlogDropped: 0, loads: 0, loadHits: 0, loadFailures: 0, lastFlushLagMs: 0 };
  private readonly pending = new Map<string, Pending>();
  private readonly touchedAt = new WeakMap<SessionObject, number>();
  private readonly flushTimer: NodeJS.Timeout;
  private flushing: Promise<void> | undefined;
  private closed = false;
  private storedListener: (id: string) => void = () => {};

  private constructor(
    private readonly redis: RedisClient,
    private readonly settings: StoreSettings,
    private readonly keyPrefix: string,
    private readonly logger: Logger,
  ) {
    redis.on('ready', () => {
      if (this.stats.state !== 'up') this.logger.info({ backlog: this.pending.size }, 'the session store is up');
      this.stats.state = 'up';
      void this.flush();
    });
    redis.on('error', () => this.markDown());
    redis.on('close', () => this.markDown());
    this.flushTimer = setInterval(() => void this.flush(), settings.flushMs).unref();
  }

  /** Connects in the background: a store that is down at start only delays what it holds. */
  static async open(settings: StoreSettings, cluster: string, logger: Logger = silentLogger): Promise<SessionVault> {
    return new SessionVault(await openRedis(settings.url), settings, `${settings.keyPrefix}:${cluster}:session:`, logger);
  }

  /** The store's connection, which this vault owns; shared with the application states' copy (lib/apps/shared-states.ts). */
  get client(): RedisClient {
    return this.redis;
  }

  get mode(): StoreSettings['mode'] {
    return this.settings.mode;
  }

  /** Calls `listener` with the id of every session whose write or delete the store has taken (a backlog's included). */
  onStored(listener: (id: string) => void): void {
    this.storedListener = listener;
  }

  /**
   * Writes the session as it is now. write-through: resolves true once the store has it,
   * false when it waits in the backlog (the store down); write-behind: queued, undefined.
   */
  write(session: SessionObject): Promise<boolean> | undefined {
    const now = Date.now();
    const ttlMs = ttlOf(session, now);
    const entry: Pending = ttlMs > 0 ? { kind: 'set', snapshot: snapshotOf(session), ttlMs, queuedAt: now } : { kind: 'del', ttlMs: 0, queuedAt: now };
    this.touchedAt.set(session, now);
    if (this.settings.mode === 'write-behind') return void this.enqueue(session.id, entry);
    if (this.stats.state !== 'up') {
      this.enqueue(session.id, entry);
      return Promise.resolve(false);
    }
    return this.send([[session.id, entry]]).then((failed) => {
      if (failed.length > 0) this.enqueue(session.id, entry);
      return failed.length === 0;
    });
  }

  /** The session was used without a change: its TTL moves, at most every 1/20 of its lifetime. */
  touch(session: SessionObject): void {
    const now = Date.now();
    if (now - (this.touchedAt.get(session) ?? 0) < session.lifetimeMs / 20) return;
    this.touchedAt.set(session, now);
    const current = this.pending.get(session.id);
    // A write waiting already carries the session: it takes the new TTL when it goes.
    if (current?.kind === 'set') return void this.pending.set(session.id, { ...current, ttlMs: ttlOf(session, now) });
    this.enqueue(session.id, { kind: 'expire', ttlMs: ttlOf(session, now), queuedAt: now });
  }

  /** The session ended (destroyed): it leaves the store too (write-through: now, else with the next batch). */
  delete(id: string): void {
    this.enqueue(id, { kind: 'del', ttlMs: 0, queuedAt: Date.now() });
    if (this.settings.mode === 'write-through') void this.flush();
  }

  /**
   * The stored copy of a session, or undefined (none, or damaged: logged). A change of it
   * still waiting here is the newest there is. Throws TransportError when the store
   * cannot answer (down, or too slow).
   */
  async load(id: string): Promise<SessionSnapshot | undefined> {
    this.stats.loads++;
    const waiting = this.pending.get(id);
    if (waiting?.kind === 'del') return undefined;
    if (waiting?.kind === 'set') {
      this.stats.loadHits++;
      return waiting.snapshot;
    }
    let bytes: Buffer | null;
    try {
      bytes = await this.redis.getBuffer(this.keyPrefix + id);
    } catch (error) {
      this.stats.loadFailures++;
      throw new TransportError(`could not load session ${id} from the store: ${(error as Error).message}`, { cause: error });
    }
    if (!bytes) return undefined;
    try {
      const snapshot = decodeSnapshot(bytes);
      this.stats.loadHits++;
      return snapshot;
    } catch (error) {
      this.stats.loadFailures++;
      this.logger.error({ err: error, session: id }, 'a stored session could not be read: ignored');
      return undefined;
    }
  }

  /** Writes what waits (for at most `timeoutMs`), then disconnects. */
  async close(timeoutMs = 2_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.flushTimer);
    const deadline = Date.now() + timeoutMs;
    while (this.pending.size > 0 && this.stats.state === 'up' && Date.now() < deadline) await this.flush();
    if (this.pending.size > 0) this.logger.warn({ backlog: this.pending.size }, 'closing with session changes the store has not taken');
    this.redis.disconnect();
  }

  private enqueue(id: string, entry: Pending): void {
    // Re-inserted at the end: the map's order is the order changes waited in.
    this.pending.delete(id);
    this.pending.set(id, entry);
    while (this.pending.size > this.settings.backlogLimit) {
      this.pending.delete(this.pending.keys().next().value!);
      this.stats.backlogDropped++;
    }
    this.stats.backlog = this.pending.size;
  }

  /** Sends what waits, a batch at a time, while the store is up. */
  private flush(): Promise<void> {
    if (this.flushing || this.stats.state !== 'up' || this.pending.size === 0) return this.flushing ?? Promise.resolve();
    this.flushing = (async () => {
      try {
        while (this.stats.state === 'up' && this.pending.size > 0) {
          // The oldest FLUSH_BATCH, without copying a backlog of up to `backlogLimit` each round.
          const batch: [string, Pending][] = [];
          for (const item of this.pending) if (batch.push(item) >= FLUSH_BATCH) break;
          const failed = new Set((await this.send(batch)).map(([id]) => id));
          for (const [id, entry] of batch) if (!failed.has(id) && this.pending.get(id) === entry) this.pending.delete(id);
          this.stats.backlog = this.pending.size;
          this.stats.lastFlushLagMs = Date.now() - Math.min(...batch.map(([, e]) => e.queuedAt));
          if (failed.size > 0) break;
        }
      } finally {
        this.flushing = undefined;
      }
    })();
    return this.flushing;
  }

  /**
   * Sends a batch; returns what the store did not take. One command per change, all issued
   * in one turn: ioredis's auto-pipelining sends them as one pipeline per server. (An
   * explicit pipeline cannot span the masters of a Redis Cluster, over which sessions spread.)
   */
  private async send(batch: readonly (readonly [string, Pending])[]): Promise<(readonly [string, Pending])[]> {
    const results = await Promise.allSettled(batch.map(([id, entry]) => this.command(this.keyPrefix + id, entry)));
    const failed: (readonly [string, Pending])[] = [];
    batch.forEach((item, i) => {
      const [id, entry] = item;
      if (results[i]!.status === 'rejected') return void failed.push(item);
      this.stats[entry.kind === 'set' ? 'writes' : entry.kind === 'del' ? 'deletes' : 'touches']++;
      if (entry.kind !== 'expire') this.storedListener(id);
    });
    this.stats.failures += failed.length;
    if (failed.length > 0) this.markDown();
    return failed;
  }

  private async command(key: string, entry: Pending): Promise<unknown> {
    if (entry.kind === 'expire') return this.redis.pexpire(key, Math.max(1, entry.ttlMs));
    if (entry.kind !== 'set') return this.redis.del(key);
    const bytes = encodeSnapshot(entry.snapshot);
    return this.redis.set(key, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), 'PX', Math.max(1, entry.ttlMs));
  }

  /** After an error: down unless the connection is in fact still ready (one command timed out). */
  private markDown(): void {
    if (this.closed) return;
    const next: VaultState = this.redis.status === 'ready' ? 'up' : 'down';
    if (next === 'down' && this.stats.state === 'up') this.logger.warn({ backlog: this.pending.size }, 'the session store is down: changes wait in the backlog');
    this.stats.state = next;
  }
}
