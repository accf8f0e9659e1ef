import type { ApplicationStatus } from '../../lib/node/cache-node.js';
import type { ChangeReport } from '../../lib/apps/sync.js';
import { AdminUnreachableError } from '../../lib/errors.js';
import { adminClients, CONFIG_OPTIONS, EXIT, parse, printJson, requireConfigPath, table, UsageError, withFirstReachable, type Verb } from '../cli/common.js';
import { loadConfig } from '../../lib/config/load.js';

export const app: Verb = {
  name: 'app',
  summary: 'applications across the cluster: app status | enable NAME | disable NAME [--graceful]',
  usage: `usage: castmirror app status [NAME] --config F [--json]
       castmirror app enable NAME --config F [--node N] [--json]
       castmirror app disable NAME [--graceful] --config F [--node N] [--json]

status: each application's state as every node sees it, with the sessions using it there.
enable / disable: changes the state on every live node (sent by node N, default the first
that answers, over multicast) and reports which nodes applied it and which did not answer
(exit 1 if any did not). disable refuses every request at once (503 naming the
application); disable --graceful lets sessions that already use the application go on
until they end or expire, refuses new ones, and the application reports itself disabled
on a node once its last session there is gone. States persist across restarts, and a
node that starts later learns them from the others.`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { ...CONFIG_OPTIONS, graceful: { type: 'boolean' } });
    if (values.help) {
      io.out(this.usage);
      return EXIT.ok;
    }
    const [action, name, ...extra] = positionals;
    if (extra.length > 0 || !action) throw new UsageError('app status [NAME] | app enable NAME | app disable NAME [--graceful]');
    const loaded = await loadConfig(requireConfigPath(values.config));
    if (action === 'status') return status(loaded, name, Boolean(values.json), io);
    if ((action !== 'enable' && action !== 'disable') || !name) throw new UsageError('app enable NAME | app disable NAME [--graceful]');
    if (action === 'enable' && values.graceful) throw new UsageError('--graceful goes with disable');
    const path = `/apps/${encodeURIComponent(name)}/${action}`;
    const { node, result } = await withFirstReachable(loaded, values.node, (client) => client.json<ChangeReport>('POST', path, { graceful: Boolean(values.graceful) }));
    if (values.json) printJson(io, { ...result, via: node });
    else {
      io.out(`${result.app.name}: ${result.app.state} (version ${result.app.version}, set by ${node})`);
      io.out(`applied on: ${result.applied.join(', ')} (${result.elapsedMs} ms)`);
      if (result.missing.length > 0) io.out(`did not answer: ${result.missing.join(', ')} (they learn the state when they next hear from the cluster)`);
    }
    return result.missing.length > 0 ? EXIT.failure : EXIT.ok;
  },
};

async function status(loaded: Awaited<ReturnType<typeof loadConfig>>, name: string | undefined, json: boolean, io: Parameters<Verb['run']>[1]): Promise<number> {
  const views = await Promise.all(
    adminClients(loaded, undefined).map(async ({ node, client }) => {
      try {
        return { node, applications: (await client.json<{ applications: ApplicationStatus[] }>('GET', '/apps')).applications };
      } catch (error) {
        if (error instanceof AdminUnreachableError) return { node, applications: null };
        throw error;
      }
    }),
  );
  const answered = views.filter((v): v is { node: string; applications: ApplicationStatus[] } => v.applications !== null);
  if (answered.length === 0) {
    io.err('no node answered');
    return EXIT.failure;
  }
  const names = [...new Set(answered.flatMap((v) => v.applications.map((a) => a.name)))].filter((n) => !name || n === name).sort();
  if (name && names.length === 0) throw new UsageError(`no application "${name}"`);
  const summary = names.map((app) => {
    const perNode = answered.map((v) => ({ node: v.node, ...v.applications.find((a) => a.name === app)! }));
    // Cluster-wide: drained once no node has a session using it any more.
    const effective = perNode.every((p) => p.effective === 'disabled') ? 'disabled' : perNode.some((p) => p.effective === 'draining') ? 'draining' : perNode[0]!.state;
    return { name: app, state: perNode[0]!.state, effective, nodes: perNode.map((p) => ({ node: p.node, state: p.state, effective: p.effective, sessions: p.sessions, version: p.version })) };
  });
  const unreachable = views.filter((v) => v.applications === null).map((v) => v.node);
  if (json) {
    printJson(io, { applications: summary, unreachable });
    return EXIT.ok;
  }
  for (const app of summary) {
    io.out(`${app.name}: ${app.effective}${app.effective !== app.state ? ` (${app.state})` : ''}`);
    io.out(table(['NODE', 'STATE', 'HERE', 'SESSIONS', 'VERSION'], app.nodes.map((n) => [n.node, n.state, n.effective, n.sessions, n.version])));
  }
  if (unreachable.length > 0) io.out(`not answering: ${unreachable.join(', ')}`);
  return EXIT.ok;
}
