/**
 * One object cache: a node-local LRU (lru-cache) for one cache type, kept coherent with the
 * cluster by invalidation. Values are never replicated; a change anywhere drops the key
 * everywhere, and the next read loads it again.
 */
import { LRUCache } from 'lru-cache';
import { ClosedError, InvalidArgumentError, LoaderError, NoLoaderError } from '../errors.js';
import type { ClearReason } from '../messaging/invalidation-bus.js';
import { isCacheKey, LIMITS } from '../wire/messages.js';

export type Loader<V> = (key: string) => V | undefined | Promise<V | undefined>;

export interface ObjectCacheOptions<V> {
  readonly capacity?: number;
  /** 0: entries do not expire by age. */
  readonly ttlSeconds?: number;
  /** Called by getOrLoad on a miss; `undefined` means "no such object" and is not cached. */
  readonly loader?: Loader<V>;
}

/** Where cluster-wide operations go; absent for a standalone node. */
export interface InvalidationPublisher {
  publishInvalidate(type: string, key: string): Promise<void>;
  publishClear(type: string): Promise<void>;
  /** False while an invalidation published elsewhere may be unknown here for longer than the lease. */
  isCoherent(): boolean;
}

export interface ObjectCacheStats {
  readonly type: string;
  readonly size: number;
  readonly capacity: number;
  readonly ttlSeconds: number;
  readonly hits: number;
  readonly misses: number;
  readonly loads: number;
  readonly loadErrors: number;
  readonly evictions: number;
  readonly expirations: number;
  readonly invalidationsSent: number;
  readonly invalidationsReceived: number;
  readonly clearsSent: number;
  readonly clearsReceived: number;
  /** Times this type was cleared because an invalidation may have been lost. */
  readonly gapClears: number;
  /** Reads of a held key that went to the source (or missed) because the cluster's lease had lapsed. */
  readonly leaseMisses: number;
}

interface Flight<V> {
  promise: Promise<V | undefined>;
  /** Set when the key is invalidated while loading: the result is returned, not stored. */
  stale: boolean;
}

type Counters = { -readonly [K in keyof ObjectCacheStats as ObjectCacheStats[K] extends number ? K : never]: number };

export class ObjectCache<V = unknown> {
  readonly type: string;
  private lru: LRUCache<string, { value: V }>;
  private loader: Loader<V> | undefined;
  private ttl: number;
  private readonly flights = new Map<string, Flight<V>>();
  private readonly counters = {
    hits: 0,
    misses: 0,
    loads: 0,
    loadErrors: 0,
    evictions: 0,
    expirations: 0,
    invalidationsSent: 0,
    invalidationsReceived: 0,
    clearsSent: 0,
    clearsReceived: 0,
    gapClears: 0,
    leaseMisses: 0,
  } satisfies Omit<Counters, 'size' | 'capacity' | 'ttlSeconds'>;
  private closed = false;

  constructor(
    type: string,
    options: ObjectCacheOptions<V> & { capacity: number; ttlSeconds: number },
    private readonly publisher: InvalidationPublisher | undefined,
  ) {
    checkOptions(options);
    this.type = type;
    this.loader = options.loader;
    this.ttl = options.ttlSeconds;
    this.lru = this.newLru(options.capacity, options.ttlSeconds);
  }

  /** Seconds an entry lives on this node (0: no expiry by age). */
  get ttlSeconds(): number {
    return this.ttl;
  }

  get capacity(): number {
    return this.lru.max;
  }

  get size(): number {
    return this.lru.size;
  }

  get hasLoader(): boolean {
    return this.loader !== undefined;
  }

  /** Local read; counts a hit or a miss. */
  get(key: string): V | undefined {
    checkKey(key);
    const entry = this.trustedEntry(key);
    if (entry) this.counters.hits++;
    else this.counters.misses++;
    return entry?.value;
  }

  /** Whether a read would hit. */
  has(key: string): boolean {
    checkKey(key);
    return this.lru.has(key) && this.publisher?.isCoherent() !== false;
  }

