/**
 * HTTP requests that began on this node and have not ended. A node that closes waits for
 * them (at most DRAIN_TIMEOUT_MS) before it hands its sessions over: a request admitted
 * before the node began to leave reads and commits its session here, as it began. Requests
 * arriving after that are refused as "not applied" (lib/http/leaving.ts) and go elsewhere.
 */
export const DRAIN_TIMEOUT_MS = 5_000;

interface Ending {
  once(event: 'close', listener: () => void): unknown;
}

export class RequestsInProgress {
  private readonly open = new Set<Ending>();
  private waiters: (() => void)[] = [];

  /** Counts the response until it closes (finished, or the client went away). */
  hold(response: Ending): void {
    this.open.add(response);
    response.once('close', () => {
      this.open.delete(response);
      if (this.open.size === 0) for (const resolve of this.waiters.splice(0)) resolve();
    });
  }

  /** Resolves when none is in progress, or after `timeoutMs` whatever is left. */
  async drained(timeoutMs = DRAIN_TIMEOUT_MS): Promise<void> {
    if (this.open.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([new Promise<void>((resolve) => this.waiters.push(resolve)), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }
}
