/**
 * A small metrics interface: components describe their counters and gauges when asked,
 * and this renders them in the Prometheus text exposition format (version 0.0.4). Nothing
 * is updated on hot paths but counters and fixed-bucket histograms; prom-client is not needed.
 */
import type { Histogram } from './histogram.js';

export type Labels = Readonly<Record<string, string>>;

export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  /** Counters and gauges. */
  readonly samples: readonly { readonly labels?: Labels; readonly value: number }[];
  /** Histograms: one per label set. */
  readonly histograms?: readonly { readonly labels?: Labels; readonly histogram: Histogram }[];
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export function renderPrometheus(families: readonly MetricFamily[], common: Labels = {}): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      lines.push(`${family.name}${renderLabels({ ...common, ...sample.labels })} ${renderValue(sample.value)}`);
    }
    for (const { labels, histogram } of family.histograms ?? []) {
      const cumulative = histogram.cumulative();
      histogram.bounds.forEach((bound, i) => lines.push(`${family.name}_bucket${renderLabels({ ...common, ...labels, le: String(bound) })} ${cumulative[i]}`));
      lines.push(`${family.name}_bucket${renderLabels({ ...common, ...labels, le: '+Inf' })} ${histogram.count}`);
      lines.push(`${family.name}_sum${renderLabels({ ...common, ...labels })} ${renderValue(histogram.sum)}`);
      lines.push(`${family.name}_count${renderLabels({ ...common, ...labels })} ${histogram.count}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function renderLabels(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`;
}

function renderValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
