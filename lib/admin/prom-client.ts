/**
 * An adapter for applications that already expose prom-client metrics: registers every
 * castmirror metric family in a prom-client Registry, read from the node at scrape time.
 * castmirror does not import prom-client: a registry is anything with `registerMetric`.
 *
 *   import { register } from 'prom-client';
 *   import { registerCastmirrorMetrics } from 'castmirror/prom-client';
 *   registerCastmirrorMetrics(register, node);
 */
import type { CacheNode } from '../node/cache-node.js';
import { collectMetrics } from '../node/metrics.js';
import type { MetricFamily } from '../metrics/prometheus.js';

export interface PromRegistryLike {
  registerMetric(metric: object): void;
}

export function registerCastmirrorMetrics(registry: PromRegistryLike, node: Pick<CacheNode, 'metricSources' | 'name'>): void {
  // prom-client asks every metric in the same turn of the event loop: one scrape reads the node once.
  let snapshot: Map<string, MetricFamily> | undefined;
  const families = (): Map<string, MetricFamily> => {
    if (!snapshot) {
      snapshot = new Map(collectMetrics(node.metricSources()).map((f) => [f.name, f]));
      setImmediate(() => (snapshot = undefined));
    }
    return snapshot;
  };
  for (const family of collectMetrics(node.metricSources())) {
    const { name, help, type } = family;
    registry.registerMetric({
      name,
      help,
      type,
      aggregator: 'sum',
      get: async () => ({ name, help, type, aggregator: 'sum', values: promValues(families().get(name), node.name) }),
      reset: () => {},
    });
  }
}

function promValues(family: MetricFamily | undefined, node: string): { value: number; labels: Record<string, string | number>; metricName?: string }[] {
  if (!family) return [];
  const values: { value: number; labels: Record<string, string | number>; metricName?: string }[] = family.samples.map((s) => ({ value: s.value, labels: { node, ...s.labels } }));
  for (const { labels, histogram } of family.histograms ?? []) {
    const cumulative = histogram.cumulative();
    const base = { node, ...labels };
    histogram.bounds.forEach((le, i) => values.push({ metricName: `${family.name}_bucket`, value: cumulative[i]!, labels: { ...base, le } }));
    values.push({ metricName: `${family.name}_bucket`, value: histogram.count, labels: { ...base, le: '+Inf' } });
    values.push({ metricName: `${family.name}_sum`, value: histogram.sum, labels: base });
    values.push({ metricName: `${family.name}_count`, value: histogram.count, labels: base });
  }
  return values;
}