  /** Stores locally. To change an object for the whole cluster, change its source and `invalidate`. */
  set(key: string, value: V): void {
    this.assertOpen();
    checkKey(key);
    // A value set by hand wins over a load that is still in flight.
    this.markInFlightStale(key);
    this.lru.set(key, { value });
  }

  /** Drops the key on this node only. */
  delete(key: string): boolean {
    checkKey(key);
    this.markInFlightStale(key);
    return this.lru.delete(key);
  }

  /** A hit, or one loader call shared by every concurrent caller for the same key. */
  async getOrLoad(key: string): Promise<V | undefined> {
    this.assertOpen();
    checkKey(key);
    const entry = this.trustedEntry(key);
    if (entry) {
      this.counters.hits++;
      return entry.value;
    }
    this.counters.misses++;
    const flying = this.flights.get(key);
    if (flying) return flying.promise;
    const loader = this.loader;
    if (!loader) throw new NoLoaderError(this.type);
    const flight = { stale: false } as Flight<V>;
    flight.promise = this.load(loader, key, flight);
    this.flights.set(key, flight);
    return flight.promise;
  }

  private async load(loader: Loader<V>, key: string, flight: Flight<V>): Promise<V | undefined> {
    // Let the caller register the flight before the loader can settle it.
    await undefined;
    this.counters.loads++;
    try {
      const value = await loader(key);
      if (value !== undefined && !flight.stale && !this.closed) this.lru.set(key, { value });
      return value;
    } catch (error) {
      this.counters.loadErrors++;
      throw new LoaderError(this.type, key, { cause: error });
    } finally {
      if (this.flights.get(key) === flight) this.flights.delete(key);
    }
  }

  /** Drops the key here and on every other node. Resolves once the datagram is sent. */
  async invalidate(key: string): Promise<void> {
    this.assertOpen();
    checkKey(key);
    this.markInFlightStale(key);
    this.lru.delete(key);
    this.counters.invalidationsSent++;
    await this.publisher?.publishInvalidate(this.type, key);
  }

  /** Empties this type on every node. */
  async clear(): Promise<void> {
    this.assertOpen();
    this.dropAll();
    this.counters.clearsSent++;
    await this.publisher?.publishClear(this.type);
  }

  /**
   * Cluster-wide clear, then (with `warm`) loads again, through the loader, the keys this
   * node held. Returns how many keys were warmed.
   */
  async reload(options: { warm?: boolean } = {}): Promise<{ warmed: number }> {
    const keys = options.warm && this.loader ? [...this.lru.keys()] : [];
    await this.clear();
    let warmed = 0;
    for (const key of keys) {
      if ((await this.getOrLoad(key)) !== undefined) warmed++;
    }
    return { warmed };
  }

  /** Changes this node's capacity; the least recently used entries go if it shrinks. */
  setCapacity(capacity: number): void {
    checkOptions({ capacity });
    this.rebuild(capacity, this.ttlSeconds);
  }

  /** Changes this node's time-to-live for entries stored from now on. */
  setTtl(ttlSeconds: number): void {
    checkOptions({ ttlSeconds });
    this.rebuild(this.capacity, ttlSeconds);
  }

  /** Adopts a loader (and explicit options) for a cache created from server.xml. */
  configure(options: ObjectCacheOptions<V>): void {
    checkOptions(options);
    if (options.loader) this.loader = options.loader;
    if (options.capacity !== undefined || options.ttlSeconds !== undefined) {
      this.rebuild(options.capacity ?? this.capacity, options.ttlSeconds ?? this.ttlSeconds);
    }
  }

  stats(): ObjectCacheStats {
    return { type: this.type, size: this.lru.size, capacity: this.capacity, ttlSeconds: this.ttlSeconds, ...this.counters };
  }

  keys(): string[] {
    return [...this.lru.keys()];
  }

