import type { SessionView } from '../../lib/session/view.js';
import { CONFIG_OPTIONS, EXIT, parse, printJson, requireConfigPath, UsageError, withFirstReachable, type Verb } from '../cli/common.js';
import { loadConfig } from '../../lib/config/load.js';
import { SESSION_ID } from '../../lib/session/id.js';

export const sessions: Verb = {
  name: 'sessions',
  summary: 'show a session held by a node: sessions get ID',
  usage: `usage: castmirror sessions get ID --config F [--node N] [--json]

Shows the session ID as node N (default: the first node that answers) holds it, as
primary or as backup copy: version, primary, backup, origin, and every pool's entries.
Logical references are shown as references ({"$ref": kind, "value": ...}), not rebuilt.`,
  async run(argv, io) {
    // A session id may start with "-" (base64url): the word after `get` is the id, not an option.
    const idFirst = argv[0] === 'get' && argv[1] !== undefined && SESSION_ID.test(argv[1]) ? argv[1] : undefined;
    const { values, positionals } = parse(idFirst ? [argv[0]!, ...argv.slice(2)] : argv, CONFIG_OPTIONS);
    if (values.help) {
      io.out(this.usage);
      return EXIT.ok;
    }
    if (idFirst) positionals.splice(1, 0, idFirst);
    const [action, id] = positionals;
    if (action !== 'get' || !id || positionals.length !== 2) throw new UsageError('sessions get ID');
    const loaded = await loadConfig(requireConfigPath(values.config));
    const { result } = await withFirstReachable(loaded, values.node, (client) => client.json<SessionView>('GET', `/sessions/${encodeURIComponent(id)}`));
    if (values.json) {
      printJson(io, result);
      return EXIT.ok;
    }
    io.out(`session ${result.id}: ${result.role} copy, version ${result.version}; primary ${result.primary}, backup ${result.backup ?? 'none'}, origin ${result.origin}`);
    io.out(`last access ${result.lastAccessAt}, times out after ${result.timeoutSeconds} s idle`);
    for (const [pool, entries] of Object.entries(result.pools)) {
      const keys = Object.keys(entries);
      if (keys.length === 0) continue;
      io.out(`  ${pool}`);
      for (const key of keys) io.out(`    ${key} = ${JSON.stringify(entries[key])}`);
    }
    return EXIT.ok;
  },
};
