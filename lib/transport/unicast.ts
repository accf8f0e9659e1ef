/**
 * The unicast channel, for networks where multicast does not reach: every datagram is sent
 * to each listed member by UDP, at its host and port. Host names are looked up when the
 * channel opens and every few seconds after (a Kubernetes pod that restarts comes back on
 * a new address under the same name); a lookup that fails keeps the last address known.
 * Datagrams from anywhere are taken: the frame's signature, not the source address, says
 * whether it is from the cluster.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type dgram from 'node:dgram';
import { bindUdp, UdpChannel, type ReceiveLimits } from './datagram-channel.js';

/** A member datagrams go to (this node's own address included: hearing itself proves the port open). */
export interface UnicastTarget {
  readonly host: string;
  readonly port: number;
}

export interface UnicastChannelOptions extends ReceiveLimits {
  /** The address and UDP port this channel receives on. */
  readonly host: string;
  readonly port: number;
  readonly targets: readonly UnicastTarget[];
  /** How often host names are looked up again. */
  readonly refreshMs?: number;
}

const DEFAULT_REFRESH_MS = 5_000;

export class UnicastChannel extends UdpChannel {
  private targets: readonly UnicastTarget[] = [];
  private readonly addresses = new Map<string, string>();
  private readonly refreshTimer: NodeJS.Timeout;

  private constructor(socket: dgram.Socket, options: UnicastChannelOptions) {
    super(socket, options);
    this.refreshTimer = setInterval(() => void this.resolve(), options.refreshMs ?? DEFAULT_REFRESH_MS).unref();
  }

  static async open(options: UnicastChannelOptions): Promise<UnicastChannel> {
    const socket = await bindUdp(options.port, options.host, { ...options, shared: false, what: `listen for datagrams on ${options.host}:${options.port} (UDP)` });
    const channel = new UnicastChannel(socket, options);
    await channel.setTargets(options.targets);
    return channel;
  }

  /** Replaces the members datagrams go to (a reloaded node list); resolves once their names are looked up. */
  async setTargets(targets: readonly UnicastTarget[]): Promise<void> {
    this.targets = targets;
    await this.resolve();
  }

  /**
   * Sends one datagram to every member whose address is known. Resolves once the kernel has
   * taken all of them; rejects only when none could be sent (a member that is down is the
   * membership's business, not a send error).
   */
  async send(datagram: Uint8Array): Promise<void> {
    const sends: Promise<void>[] = [];
    for (const target of this.targets) {
      const address = this.addresses.get(target.host);
      if (address !== undefined) sends.push(this.sendTo(datagram, target.port, address, 'unicast'));
    }
    const results = await Promise.allSettled(sends);
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure && results.every((r) => r.status === 'rejected')) throw failure.reason;
  }

  protected override beforeClose(): void {
    clearInterval(this.refreshTimer);
  }

  private async resolve(): Promise<void> {
    const hosts = [...new Set(this.targets.map((t) => t.host))];
    await Promise.all(
      hosts.map(async (host) => {
        if (isIP(host) === 4) return void this.addresses.set(host, host);
        try {
          this.addresses.set(host, (await lookup(host, { family: 4 })).address);
        } catch {
          // Not resolvable now: keep the last address, if there was one.
        }
      }),
    );
  }
}
