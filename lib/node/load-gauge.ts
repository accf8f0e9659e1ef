/**
 * The load a node reports in each heartbeat (the proxy places new sessions by it, backups
 * are chosen by it): event-loop utilization since the last report, cache entries, sessions.
 */
import type { MemberLoad } from '../wire/messages.js';

export class LoadGauge {
  private baseline = performance.eventLoopUtilization();

  constructor(private readonly counts: () => { readonly items: number; readonly sessions: number }) {}

  /** The load now; the next sample's utilization is measured from here. */
  sample(): MemberLoad {
    const elu = performance.eventLoopUtilization(this.baseline);
    this.baseline = performance.eventLoopUtilization();
    return { elu: Math.min(1, Math.max(0, Math.round(elu.utilization * 1000) / 1000)), ...this.counts() };
  }
}