  /** Invalidations received from other nodes (the manager subscribes this to the bus). */
  applyRemoteInvalidation(keys: readonly string[]): void {
    this.counters.invalidationsReceived += keys.length;
    for (const key of keys) {
      this.markInFlightStale(key);
      this.lru.delete(key);
    }
  }

  /** A clear from another node, or one forced by a possible loss (the manager subscribes this). */
  applyClusterClear(reason: ClearReason): void {
    if (reason === 'remote') this.counters.clearsReceived++;
    // A precautionary clear of an empty cache drops nothing and is not worth counting.
    else if (reason === 'gap' || this.lru.size > 0 || this.flights.size > 0) this.counters.gapClears++;
    this.dropAll();
  }

  close(): void {
    this.closed = true;
    this.lru.clear();
    this.flights.clear();
  }

  /**
   * A load under way when its key is invalidated: its value is never cached, and it is
   * forgotten, so that a read starting after the invalidation loads again rather than join
   * it (callers that were already waiting still get its value).
   */
  private dropAll(): void {
    for (const flight of this.flights.values()) flight.stale = true;
    this.flights.clear();
    this.lru.clear();
  }

  /**
   * The held entry, if it may be served: while the lease has lapsed (some node's
   * invalidations may be unknown here), a held value is not served and the read goes to the
   * source; the entry stays, for when the lease is confirmed again.
   */
  private trustedEntry(key: string): { value: V } | undefined {
    const entry = this.lru.get(key);
    if (entry && this.publisher && !this.publisher.isCoherent()) {
      this.counters.leaseMisses++;
      return undefined;
    }
    return entry;
  }

  private markInFlightStale(key: string): void {
    const flight = this.flights.get(key);
    if (!flight) return;
    flight.stale = true;
    this.flights.delete(key);
  }

  private rebuild(capacity: number, ttlSeconds: number): void {
    const next = this.newLru(capacity, ttlSeconds);
    // dump() lists least recent first and keeps each entry's age, so recency survives and
    // the least recent go if it shrinks; entries take the new TTL from their original start.
    next.load(this.lru.dump().map(([key, entry]) => [key, { ...entry, ttl: undefined }]));
    this.lru = next;
    this.ttl = ttlSeconds;
  }

  private newLru(capacity: number, ttlSeconds: number): LRUCache<string, { value: V }> {
    return new LRUCache<string, { value: V }>({
      max: capacity,
      ...(ttlSeconds > 0 ? { ttl: ttlSeconds * 1000 } : {}),
      dispose: (_value, _key, reason) => {
        if (reason === 'evict') this.counters.evictions++;
        else if (reason === 'expire') this.counters.expirations++;
      },
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError(`cache "${this.type}"`);
  }
}

function checkKey(key: string): void {
  if (!isCacheKey(key)) {
    throw new InvalidArgumentError(`a cache key must be a non-empty string of at most ${LIMITS.cacheKeyBytes} bytes`);
  }
}

/**
 * The one check of every cache option, at each door (create, configure, setCapacity,
 * setTtl), so lru-cache never sees a value it would refuse with a raw TypeError.
 */
function checkOptions(options: { readonly capacity?: unknown; readonly ttlSeconds?: unknown; readonly loader?: unknown }): void {
  const { capacity, ttlSeconds, loader } = options;
  if (capacity !== undefined && (typeof capacity !== 'number' || !Number.isSafeInteger(capacity) || capacity < 1)) {
    throw new InvalidArgumentError(`capacity must be a positive integer, not ${String(capacity)}`);
  }
  if (ttlSeconds !== undefined && (typeof ttlSeconds !== 'number' || !Number.isSafeInteger(ttlSeconds) || ttlSeconds < 0)) {
    throw new InvalidArgumentError(`ttlSeconds must be a whole number >= 0 (0: no expiry), not ${String(ttlSeconds)}`);
  }
  if (loader !== undefined && typeof loader !== 'function') throw new InvalidArgumentError('loader must be a function (key) => value | undefined | Promise');
}
