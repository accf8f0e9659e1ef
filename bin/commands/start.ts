import { pino } from 'pino';
import { startNode } from '../../lib/node/start.js';
import { EXIT, parse, requireConfigPath, UsageError, type Verb } from '../cli/common.js';
import { loadConfig } from '../../lib/config/load.js';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

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
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      io.out(this.usage);
      return EXIT.ok;
    }
    const level = values['log-level'] ?? process.env.CASTMIRROR_LOG_LEVEL ?? 'info';
    if (!LEVELS.includes(level)) throw new UsageError(`--log-level must be one of ${LEVELS.join(', ')}`);
    if (!values.node) throw new UsageError('--node N is required');
    const dropEvery = Number(process.env.CASTMIRROR_FAULT_DROP_EVERY ?? 0);
    if (!Number.isSafeInteger(dropEvery) || dropEvery < 0) throw new UsageError('CASTMIRROR_FAULT_DROP_EVERY must be a whole number');

    const loaded = await loadConfig(requireConfigPath(values.config));
    const logger = pino({ level, base: { node: values.node, pid: process.pid } });
    if (dropEvery > 0) logger.warn({ dropEvery }, 'fault injection: dropping every Nth received datagram');
    const node = await startNode({ config: loaded, nodeName: values.node, logger, faults: { dropEveryNthDatagram: dropEvery } });

    return new Promise<number>((resolve) => {
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) {
          logger.warn({ signal }, 'second signal: exiting at once');
          process.exit(EXIT.failure);
        }
        stopping = true;
        logger.info({ signal }, 'stopping');
        node.close().then(
          () => resolve(EXIT.ok),
          (error: unknown) => {
            logger.error({ err: error }, 'error while stopping');
            resolve(EXIT.failure);
          },
        );
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });
  },
};
