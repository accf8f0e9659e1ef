import type { ReloadReport } from '../../lib/node/cache-node.js';
import { AdminUnreachableError } from '../../lib/errors.js';
import { loadConfig } from '../../lib/config/load.js';
import { adminClients, CONFIG_OPTIONS, EXIT, parse, printJson, requireConfigPath, type Verb } from '../cli/common.js';

export const reload: Verb = {
  name: 'reload',
  summary: 'apply an edited server.xml to the running nodes (what can change live)',
  usage: `usage: castmirror reload --config F [--node N] [--json]

Validates F here first (errors as F:line:col, exit 2, nothing sent). Then asks every node of
F (or only N) to re-read it, as SIGHUP does. A running node applies: nodes added to or
removed from <ClusterNodes> (a new node can then join and gets sessions and backups),
cache capacities, TTLs and new cache types, new applications, <Heartbeat> and
<Replication>. Anything else is listed per node as needing a restart. A node listed in F
but not running yet is reported as not running. The proxy picks up new nodes by itself
(or on SIGHUP). Exit 1 if a running node did not answer or refused the file.`,
  async run(argv, io) {
    const { values } = parse(argv, CONFIG_OPTIONS);
    if (values.help) {
      io.out(this.usage);
      return EXIT.ok;
    }
    const loaded = await loadConfig(requireConfigPath(values.config));
    const results = await Promise.all(
      adminClients(loaded, values.node).map(async ({ node, client }) => {
        try {
          return { node, report: await client.json<ReloadReport>('POST', '/reload') };
        } catch (error) {
          if (error instanceof AdminUnreachableError) return { node, notRunning: true as const };
          return { node, error: error instanceof Error ? error.message : String(error) };
        }
      }),
    );
    if (values.json) printJson(io, { nodes: results });
    else {
      for (const result of results) {
        if ('notRunning' in result) io.out(`${result.node}: not running`);
        else if ('error' in result) io.out(`${result.node}: refused: ${result.error}`);
        else {
          const { applied, needsRestart } = result.report;
          io.out(`${result.node}: ${applied.length === 0 ? 'nothing to apply' : `applied ${applied.join('; ')}`}`);
          for (const line of needsRestart) io.out(`  ${line}`);
        }
      }
    }
    return results.some((r) => 'error' in r) || results.every((r) => 'notRunning' in r) ? EXIT.failure : EXIT.ok;
  },
};
