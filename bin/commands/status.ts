import type { NodeStatus } from '../../lib/node/cache-node.js';
import { CONFIG_OPTIONS, EXIT, parse, printJson, requireConfigPath, table, withFirstReachable, type Verb } from '../cli/common.js';
import { loadConfig } from '../../lib/config/load.js';

export const status: Verb = {
  name: 'status',
  summary: 'members as seen by a node',
  usage: `usage: castmirror status --config F [--node N] [--json]

Asks node N (or the first node that answers) for its member table: name, state,
incarnation, last heartbeat. Exit 1 if no node answers.`,
  async run(argv, io) {
    const { values } = parse(argv, CONFIG_OPTIONS);
    if (values.help) {
      io.out(this.usage);
      return EXIT.ok;
    }
    const loaded = await loadConfig(requireConfigPath(values.config));
    const { result } = await withFirstReachable(loaded, values.node, (client) => client.json<NodeStatus>('GET', '/status'));
    if (values.json) {
      printJson(io, result);
      return EXIT.ok;
    }
    io.out(formatStatus(result));
    return EXIT.ok;
  },
};

/** The member table as `status` prints it. */
export function formatStatus(result: NodeStatus): string {
  const multicast = result.clustered ? (result.multicastVerified ? 'multicast ok' : 'MULTICAST NOT VERIFIED') : 'standalone';
  const s = result.sessions;
  return [
    `cluster "${result.cluster}" as seen by ${result.node} (${multicast}, up ${Math.round(result.uptimeMs / 1000)} s)`,
    `sessions: ${s.primaries} primary, ${s.backups} backup copies; ${s.mode} mirroring, ${s.inFlight} in flight, ${s.acks} acks, last ack ${s.lastAckLagMs} ms, ${s.unmirrored} without a backup`,
    table(
      ['MEMBER', 'STATE', 'INCARNATION', 'MACHINE', 'LAST HEARTBEAT', 'SINCE HEARD'],
      result.members.map((m) => [
        m.self ? `${m.name} (self)` : m.name,
        m.state,
        m.incarnation,
        m.machine || '?',
        m.lastHeartbeat ?? '-',
        m.self ? '-' : `${m.msSinceHeard} ms`,
      ]),
    ),
  ].join('\n');
}
