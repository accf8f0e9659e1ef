/**
 * A fixed-bucket histogram, cheap enough for the request path: `observe` is a short scan
 * over a handful of bucket bounds and two additions. Rendered as a Prometheus histogram.
 */
export class Histogram {
  /** Observations at or below each bound (not cumulative; rendering accumulates). */
  private readonly counts: number[];
  count = 0;
  sum = 0;

  /** Upper bounds in seconds, ascending; +Inf is implied. */
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.counts[i]!++;
    this.count++;
    this.sum += value;
  }

  /** Cumulative counts per bound, then +Inf. */
  cumulative(): number[] {
    let running = 0;
    return this.counts.map((c) => (running += c));
  }
}

/** Latency buckets from 50 µs to 2.5 s: loopback acks sit at the low end, stalls at the high. */
export const LATENCY_BUCKETS_SECONDS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
