import { resolveNodeConfig } from '../../lib/config/resolve.js';
import type { ClusterConfig } from '../../lib/config/types.js';
import { ConfigError } from '../../lib/errors.js';
import { CONFIG_OPTIONS, EXIT, parse, printJson, requireConfigPath, table, type Verb } from '../cli/common.js';
import { loadConfig } from '../../lib/config/load.js';

export const validate: Verb = {
  name: 'validate',
  summary: 'check server.xml and print the resolved config',
  usage: `usage: castmirror validate --config F [--node N] [--skip-secret] [--json]

Reads F, reports every error as F:line:col: message (exit 2), or prints the resolved
config: the whole cluster, or with --node N that node's view (NodeSetting applied).
The secret itself is never printed, only where it was found. A clustered config needs its
secret to be found (from <Secret env> or <Secret file>), as a node would; --skip-secret
checks everything else without looking it up (a fresh clone, a config checked in CI).`,
  async run(argv, io) {
    const { values } = parse(argv, { ...CONFIG_OPTIONS, 'skip-secret': { type: 'boolean' } });
    if (values.help) {
      io.out(this.usage);
      return EXIT.ok;
    }
    const file = requireConfigPath(values.config);
    let loaded;
    try {
      loaded = await loadConfig(file, { skipSecretLookup: values['skip-secret'] ?? false });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      if (values.json) {
        printJson(io, { valid: false, errors: error.diagnostics });
        return EXIT.usage;
      }
      for (const line of error.message.split('\n')) io.err(line);
      if (error.diagnostics.some((d) => d.message.startsWith('no cluster secret'))) {
        io.err('(castmirror validate --skip-secret checks the rest without the secret)');
      }
      return EXIT.usage;
    }
    const { config, secret, warnings } = loaded;
    const redacted = redact(config);
    const resolved = values.node === undefined ? redacted : { ...resolveNodeConfig(config, values.node), cluster: undefined };
    if (values.json) {
      printJson(io, { valid: true, secretSource: secret?.source ?? null, warnings, config: resolved });
      return EXIT.ok;
    }
    for (const warning of warnings) io.err(`warning: ${warning}`);
    const secretFrom = values['skip-secret'] ? 'not looked up' : `secret from ${secret?.source ?? 'nowhere'}`;
    io.out(`${file}: valid (cluster "${config.name}", ${config.clustered ? 'clustered' : 'standalone'}, ${secretFrom})`);
    if (values.node !== undefined) {
      io.out(JSON.stringify(resolved, null, 2));
      return EXIT.ok;
    }
    if (config.clustered) {
      const m = config.multicast;
      io.out(`multicast ${m.address}:${m.port} on ${m.interface}, ttl ${m.ttl}; heartbeat every ${config.heartbeat.intervalMs} ms, dead after ${config.heartbeat.deadAfterMs} ms`);
    }
    io.out(
      table(
        ['NODE', 'HOST', 'MACHINE', 'HTTP', 'REPLICATION', 'ADMIN', 'OVERRIDES'],
        config.nodes.map((n) => [n.name, n.host, n.machine, n.httpPort, n.replicationPort, n.adminPort, Object.keys(config.overrides[n.name] ?? {}).join(',') || '-']),
      ),
    );
    if (config.caches.length > 0) {
      io.out(table(['CACHE', 'CAPACITY', 'TTL(s)'], config.caches.map((c) => [c.type, c.capacity, c.ttlSeconds || '-'])));
    }
    return EXIT.ok;
  },
};

function redact(config: ClusterConfig): unknown {
  return { ...config, secret: config.secret ? { ...config.secret, inline: config.secret.inline === undefined ? undefined : '(redacted)' } : undefined };
}
