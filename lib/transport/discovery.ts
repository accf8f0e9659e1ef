/**
 * The datagram channel a config asks for (`<Discovery type>`): the multicast group;
 * unicast UDP to every `<ClusterNodes>` entry at its host and replicationPort, and to the
 * proxy at its host and port (it listens to heartbeats); or the store's pub/sub channel,
 * which nodes and proxy all subscribe to. One place decides where datagrams go, for nodes
 * and the proxy alike.
 */
import { lookup } from 'node:dns/promises';
import type { ClusterConfig, MessagingSettings, NodeConfig } from '../config/types.js';
import { isLocalAddress } from '../util/local-addresses.js';
import { silentLogger, type Logger } from '../util/logger.js';
import type { DatagramChannel } from './datagram-channel.js';
import { MulticastChannel } from './multicast.js';
import { datagramChannelName, PubSubChannel } from './pubsub.js';
import { UnicastChannel, type UnicastTarget } from './unicast.js';

/** Where unicast datagrams go: every listed node, and the proxy when there is one. */
export function datagramTargets(config: ClusterConfig): UnicastTarget[] {
  const targets: UnicastTarget[] = config.nodes.map((n) => ({ host: n.host, port: n.replicationPort }));
  if (config.proxy) targets.push({ host: config.proxy.host, port: config.proxy.port });
  return targets;
}

function limits(messaging: MessagingSettings, dropEveryNth: number) {
  return { recvBufferBytes: messaging.recvBufferBytes, receiveQueueLimit: messaging.receiveQueueLimit, dropEveryNth };
}

/**
 * A node's channel: it receives where its entry says (UDP on its replicationPort in static
 * and dns mode). Says so when the kernel granted a smaller receive buffer than asked.
 */
export async function openNodeDatagrams(config: NodeConfig, faults: { readonly dropEveryNth?: number } = {}, logger: Logger = silentLogger): Promise<DatagramChannel> {
  const dropEveryNth = faults.dropEveryNth ?? 0;
  const { type } = config.cluster.discovery;
  if (type === 'pubsub') return openStoreChannel(config.cluster, true, dropEveryNth);
  const channel =
    type === 'multicast'
      ? await MulticastChannel.openGroup(config.multicast, config.messaging, { dropEveryNth })
      : await UnicastChannel.open({ host: config.node.host, port: config.node.replicationPort, targets: datagramTargets(config.cluster), ...limits(config.messaging, dropEveryNth) });
  if (channel.stats.recvBufferBytes < config.messaging.recvBufferBytes) {
    logger.warn(
      { requested: config.messaging.recvBufferBytes, granted: channel.stats.recvBufferBytes },
      'the kernel granted a smaller datagram receive buffer than requested; raise net.core.rmem_max to avoid drops in bursts',
    );
  }
  return channel;
}

/**
 * The proxy's channel, for listening only: the group, the store's channel, or UDP on
 * `<Proxy port>`, where the nodes send in static and dns mode. It binds `<Proxy host>` when that is an address of
 * this machine, and every address when it is not (a name for the proxy's address as the
 * nodes see it: a Kubernetes Service, a NAT). Undefined without a `<Proxy>`: no node
 * sends to the proxy then.
 */
export async function openProxyDatagrams(config: ClusterConfig): Promise<DatagramChannel | undefined> {
  if (config.discovery.type === 'multicast') return MulticastChannel.openGroup(config.multicast, config.messaging);
  if (config.discovery.type === 'pubsub') return openStoreChannel(config, false, 0);
  if (!config.proxy) return undefined;
  const host = (await isLocalName(config.proxy.host)) ? config.proxy.host : '0.0.0.0';
  return UnicastChannel.open({ host, port: config.proxy.port, targets: [], ...limits(config.messaging, 0) });
}

/** The store's pub/sub channel (pubsub discovery: the config always has a `<Store>`). */
function openStoreChannel(config: ClusterConfig, publishes: boolean, dropEveryNth: number): Promise<PubSubChannel> {
  const store = config.store!;
  return PubSubChannel.open({ url: store.url, channel: datagramChannelName(store.keyPrefix, config.name), publishes, ...limits(config.messaging, dropEveryNth) });
}

async function isLocalName(host: string): Promise<boolean> {
  try {
    return isLocalAddress((await lookup(host, { family: 4 })).address);
  } catch {
    return false;
  }
}

/** Takes a reloaded node list: a unicast channel sends to the new entries from now on. */
export async function retargetDatagrams(channel: DatagramChannel, config: ClusterConfig): Promise<void> {
  if (channel instanceof UnicastChannel) await channel.setTargets(datagramTargets(config));
}
