/**
 * Object cache hot paths against a plain Map and a bare lru-cache (the baselines).
 */
import { LRUCache } from 'lru-cache';
import { ObjectCache } from '../lib/cache/object-cache.js';
import { print, runMicro } from './common.js';

const KEYS = Array.from({ length: 10_000 }, (_, i) => `sku-${i}`);
const map = new Map(KEYS.map((k) => [k, { price: 1 }]));
const lru = new LRUCache<string, { price: number }>({ max: 20_000 });
const cache = new ObjectCache<{ price: number }>('product', { capacity: 20_000, ttlSeconds: 0, loader: () => ({ price: 1 }) }, undefined);
for (const key of KEYS) {
  lru.set(key, { price: 1 });
  cache.set(key, { price: 1 });
}
let i = 0;
const next = () => KEYS[(i = (i + 1) % KEYS.length)]!;

const result = await runMicro('cache', 'Map.get', {
  'Map.get': () => map.get(next()),
  'lru-cache get': () => lru.get(next()),
  'ObjectCache.get (hit)': () => cache.get(next()),
  'ObjectCache.set': () => cache.set(next(), { price: 2 }),
  'ObjectCache.getOrLoad (hit)': () => cache.getOrLoad(next()),
});
print(result);
