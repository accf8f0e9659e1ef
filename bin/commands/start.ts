import { startNode } from '../../lib/start.js';
import { EXIT, nodeNameFor, parse, requireConfigPath, UsageError, type Verb } from '../cli/common.js';
import { foregroundLogger, LOG_LEVEL_OPTION, reloadOnSighup, runUntilSignal } from '../cli/foreground.js';
import { loadConfig } from '../../lib/config/load.js';
import type { ClusterConfig } from '../../lib/config/types.js';
import { RESTART_DELAY_MS, Supervisor } from '../cli/supervisor.js';

/** The process names of a `<Node processes>` entry called `group`; none when it names one node. */
function processesOf(config: ClusterConfig, group: string): string[] {
  return config.nodes.filter((n) => n.group === group && n.name !== group).map((n) => n.name);
}

export const start: Verb = {
  name: 'start',
  summary: 'run one node in the foreground',
  usage: `usage: castmirror start --config F --node N [--log-level info]

Runs node N of F in the foreground, logging JSON lines to stdout. SIGINT or SIGTERM
closes it gracefully (pending invalidations sent, goodbye to the others) and exits 0.

When N is a <Node processes="K|auto"> entry, runs its K processes N-0..N-(K-1) as child
processes and supervises them: their log lines come to stdout, one that crashes is
started again ${RESTART_DELAY_MS / 1000} s later, and a signal stops them all gracefully.

With <Discovery type="dns">, a node is named by its IPv4 address and --node may be left
out: it is then this machine's address that the DNS name holds, or else its first
external IPv4 address (a pod whose record is not published yet).

Fault injection for drills and tests: CASTMIRROR_FAULT_DROP_EVERY=K drops every Kth
datagram this node receives.`,
  async run(argv, io) {
    const { values } = parse(argv, {
      config: { type: 'string', short: 'c' },
      node: { type: 'string', short: 'n' },
      ...LOG_LEVEL_OPTION,
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      io.out(this.usage);
      return EXIT.ok;
    }
    const dropEvery = Number(process.env.CASTMIRROR_FAULT_DROP_EVERY ?? 0);
    if (!Number.isSafeInteger(dropEvery) || dropEvery < 0) throw new UsageError('CASTMIRROR_FAULT_DROP_EVERY must be a whole number');
    const file = requireConfigPath(values.config);
    const loaded = await loadConfig(file);
    const nodeName = nodeNameFor(loaded, values.node);
    const logger = foregroundLogger(values['log-level'], { node: nodeName });
    for (const warning of loaded.warnings) logger.warn({}, warning);
    const processes = processesOf(loaded.config, nodeName);
    if (processes.length > 0) {
      const supervisor = new Supervisor({ io });
      const args = (name: string): string[] => ['start', '--config', file, '--node', name, ...(values['log-level'] ? ['--log-level', values['log-level']] : [])];
      for (const name of processes) supervisor.launch({ name, args: args(name), logFile: undefined });
      logger.info({ group: nodeName, processes }, 'started the processes of this node entry');
      await supervisor.untilSignalOrExit();
      return EXIT.ok;
    }
    if (dropEvery > 0) logger.warn({ dropEvery }, 'fault injection: dropping every Nth received datagram');
    const node = await startNode({ config: { ...loaded, warnings: [] }, nodeName, logger, faults: { dropEveryNthDatagram: dropEvery } });
    reloadOnSighup(() => node.reload(), logger);
    return runUntilSignal(() => node.close(), logger, node.whenClosed());
  },
};
