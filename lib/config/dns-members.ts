/**
 * Members from DNS (`<Discovery type="dns">`): the A records of one name are the members'
 * addresses, and each member is named by its address, so every node and the proxy derive
 * the same node list from the same answer, with nothing to agree on beforehand. Every
 * member listens on the ports the `<Discovery>` element gives; its machine is its address
 * (keep members on different machines with the scheduler, e.g. pod anti-affinity).
 *
 * `lookupMembers` asks once; `DnsMemberWatch` asks again every `refreshMs` and reports a
 * changed set. A failed lookup keeps the last set: a DNS outage never empties the cluster.
 */
import { isIPv4 } from 'node:net';
import { Resolver } from 'node:dns/promises';
import { localIPv4Addresses } from '../util/local-addresses.js';
import { silentLogger, type Logger } from '../util/logger.js';
import type { ClusterConfig, DnsDiscovery, NodeEntry } from './types.js';

const LOOKUP_TIMEOUT_MS = 2_000;
/** Answers that mean "the name has no members now", not "DNS failed". */
const EMPTY_ANSWERS = new Set(['ENOTFOUND', 'ENODATA']);

/** The member addresses the name holds now, sorted; [] when it has none. Throws when DNS cannot answer. */
export async function lookupMembers(discovery: DnsDiscovery): Promise<string[]> {
  const resolver = new Resolver({ timeout: LOOKUP_TIMEOUT_MS, tries: 2 });
  if (discovery.resolver) resolver.setServers([discovery.resolver]);
  try {
    return [...new Set(await resolver.resolve4(discovery.name))].sort();
  } catch (error) {
    if (EMPTY_ANSWERS.has((error as NodeJS.ErrnoException).code ?? '')) return [];
    throw error;
  }
}

/** The entry of the member at `address`. */
function memberEntry(discovery: DnsDiscovery, address: string): NodeEntry {
  return Object.freeze({
    name: address,
    group: address,
    index: 0,
    processes: 1,
    host: address,
    machine: address,
    httpPort: discovery.httpPort,
    replicationPort: discovery.replicationPort,
    adminPort: discovery.adminPort,
    backup: undefined,
  });
}

/** `config` with its node list made of the members at `addresses` (a dns discovery config only). */
export function withMembers(config: ClusterConfig, addresses: readonly string[]): ClusterConfig {
  const discovery = config.discovery as DnsDiscovery;
  const nodes = [...new Set(addresses)].sort().map((address) => memberEntry(discovery, address));
  return Object.freeze({ ...config, nodes: Object.freeze(nodes) });
}

/** `config` with `address` among its members (a node is one whether or not the answer holds it yet). */
export function withMember(config: ClusterConfig, address: string): ClusterConfig {
  return withMembers(config, [...config.nodes.map((n) => n.name), address]);
}

/**
 * This machine's member address: a local IPv4 address among `members`, else the first
 * external IPv4 address of its interfaces (a node whose record DNS does not hold yet).
 */
export function localMemberAddress(members: readonly string[]): string | undefined {
  const local = localIPv4Addresses();
  return local.find((a) => members.includes(a.address))?.address ?? local.find((a) => !a.internal)?.address;
}

export function isMemberAddress(name: string): boolean {
  return isIPv4(name);
}

/** Looks the name up every `refreshMs`; `onChange` gets each new set of addresses (with `self` in it). */
export class DnsMemberWatch {
  private timer: NodeJS.Timeout | undefined;
  private current: string;
  private failing = false;

  constructor(
    private readonly discovery: DnsDiscovery,
    private readonly self: string | undefined,
    initial: readonly string[],
    private readonly onChange: (addresses: string[]) => void | Promise<void>,
    private readonly logger: Logger = silentLogger,
  ) {
    this.current = initial.join(',');
  }

  start(): void {
    this.timer = setInterval(() => void this.refresh(), this.discovery.refreshMs).unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One lookup now; reports a change. */
  async refresh(): Promise<void> {
    let found: string[];
    try {
      found = await lookupMembers(this.discovery);
    } catch (error) {
      if (!this.failing) this.logger.warn({ err: error, name: this.discovery.name }, 'DNS lookup of the members failed; keeping the last members known');
      this.failing = true;
      return;
    }
    if (this.failing) this.logger.info({ name: this.discovery.name }, 'DNS lookup of the members works again');
    this.failing = false;
    const addresses = [...new Set(this.self ? [...found, this.self] : found)].sort();
    if (addresses.join(',') === this.current) return;
    this.current = addresses.join(',');
    try {
      await this.onChange(addresses);
    } catch (error) {
      this.logger.error({ err: error, members: addresses }, 'could not apply the members from DNS');
    }
  }
}
