import { loadConfig } from '../../lib/config/load.js';
import { startShop } from '../../examples/shop/server.js';
import { EXIT, nodeNameFor, parse, requireConfigPath, UsageError, type Verb } from '../cli/common.js';
import { foregroundLogger, LOG_LEVEL_OPTION, reloadOnSighup, runUntilSignal } from '../cli/foreground.js';

export const demo: Verb = {
  name: 'demo',
  summary: 'run one node with the demo shop on its httpPort',
  usage: `usage: castmirror demo --config F --node N [--catalog FILE] [--db-latency-ms 0] [--log-level info]

Runs node N of F with the demo shop (examples/shop) on the node's httpPort, behind
castmirror's session middleware. The catalog ("database") is a JSON file shared by every
node on this machine: by default .castmirror/shop-catalog.json beside F, created on first
use. --db-latency-ms delays every catalog query, to show what the product cache saves.
With <Discovery type="dns">, --node may be left out (see castmirror start --help).`,
  async run(argv, io) {
    const { values } = parse(argv, {
      config: { type: 'string', short: 'c' },
      node: { type: 'string', short: 'n' },
      catalog: { type: 'string' },
      'db-latency-ms': { type: 'string' },
      ...LOG_LEVEL_OPTION,
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      io.out(this.usage);
      return EXIT.ok;
    }
    const latency = Number(values['db-latency-ms'] ?? 0);
    if (!Number.isSafeInteger(latency) || latency < 0 || latency > 60_000) throw new UsageError('--db-latency-ms must be a whole number of milliseconds, 0 to 60000');
    const loaded = await loadConfig(requireConfigPath(values.config));
    const nodeName = nodeNameFor(loaded, values.node);
    const logger = foregroundLogger(values['log-level'], { node: nodeName });
    const shop = await startShop({ config: loaded, nodeName, dbLatencyMs: latency, logger, ...(values.catalog ? { catalogFile: values.catalog } : {}) });
    reloadOnSighup(() => shop.node.reload(), logger);
    return runUntilSignal(() => shop.close(), logger, shop.node.whenClosed());
  },
};
