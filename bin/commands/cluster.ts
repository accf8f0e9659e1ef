import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isLocalAddress } from '../../lib/util/local-addresses.js';
import path from 'node:path';
import { parseClusterConfig } from '../../lib/config/parse.js';
import type { NodeStatus } from '../../lib/node/cache-node.js';
import { AdminUnreachableError } from '../../lib/errors.js';
import { adminClients, EXIT, parse, printJson, requireConfigPath, table, UsageError, type Verb } from '../cli/common.js';
import { PROXY_STATUS_PATH } from '../../lib/proxy/proxy.js';
import { PROXY_MODES } from '../../lib/proxy/router.js';
import { loadConfig } from '../../lib/config/load.js';
import { formatStatus } from './status.js';
import { RESTART_DELAY_MS, Supervisor } from '../cli/supervisor.js';

const CONVERGE_TIMEOUT_MS = 20_000;
const PROXY = 'proxy';

export const cluster: Verb = {
  name: 'cluster',
  summary: 'run every node of the config that lives on this machine (npm start)',
  usage: `usage: castmirror cluster --config F [--app demo|none] [--proxy-mode sticky|dumb] [--restart on|off] [--json]

Starts each node of F whose host is this machine as a child process (every process of a
<Node processes="N|auto">), running the demo shop (castmirror demo; --app none: bare
nodes, castmirror start), plus the sticky proxy when F has <Proxy>. Waits until the nodes
all see each other and the proxy sees them, prints the shop URL, pids and admin URLs, and
stops everything it started on Ctrl-C (a second Ctrl-C kills them). A child that crashes
or is killed is started again ${RESTART_DELAY_MS / 1000} s later (--restart off: it is not), with a
longer wait while it keeps crashing. Logs go to .castmirror/logs/ beside F. When F's
<Secret file=...> does not exist and its env variable is unset, a random secret is
written there (mode 600) first.`,
  async run(argv, io) {
    const { values } = parse(argv, {
      config: { type: 'string', short: 'c' },
      app: { type: 'string' },
      'proxy-mode': { type: 'string' },
      json: { type: 'boolean' },
      restart: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      io.out(this.usage);
      return EXIT.ok;
    }
    const app = values.app ?? 'demo';
    if (app !== 'demo' && app !== 'none') throw new UsageError('--app must be demo or none');
    if (values.restart !== undefined && values.restart !== 'on' && values.restart !== 'off') throw new UsageError('--restart must be on or off');
    const proxyMode = values['proxy-mode'] ?? 'sticky';
    if (!(PROXY_MODES as readonly string[]).includes(proxyMode)) throw new UsageError(`--proxy-mode must be one of ${PROXY_MODES.join(', ')}`);
    const file = requireConfigPath(values.config);
    const created = ensureSecretFile(file);
    if (created) io.err(`created a random cluster secret in ${created} (mode 600; keep it out of version control)`);
    const loaded = await loadConfig(file);
    const local = loaded.config.nodes.filter((n) => isLocalHost(n.host));
    if (local.length === 0) {
      io.err('no node of this config has a host on this machine');
      return EXIT.usage;
    }
    const logDir = path.join(path.dirname(path.resolve(file)), '.castmirror', 'logs');
    mkdirSync(logDir, { recursive: true });

    const supervisor = new Supervisor({ io, restart: values.restart !== 'off' });
    const launch = (name: string, args: string[]): void => supervisor.launch({ name, args, logFile: path.join(logDir, `${name}.log`) });
    for (const node of local) launch(node.name, [app === 'demo' ? 'demo' : 'start', '--config', file, '--node', node.name]);
    const proxy = app === 'demo' ? loaded.config.proxy : undefined;
    if (proxy) launch(PROXY, ['proxy', '--config', file, '--mode', proxyMode]);

    const names = local.map((n) => n.name);
    const stillRunning = (): boolean => supervisor.allFirstRunning;
    const converged = await waitForConvergence(loaded, names, stillRunning);
    const proxyUrl = proxy ? `http://${proxy.host}:${proxy.port}` : undefined;
    if (converged === undefined || (proxyUrl && !(await waitForProxy(proxyUrl, names, stillRunning)))) {
      io.err(`the ${converged ? 'proxy did not see every node' : 'nodes did not all see each other'} within ${CONVERGE_TIMEOUT_MS / 1000} s; see the logs in ${logDir}`);
      // The cause is usually in a child's log (a port in use, another process with its name): say it here.
      for (const name of [...local.map((n) => n.name), ...(proxy ? [PROXY] : [])]) {
        for (const error of supervisor.errorsLogged(name).slice(0, 3)) io.err(`  ${name}: ${error}`);
      }
      await supervisor.stop();
      return EXIT.failure;
    }
    const rows = local.map((n) => ({
      node: n.name,
      pid: supervisor.pidOf(n.name) ?? 0,
      ...(app === 'demo' ? { http: `http://${n.host}:${n.httpPort}` } : {}),
      admin: `${loaded.config.encryption.admin}://${loaded.config.admin.host}:${n.adminPort}`,
      log: path.join(logDir, `${n.name}.log`),
    }));
    const proxyRow = proxyUrl ? { url: proxyUrl, pid: supervisor.pidOf(PROXY) ?? 0, mode: proxyMode, log: path.join(logDir, `${PROXY}.log`) } : undefined;
    if (values.json) {
      printJson(io, { cluster: loaded.config.name, nodes: rows, proxy: proxyRow ?? null });
    } else {
      io.out(`castmirror cluster "${loaded.config.name}": ${rows.length} nodes up and in touch`);
      if (proxyRow) io.out(`\n  shop:  ${proxyRow.url}   (the proxy, pid ${proxyRow.pid}, ${proxyRow.mode})\n`);
      io.out(table(['NODE', 'PID', ...(app === 'demo' ? ['HTTP'] : []), 'ADMIN API', 'LOG'], rows.map((r) => [r.node, r.pid, ...(r.http ? [r.http] : []), r.admin, r.log])));
      io.out(`\n${formatStatus(converged)}`);
      io.out(`\nstatus:   castmirror status --config ${file}`);
      const victim = rows[rows.length - 1]!;
      io.out(`failover: kill -9 <pid of the node that served you> (each response names it; e.g. kill -9 ${victim.pid} for ${victim.node}), then click again`);
      io.out('Ctrl-C stops everything started here.');
    }

    if ((await supervisor.untilSignalOrExit()) === 'signal') return EXIT.ok;
    io.err('every process has exited');
    return EXIT.failure;
  },
};

/** Resolves true once the proxy answers and sees every node alive. */
async function waitForProxy(url: string, names: string[], stillRunning: () => boolean): Promise<boolean> {
  const deadline = Date.now() + CONVERGE_TIMEOUT_MS;
  while (Date.now() < deadline && stillRunning()) {
    try {
      const response = await fetch(`${url}${PROXY_STATUS_PATH}`, { signal: AbortSignal.timeout(1000) });
      const view = (await response.json()) as { members: { name: string; alive: boolean }[] };
      if (names.every((n) => view.members.some((m) => m.name === n && m.alive))) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** Writes a random secret to <Secret file=...> when neither the env variable nor the file exists. */
function ensureSecretFile(configFile: string): string | undefined {
  const { config } = parseClusterConfig(readFileSync(configFile, 'utf8'), configFile, { skipSecretLookup: true });
  const secret = config?.secret;
  if (!secret?.file || (secret.env && process.env[secret.env]) || existsSync(secret.file)) return undefined;
  mkdirSync(path.dirname(secret.file), { recursive: true });
  writeFileSync(secret.file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  return secret.file;
}

function isLocalHost(host: string): boolean {
  return host === 'localhost' || isLocalAddress(host);
}

/** Resolves with the first node's view once every node sees every other alive, or undefined. */
async function waitForConvergence(loaded: Parameters<typeof adminClients>[0], names: string[], stillRunning: () => boolean): Promise<NodeStatus | undefined> {
  const deadline = Date.now() + CONVERGE_TIMEOUT_MS;
  const clients = adminClients(loaded, undefined).filter((c) => names.includes(c.node));
  while (Date.now() < deadline && stillRunning()) {
    const views = await Promise.all(
      clients.map(({ client }) =>
        client.json<NodeStatus>('GET', '/status').catch((error: unknown) => {
          if (error instanceof AdminUnreachableError) return undefined;
          throw error;
        }),
      ),
    );
    const allSeeAll = views.every((v) => v && names.every((n) => v.members.some((m) => m.name === n && m.state === 'alive')));
    if (allSeeAll) return views[0];
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}
