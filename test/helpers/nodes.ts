/** In-process nodes for store and suite tests: a standalone node, and a two-node cluster on real sockets. */
import { parseConfigText, startNode, type CacheNode } from '../../lib/index.js';
import { makeCluster, type TestCluster } from './cluster.js';
import { eventually } from './wait.js';

const STANDALONE = '<Server name="solo"><Cluster>0</Cluster><ClusterNodes><Node name="a" host="127.0.0.1" httpPort="1" replicationPort="2" adminPort="3"/></ClusterNodes></Server>';

/** A node that is not clustered (no multicast, no replication), without an admin API. */
export function standaloneNode(): Promise<CacheNode> {
  return startNode({ config: parseConfigText(STANDALONE, 'inline.xml'), nodeName: 'a', admin: false });
}

export interface NodePair {
  readonly cluster: TestCluster;
  readonly nodes: readonly [CacheNode, CacheNode];
  close(): Promise<void>;
}

/** node-a and node-b of a fresh cluster (`extraXml` inside <Server>), started and seeing each other. */
export async function nodePair(extraXml = '<Replication mode="sync"/>'): Promise<NodePair> {
  const cluster = await makeCluster({ nodes: 2, extraXml });
  const nodes = (await Promise.all(['node-a', 'node-b'].map((nodeName) => startNode({ configPath: cluster.configPath, nodeName, admin: false })))) as [CacheNode, CacheNode];
  await eventually(() => nodes.every((n) => n.membership!.alive().length === 2), { what: 'two members' });
  return {
    cluster,
    nodes,
    async close() {
      await Promise.all(nodes.map((n) => n.close()));
      cluster.cleanup();
    },
  };
}
