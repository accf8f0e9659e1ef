import { resolveNodeConfig } from '../../lib/config/resolve.js';
import type { ClusterConfig } from '../../lib/config/types.js';
import { ConfigError } from '../../lib/errors.js';
import { CONFIG_OPTIONS, EXIT, parse, printJson, requireConfigPath, table, type Verb } from '../cli/common.js';
import { loadConfig } from '../../lib/config/load.js';

export const validate: Verb = {
  name: 'validate',
  summary: 'check server.xml and print the resolved config',
  usage: `usage: castmirror validate --config F [--node N] [--json]

Reads F, reports every error as F:line:col: message (exit 2), or prints the resolved
config: the whole cluster, or with --node N that node's view (NodeSetting applied).
The secret itself is never printed, only where it was found.`,
  async run(argv, io) {
    const { values } = parse(argv, CONFIG_OPTIONS);
    if (values.help) {
      io.out(this.usage);
      return EXIT.ok;
    }
    const file = requireConfigPath(values.config);
    let loaded;
    try {
      loaded = await loadConfig(file);
    } catch (error) {
      if (error instanceof ConfigError && values.json) {
        printJson(io, { valid: false, errors: error.diagnostics });
        return EXIT.usage;
      }
      throw error;
    }
    const { config, secret, warnings } = loaded;
    const redacted = redact(config);
    const resolved = values.node === undefined ? redacted : { ...resolveNodeConfig(config, values.node), cluster: undefined };
    if (values.json) {
      printJson(io, { valid: true, secretSource: secret?.source ?? null, warnings, config: resolved });
      return EXIT.ok;
    }
    for (const warning of warnings) io.err(`warning: ${warning}`);
    io.out(`${file}: valid (cluster "${config.name}", ${config.clustered ? 'clustered' : 'standalone'}, secret from ${secret?.source ?? 'nowhere'})`);
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
