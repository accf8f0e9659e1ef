/**
 * Hosts for multi-host tests: network namespaces on a bridge, each with its own address on
 * a private /24 that exists only inside them (nothing is routed to the machine's network).
 * One namespace holds the bridge (the "switch"); one is the client from which the test's
 * requests go out (through a small agent); the others are the hosts nodes run on. Created
 * and deleted by the test itself; needs root (CI runs as root).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT } from './cluster.js';

export interface AgentReply {
  readonly status: number;
  readonly body: string;
  /** X-Castmirror-Node of the answer, when there is one. */
  readonly node?: string | null;
  readonly setCookies?: readonly string[];
}

const ip = (...args: string[]): void => void execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
const nft = (ns: string, rules: string): void => void execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: rules, stdio: ['pipe', 'ignore', 'pipe'] });

/** Whether this process may create network namespaces (root, and `ip` present). */
export function canCreateNamespaces(): boolean {
  try {
    const probe = `cmprobe${randomBytes(3).toString('hex')}`;
    ip('netns', 'add', probe);
    ip('netns', 'del', probe);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes a server.xml (and its secret file) in `dir` for one node per host: node `i` named
 * `names[i]` at host `i`'s address, machine `host-i`, multicast and admin on that address;
 * `extraXml` goes inside <Server>. Returns the config's path and the secret.
 */
export function writeHostsConfig(hosts: Hosts, dir: string, options: { names: readonly string[]; file?: string; heartbeat: { intervalMs: number; deadAfterMs: number }; extraXml?: string; dns?: DnsServer }): { configPath: string; secret: string } {
  const secret = randomBytes(24).toString('base64url');
  writeFileSync(path.join(dir, 'secret'), secret, { mode: 0o600 });
  const group = `239.213.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
  const { names, heartbeat } = options;
  const configPath = path.join(dir, options.file ?? 'server.xml');
  writeFileSync(
    configPath,
    `<Server name="hosts">
  <Cluster>1</Cluster>
  <MulticastAddress>${group}</MulticastAddress>
  <MulticastPort>45564</MulticastPort>
  <MulticastTTL>1</MulticastTTL>
  <Secret file="secret"/>
  <Heartbeat intervalMs="${heartbeat.intervalMs}" deadAfterMs="${heartbeat.deadAfterMs}"/>
${options.extraXml ?? ''}
${options.dns ? dnsMembers(options.dns) : listedNodes(hosts, names)}
</Server>
`,
  );
  return { configPath, secret };
}

/** `<ClusterNodes>` with node `i` at host `i`, and its interface and admin address there. */
function listedNodes(hosts: Hosts, names: readonly string[]): string {
  return `  <ClusterNodes>
${names.map((name, i) => `    <Node name="${name}" host="${hosts.address(i)}" machine="host-${i}" httpPort="8081" replicationPort="7081" adminPort="9081"/>`).join('\n')}
  </ClusterNodes>
${names.map((name, i) => `  <NodeSetting node="${name}"><MulticastInterface>${hosts.address(i)}</MulticastInterface><Admin host="${hosts.address(i)}"/></NodeSetting>`).join('\n')}`;
}

/** The members are the addresses the harness's DNS server gives for its name; the admin API on each member's address. */
function dnsMembers(dns: DnsServer): string {
  return `  <Discovery type="dns" name="${dns.name}" resolver="${dns.address}:${dns.port}" refreshMs="500" httpPort="8081" replicationPort="7081" adminPort="9081"/>
  <Admin host="0.0.0.0"/>`;
}

/** The harness's DNS server, in the client namespace (test/helpers/dns-server.mjs): one name, its A records set by the test. */
export class DnsServer {
  private constructor(
    readonly address: string,
    readonly port: number,
    readonly name: string,
    private readonly child: ChildProcess,
    private readonly lines: AsyncIterator<string>,
  ) {}

  /** On the client's address, port 5353 unless given (53: the one resolv.conf can name), for `name`. */
  static async start(hosts: Hosts, options: { port?: number; name?: string } = {}): Promise<DnsServer> {
    const port = options.port ?? 5353;
    const name = options.name ?? 'castmirror.cluster.test';
    const child = spawn('ip', ['netns', 'exec', hosts.ns('client'), process.execPath, path.join(ROOT, 'test', 'helpers', 'dns-server.mjs'), hosts.address('client'), String(port), name], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    await lines.next(); // ready
    return new DnsServer(hosts.address('client'), port, name, child, lines);
  }

  /** The name's records from now on; resolves once the server has them. */
  async setAddresses(addresses: readonly string[]): Promise<void> {
    this.child.stdin!.write(`${JSON.stringify({ addresses })}\n`);
    await this.lines.next();
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}

export class Hosts {
  readonly subnet: string;
  private readonly prefix: string;
  private readonly names: string[] = [];
  private readonly etcDirs = new Set<string>();
  private agent: ChildProcess | undefined;
  private readonly waiting = new Map<number, (reply: AgentReply) => void>();
  private nextId = 1;

  private constructor(readonly count: number) {
    this.prefix = `cm${randomBytes(2).toString('hex')}`;
    // 10.213.X.0/24: a private range, only ever configured inside these namespaces.
    this.subnet = `10.213.${Math.floor(Math.random() * 250) + 1}`;
  }

  /** `count` hosts (addresses .11, .12, ...) and a client (.2) on one bridge. */
  static create(count: number): Hosts {
    const hosts = new Hosts(count);
    try {
      hosts.build();
    } catch (error) {
      hosts.cleanup();
      throw error;
    }
    return hosts;
  }

  /** The namespace of host `i` (0-based); `client` for the test's own, `switch` for the bridge's. */
  ns(i: number | 'client' | 'switch'): string {
    if (i === 'switch') return `${this.prefix}s`;
    return i === 'client' ? `${this.prefix}c` : `${this.prefix}h${i}`;
  }

  address(i: number | 'client'): string {
    return i === 'client' ? `${this.subnet}.2` : `${this.subnet}.${11 + i}`;
  }

  /** An HTTP request from the client namespace. */
  request(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<AgentReply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, resolve);
      this.agent!.stdin!.write(`${JSON.stringify({ id, url, method: init.method ?? 'GET', headers: init.headers ?? {}, body: init.body })}\n`, (error) => error && reject(error));
    });
  }

  async json<T>(url: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<T> {
    const reply = await this.request(url, { ...init, headers: { 'content-type': 'application/json', ...init.headers }, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
    if (reply.status !== 200) throw new Error(`${url}: ${reply.status} ${reply.body.slice(0, 200)}`);
    return JSON.parse(reply.body) as T;
  }

  /**
   * A partition: nftables rules inside host `i`'s namespace drop everything between it and
   * the `others` (unicast both ways, and multicast in and out); the client still reaches it.
   */
  partition(i: number, others: readonly number[]): void {
    const peers = others.map((o) => this.address(o)).join(', ');
    nft(this.ns(i), `table inet castmirror_partition {
  chain in { type filter hook input priority 0; policy accept; ip saddr { ${peers} } counter drop; ip daddr 224.0.0.0/4 counter drop; }
  chain out { type filter hook output priority 0; policy accept; ip daddr { ${peers} } counter drop; ip daddr 224.0.0.0/4 counter drop; }
}`);
  }

  /** Packets host `i`'s partition dropped so far, by rule: to and from its peers, multicast in and out. */
  partitionDrops(i: number): { readonly fromPeers: number; readonly multicastIn: number; readonly toPeers: number; readonly multicastOut: number } {
    const listing = execFileSync('ip', ['netns', 'exec', this.ns(i), 'nft', 'list', 'table', 'inet', 'castmirror_partition'], { encoding: 'utf8' });
    const [fromPeers = 0, multicastIn = 0, toPeers = 0, multicastOut = 0] = [...listing.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
    return { fromPeers, multicastIn, toPeers, multicastOut };
  }

  /**
   * Random loss of `percent` of the datagrams arriving at host `i` (nftables `numgen random`
   * inside its namespace); 0 removes it. `multicast`: datagrams to a group; `udp`: every UDP
   * datagram (what static discovery sends). TCP (replication, the probe, HTTP) is untouched.
   */
  loss(i: number, percent: number, datagrams: 'multicast' | 'udp' = 'multicast'): void {
    try {
      nft(this.ns(i), 'delete table inet castmirror_loss');
    } catch {
      // there was none
    }
    if (percent <= 0) return;
    const match = datagrams === 'multicast' ? 'ip daddr 224.0.0.0/4' : 'meta l4proto udp';
    nft(this.ns(i), `table inet castmirror_loss {
  chain in { type filter hook input priority 0; policy accept; ${match} numgen random mod 100 < ${percent} drop; }
}`);
  }

  /**
   * The switch stops carrying multicast between hosts, as most cloud networks do: a bridge
   * rule in the switch's namespace. Each host still hears its own (looped back locally).
   */
  blockMulticast(): void {
    nft(this.ns('switch'), `table bridge castmirror_nomulticast {
  chain forward { type filter hook forward priority 0; policy accept; ip daddr 224.0.0.0/4 drop; }
}`);
  }

  /**
   * A file `ip netns exec` puts over /etc/`file` for host `i`'s (or the client's) processes:
   * `hosts` (names for addresses) or `resolv.conf` (which DNS server to ask). Written under
   * /etc/netns/NAMESPACE, which cleanup deletes.
   */
  etc(i: number | 'client', file: 'hosts' | 'resolv.conf', content: string): void {
    const dir = path.join('/etc/netns', this.ns(i));
    mkdirSync(dir, { recursive: true });
    this.etcDirs.add(dir);
    writeFileSync(path.join(dir, file), content);
  }

  heal(i: number): void {
    nft(this.ns(i), 'delete table inet castmirror_partition');
  }

  /** Deletes every namespace (their veth pairs and the bridge go with them) and stops the agent. */
  cleanup(): void {
    this.agent?.kill('SIGKILL');
    for (const name of this.names.reverse()) {
      try {
        ip('netns', 'del', name);
      } catch {
        // already gone
      }
    }
    this.names.length = 0;
    for (const dir of this.etcDirs) rmSync(dir, { recursive: true, force: true });
    if (this.etcDirs.size > 0) {
      try {
        rmdirSync('/etc/netns'); // only when nothing else is left there
      } catch {
        // not empty, or already gone
      }
    }
    this.etcDirs.clear();
  }

  private build(): void {
    const sw = this.ns('switch');
    this.add(sw);
    ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0');
    ip('-n', sw, 'link', 'set', 'br0', 'up');
    const members: (number | 'client')[] = ['client', ...Array.from({ length: this.count }, (_, i) => i)];
    members.forEach((member, index) => {
      const ns = this.ns(member);
      this.add(ns);
      ip('-n', sw, 'link', 'add', `p${index}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      ip('-n', sw, 'link', 'set', `p${index}`, 'master', 'br0', 'up');
      ip('-n', ns, 'addr', 'add', `${this.address(member)}/24`, 'dev', 'eth0');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      // Multicast leaves by the host's own interface, and only there.
      ip('-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0');
    });
    this.agent = spawn('ip', ['netns', 'exec', this.ns('client'), process.execPath, path.join(ROOT, 'test', 'helpers', 'netns-agent.mjs')], { stdio: ['pipe', 'pipe', 'inherit'] });
    createInterface({ input: this.agent.stdout! }).on('line', (line) => {
      const reply = JSON.parse(line) as { id: number; status?: number; body?: string; error?: string; node?: string | null; setCookies?: string[] };
      const resolve = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      resolve?.({ status: reply.status ?? 0, body: reply.body ?? reply.error ?? '', node: reply.node ?? null, setCookies: reply.setCookies ?? [] });
    });
  }

  private add(name: string): void {
    ip('netns', 'add', name);
    this.names.push(name);
  }
}
