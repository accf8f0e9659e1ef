/** Several ClusterCores on one in-memory network, sharing a fake clock. */
import { ClusterCore } from '../../lib/node/cluster-core.js';
import type { Probe, ProbeResult } from '../../lib/membership/probe.js';
import { FakeClock } from './fake-clock.js';
import { MemoryNetwork, type MemoryTransport } from './memory-network.js';

export const SECRET = Buffer.from('core-test-secret-0123456789');
export const HEARTBEAT = { intervalMs: 100, deadAfterMs: 500 };

export interface TestCore {
  readonly name: string;
  readonly core: ClusterCore;
  readonly transport: MemoryTransport;
  /** What a TCP probe of this member would find. */
  probeResult: ProbeResult;
}

/** `adminPort: 0` models nodes started without the admin API. */
export function makeCores(names: readonly string[], options: { clock?: FakeClock; knownNodes?: readonly string[]; maxDatagramBytes?: number; adminPort?: number; retransmit?: boolean } = {}) {
  const clock = options.clock ?? new FakeClock();
  const network = new MemoryNetwork();
  const cores = new Map<string, TestCore>();
  /** Every probe sent, as host:port. */
  const probes: string[] = [];
  const probe: Probe = async (host, port) => {
    probes.push(`${host}:${port}`);
    return cores.get(host)?.probeResult ?? 'refused';
  };
  const add = (name: string, incarnation = `${name}-1`, startedAt = 1000): TestCore => {
    const transport = network.join(name);
    const core = new ClusterCore({
      transport,
      identity: { cluster: 'unit', name, incarnation, startedAt },
      secret: SECRET,
      maxDatagramBytes: options.maxDatagramBytes ?? 1400,
      coalesceMs: 1,
      retransmit: options.retransmit ?? true,
      // The probe finds members by host, so each core's host is its name.
      self: { machine: `m-${name}`, host: name, adminPort: options.adminPort ?? 9000, replicationPort: 7000 },
      heartbeat: HEARTBEAT,
      knownNodes: options.knownNodes ?? names,
      addressOf: (node) => ({ host: node, machine: `m-${node}`, replicationPort: 7000 }),
      load: () => ({ elu: 0, items: 0, sessions: 0 }),
      clock,
      probe,
    });
    const entry = { name, core, transport, probeResult: 'answered' as ProbeResult };
    cores.set(name, entry);
    return entry;
  };
  for (const name of names) add(name);
  return {
    clock,
    network,
    cores,
    probes,
    add,
    get: (name: string) => cores.get(name)!,
    /** Silences a core as kill -9 would: no more frames out or in, probe refused. */
    kill(name: string) {
      const entry = cores.get(name)!;
      network.isolate(entry.transport);
      entry.probeResult = 'refused';
      void entry.core.membership.stop(false);
    },
  };
}
