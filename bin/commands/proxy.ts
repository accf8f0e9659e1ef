import { DnsMemberWatch } from '../../lib/config/dns-members.js';
import { loadConfig } from '../../lib/config/load.js';
import { StickyProxy } from '../../lib/proxy/proxy.js';
import { PROXY_MODES, type ProxyMode } from '../../lib/proxy/router.js';
import { EXIT, parse, requireConfigPath, UsageError, type Verb } from '../cli/common.js';
import { foregroundLogger, LOG_LEVEL_OPTION, reloadOnSighup, runUntilSignal } from '../cli/foreground.js';

export const proxy: Verb = {
  name: 'proxy',
  summary: 'run the sticky HTTP proxy in front of the nodes',
  usage: `usage: castmirror proxy --config F [--mode sticky|dumb] [--host H] [--port P] [--log-level info]

Listens on <Proxy host port> of F (or --host/--port) and forwards each request to a node's
httpPort. sticky (default): a request goes to the primary named in its route cookie, or to
the cookie's backup when the primary is down; new sessions go to the least-loaded live
node. dumb: a random live node for every request (the nodes then fetch or locate the
session). Live nodes and their load come from the nodes' heartbeats: the proxy listens on
the multicast group and never sends. GET ${'/_castmirror/proxy'} shows its view and counters.`,
  async run(argv, io) {
    const { values } = parse(argv, {
      config: { type: 'string', short: 'c' },
      mode: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      ...LOG_LEVEL_OPTION,
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      io.out(this.usage);
      return EXIT.ok;
    }
    const mode = (values.mode ?? 'sticky') as ProxyMode;
    if (!PROXY_MODES.includes(mode)) throw new UsageError(`--mode must be one of ${PROXY_MODES.join(', ')}`);
    const logger = foregroundLogger(values['log-level'], { role: 'proxy' });
    const file = requireConfigPath(values.config);
    const loaded = await loadConfig(file);
    const reloadConfig = async () => (await loadConfig(file)).config;
    const host = values.host ?? loaded.config.proxy?.host;
    const port = values.port !== undefined ? Number(values.port) : loaded.config.proxy?.port;
    if (host === undefined || port === undefined) throw new UsageError('the config has no <Proxy host="..." port="..."/>; give --host and --port');
    if (!Number.isSafeInteger(port) || port < 0 || port > 65535) throw new UsageError('--port must be a port number');
    const proxy = await StickyProxy.start({ config: loaded.config, secret: loaded.secret?.value, host, port, mode, logger, reloadConfig });
    logger.info({ url: proxy.url, mode }, 'proxy listening');
    reloadOnSighup(async () => proxy.reconfigure(await reloadConfig()), logger);
    const { discovery } = loaded.config;
    if (discovery.type === 'dns') {
      // Members that leave the DNS answer leave the proxy's list (new ones are also found by their heartbeats).
      const watch = new DnsMemberWatch(discovery, undefined, loaded.config.nodes.map((n) => n.name), async () => void proxy.reconfigure(await reloadConfig()), logger);
      watch.start();
    }
    return runUntilSignal(() => proxy.close(), logger);
  },
};
