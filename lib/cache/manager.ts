/**
 * The object caches of one node, by cache type. Types configured in server.xml exist from
 * the start (so invalidations for them are applied and the admin API can reach them);
 * `create()` adopts such a cache and gives it a loader, or makes a new type.
 */
import { CacheExistsError, InvalidArgumentError, UnknownCacheTypeError } from '../errors.js';
import type { CacheSettings } from '../config/types.js';
import { DEFAULTS, NAME_PATTERN } from '../config/types.js';
import type { InvalidationBus } from '../messaging/invalidation-bus.js';
import { ObjectCache, type ObjectCacheOptions, type ObjectCacheStats } from './object-cache.js';

export class ObjectCacheManager {
  private readonly caches = new Map<string, ObjectCache<unknown>>();
  private readonly unsubscribe = new Map<string, () => void>();
  /** Types created from server.xml that no `create()` has adopted yet. */
  private readonly unclaimed = new Set<string>();

  constructor(
    configured: readonly CacheSettings[],
    private readonly bus: InvalidationBus | undefined,
  ) {
    for (const settings of configured) {
      this.add(settings.type, { capacity: settings.capacity, ttlSeconds: settings.ttlSeconds });
      this.unclaimed.add(settings.type);
    }
  }

  /**
   * Creates the cache for `type`, or adopts the one server.xml configured (its capacity and
   * TTL apply unless `options` names them). A second create for one type throws.
   */
  create<V = unknown>(type: string, options: ObjectCacheOptions<V> = {}): ObjectCache<V> {
    if (typeof type !== 'string' || !NAME_PATTERN.test(type)) throw new InvalidArgumentError(`cache type must be a name of 1-64 letters, digits, ".", "_" or "-"`);
    const existing = this.caches.get(type) as ObjectCache<V> | undefined;
    if (existing) {
      if (!this.unclaimed.has(type)) throw new CacheExistsError(type);
      existing.configure(options);
      this.unclaimed.delete(type);
      return existing;
    }
    return this.add(type, {
      ...options,
      capacity: options.capacity ?? DEFAULTS.cacheCapacity,
      ttlSeconds: options.ttlSeconds ?? DEFAULTS.cacheTtlSeconds,
    });
  }

  get<V = unknown>(type: string): ObjectCache<V> | undefined {
    return this.caches.get(type) as ObjectCache<V> | undefined;
  }

  /** Like get, but throws UnknownCacheTypeError. */
  require<V = unknown>(type: string): ObjectCache<V> {
    const cache = this.get<V>(type);
    if (!cache) throw new UnknownCacheTypeError(type);
    return cache;
  }

  types(): string[] {
    return [...this.caches.keys()].sort();
  }

  /** Takes reloaded `<Caches>`: capacities and TTLs of existing types change, new types appear. */
  reconfigure(configured: readonly CacheSettings[]): void {
    for (const settings of configured) {
      const cache = this.caches.get(settings.type);
      if (!cache) {
        this.add(settings.type, { capacity: settings.capacity, ttlSeconds: settings.ttlSeconds });
        this.unclaimed.add(settings.type);
      } else if (cache.capacity !== settings.capacity || cache.ttlSeconds !== settings.ttlSeconds) {
        cache.configure({ capacity: settings.capacity, ttlSeconds: settings.ttlSeconds });
      }
    }
  }

  stats(): ObjectCacheStats[] {
    return this.types().map((type) => this.caches.get(type)!.stats());
  }

  /** Entries held across every type, for the heartbeat's load figure. */
  get totalEntries(): number {
    let total = 0;
    for (const cache of this.caches.values()) total += cache.size;
    return total;
  }

  close(): void {
    for (const off of this.unsubscribe.values()) off();
    for (const cache of this.caches.values()) cache.close();
    this.unsubscribe.clear();
  }

  private add<V>(type: string, options: ObjectCacheOptions<V> & { capacity: number; ttlSeconds: number }): ObjectCache<V> {
    const cache = new ObjectCache<V>(type, options, this.bus);
    this.caches.set(type, cache as ObjectCache<unknown>);
    if (this.bus) {
      this.unsubscribe.set(
        type,
        this.bus.subscribe(type, {
          invalidate: (keys) => cache.applyRemoteInvalidation(keys),
          clear: (reason) => cache.applyClusterClear(reason),
        }),
      );
    }
    return cache;
  }
}
