/**
 * Every node process gets a new incarnation at start. hyperid is fast and unique, but
 * predictable: it identifies processes, never anything secret (sessions use crypto).
 */
import hyperid from 'hyperid';

export interface Incarnation {
  readonly id: string;
  /** Wall-clock start, to order incarnations of one node name. */
  readonly startedAt: number;
}

const generate = hyperid({ urlSafe: true });

export function newIncarnation(): Incarnation {
  return Object.freeze({ id: generate(), startedAt: Date.now() });
}
