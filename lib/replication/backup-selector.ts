/**
 * Which node keeps the backup copy of a session: the node pinned in server.xml
 * (`<Node backup="...">`) if it is alive; else a live node on another machine; else any
 * live node. Never a node on this machine while another machine has one. Among equals,
 * the one this node has given the fewest backups, then the least loaded, then by name.
 */

export interface Candidate {
  readonly name: string;
  readonly machine: string;
  /** Sessions it reported in its last heartbeat. */
  readonly sessions: number;
}

export interface SelectionInput {
  readonly self: { readonly name: string; readonly machine: string; readonly pinnedBackup: string | undefined };
  readonly alive: readonly Candidate[];
  readonly exclude: ReadonlySet<string>;
  /** Backups this node has assigned to each peer (its own, current knowledge). */
  readonly assigned: ReadonlyMap<string, number>;
}

export function chooseBackup(input: SelectionInput): string | undefined {
  const { self, exclude, assigned } = input;
  const usable = input.alive.filter((c) => c.name !== self.name && !exclude.has(c.name));
  if (self.pinnedBackup && usable.some((c) => c.name === self.pinnedBackup)) return self.pinnedBackup;
  const elsewhere = usable.filter((c) => c.machine !== self.machine);
  const pool = elsewhere.length > 0 ? elsewhere : usable;
  let best: Candidate | undefined;
  for (const candidate of pool) {
    if (!best || compare(candidate, best, assigned) < 0) best = candidate;
  }
  return best?.name;
}

function compare(a: Candidate, b: Candidate, assigned: ReadonlyMap<string, number>): number {
  return (assigned.get(a.name) ?? 0) - (assigned.get(b.name) ?? 0) || a.sessions - b.sessions || a.name.localeCompare(b.name);
}
