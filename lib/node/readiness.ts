/**
 * Readiness: whether this node should get traffic now, as `GET /readyz` answers it to a load
 * balancer (and the proxy): it has joined its cluster (it hears its own heartbeats), it is
 * not leaving, at least one application is enabled when the config lists any, and every
 * check the application registered passes. Liveness (`GET /healthz`) is only that the node
 * answers at all.
 */

/** An application's own readiness: false, a throw, or no answer within CHECK_TIMEOUT_MS fails it. */
export type ReadinessCheck = () => boolean | Promise<boolean>;

export interface Readiness {
  readonly ready: boolean;
  /** Why not: `leaving`, `not-joined`, `no-application-enabled`, `check:<name>`. */
  readonly reasons: readonly string[];
}

export interface NodeReadinessState {
  readonly leaving: boolean;
  /** Clustered and not (yet) hearing its own heartbeats. */
  readonly notJoined: boolean;
  readonly applicationStates: readonly string[];
}

export const CHECK_TIMEOUT_MS = 1_000;

export class ReadinessChecks {
  private readonly checks = new Map<string, ReadinessCheck>();

  /** Registers (or replaces) a named check; the function returned removes it. */
  add(name: string, check: ReadinessCheck): () => void {
    this.checks.set(name, check);
    return () => {
      if (this.checks.get(name) === check) this.checks.delete(name);
    };
  }

  async evaluate(state: NodeReadinessState): Promise<Readiness> {
    const reasons: string[] = [];
    if (state.leaving) reasons.push('leaving');
    if (state.notJoined) reasons.push('not-joined');
    if (state.applicationStates.length > 0 && !state.applicationStates.includes('enabled')) reasons.push('no-application-enabled');
    const results = await Promise.all([...this.checks].map(async ([name, check]) => ((await passes(check)) ? undefined : `check:${name}`)));
    for (const failed of results) if (failed) reasons.push(failed);
    return { ready: reasons.length === 0, reasons };
  }
}

async function passes(check: ReadinessCheck): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), CHECK_TIMEOUT_MS)));
  try {
    return (await Promise.race([Promise.resolve().then(check), timeout])) === true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
