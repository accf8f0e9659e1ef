import { startNode } from '../../lib/start.js';
import { EXIT, parse, requireConfigPath, UsageError, type Verb } from '../cli/common.js';
import { foregroundLogger, LOG_LEVEL_OPTION, reloadOnSighup, runUntilSignal } from '../cli/foreground.js';
import { loadConfig } from '../../lib/config/load.js';

export const start: Verb = {
  name: 'start',
  summary: 'run one node in the foreground',
  usage: `usage: castmirror start --config F --node N [--log-level info]

Runs node N of F in the foreground, logging JSON lines to stdout. SIGINT or SIGTERM
closes it gracefully (pending invalidations sent, goodbye to the others) and exits 0.

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
    if (!values.node) throw new UsageError('--node N is required');
    const logger = foregroundLogger(values['log-level'], { node: values.node });
    const dropEvery = Number(process.env.CASTMIRROR_FAULT_DROP_EVERY ?? 0);
    if (!Number.isSafeInteger(dropEvery) || dropEvery < 0) throw new UsageError('CASTMIRROR_FAULT_DROP_EVERY must be a whole number');

    const loaded = await loadConfig(requireConfigPath(values.config));
    if (dropEvery > 0) logger.warn({ dropEvery }, 'fault injection: dropping every Nth received datagram');
    const node = await startNode({ config: loaded, nodeName: values.node, logger, faults: { dropEveryNthDatagram: dropEvery } });
    reloadOnSighup(() => node.reload(), logger);
    return runUntilSignal(() => node.close(), logger, node.whenClosed());
  },
};
