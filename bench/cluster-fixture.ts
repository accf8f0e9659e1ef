/** A two-node server.xml on loopback for benchmarks (interface 127.0.0.1, TTL 0). */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface BenchCluster {
  readonly dir: string;
  readonly secret: string;
  readonly group: string;
  readonly port: number;
  write(name: string, xmlInside: string): string;
  cleanup(): void;
}

/**
 * Nodes `names` on fresh ports; `write()` adds settings (a <Replication>, say) and returns
 * the path. `heartbeat` is the <Heartbeat> element (a blast may want a longer deadAfterMs).
 */
export async function benchCluster(names: readonly string[], heartbeat = '<Heartbeat intervalMs="100" deadAfterMs="500"/>'): Promise<BenchCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'castmirror-bench-'));
  const secret = randomBytes(24).toString('base64url');
  writeFileSync(path.join(dir, 'secret'), secret, { mode: 0o600 });
  const group = `239.79.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
  const port = await freePort();
  const nodes: string[] = [];
  for (const name of names) {
    nodes.push(`<Node name="${name}" host="127.0.0.1" machine="${name}" httpPort="${await freePort()}" replicationPort="${await freePort()}" adminPort="${await freePort()}"/>`);
  }
  return {
    dir,
    secret,
    group,
    port,
    write(file, xmlInside) {
      const configPath = path.join(dir, file);
      writeFileSync(
        configPath,
        `<Server name="bench"><Cluster>1</Cluster><MulticastAddress>${group}</MulticastAddress><MulticastPort>${port}</MulticastPort>
<MulticastInterface>127.0.0.1</MulticastInterface><MulticastTTL>0</MulticastTTL><Secret file="secret"/>
${heartbeat}${xmlInside}<ClusterNodes>${nodes.join('')}</ClusterNodes></Server>`,
      );
      return configPath;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
