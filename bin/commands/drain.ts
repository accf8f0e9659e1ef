import type { NodeStatus } from '../../lib/node/cache-node.js';
import { AdminUnreachableError } from '../../lib/errors.js';
import { loadConfig } from '../../lib/config/load.js';
import { adminClients, CONFIG_OPTIONS, EXIT, parse, printJson, requireConfigPath, UsageError, type Verb } from '../cli/common.js';

const POLL_MS = 200;
const BAR_WIDTH = 30;

export const drain: Verb = {
  name: 'drain',
  summary: 'hand all of a node\'s sessions to the others, then stop it',
  usage: `usage: castmirror drain --node N --config F [--timeout-ms 120000] [--json]

Asks node N to leave: each primary session it serves is handed to another node (its
backup first), which becomes primary; each backup copy it holds is re-homed by its primary
to another node; then N says goodbye and its process exits. Requests that reach N while
it leaves are answered "not applied" and the proxy sends them to another node. Progress:
a bar on a terminal, plain lines otherwise (--json: one object at the end). Exit 0 once
N is gone with every session handed over; 1 if some could not be, or on timeout.`,
  async run(argv, io) {
    const { values } = parse(argv, { ...CONFIG_OPTIONS, 'timeout-ms': { type: 'string' } });
    if (values.help) {
      io.out(this.usage);
      return EXIT.ok;
    }
    if (!values.node) throw new UsageError('--node N is required: the node to drain');
    const timeout = Number(values['timeout-ms'] ?? 120_000);
    if (!Number.isSafeInteger(timeout) || timeout < 1000) throw new UsageError('--timeout-ms must be at least 1000');
    const loaded = await loadConfig(requireConfigPath(values.config));
    const target = adminClients(loaded, values.node)[0]!.client;
    const others = adminClients(loaded, undefined).filter((c) => c.node !== values.node);

    const started = await target.json<{ primaries: number; backups: number }>('POST', '/drain');
    const total = started.primaries + started.backups;
    const tty = process.stdout.isTTY === true && !values.json;
    let last = '';
    const report = (left: number): void => {
      if (values.json) return;
      const done = total - left;
      if (tty) {
        const filled = total === 0 ? BAR_WIDTH : Math.round((done / total) * BAR_WIDTH);
        process.stdout.write(`\r[${'#'.repeat(filled)}${' '.repeat(BAR_WIDTH - filled)}] ${done}/${total} sessions and copies handed over`);
      } else {
        const line = `${values.node}: ${done}/${total} sessions and copies handed over`;
        if (line !== last) io.out(line);
        last = line;
      }
    };
    report(total);

    const deadline = Date.now() + timeout;
    for (;;) {
      let status: NodeStatus | undefined;
      try {
        status = await target.json<NodeStatus>('GET', '/status');
      } catch (error) {
        if (!(error instanceof AdminUnreachableError)) throw error;
      }
      if (!status) break; // gone: its admin API closes last
      const left = status.sessions.primaries + status.sessions.backups;
      report(left);
      if (Date.now() > deadline) {
        if (tty) io.out('');
        io.err(`${values.node} is still leaving after ${timeout} ms (${left} left)`);
        return EXIT.failure;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    // Gone from its own side; the others confirm it said goodbye (a few heartbeats at most).
    const confirmBy = Date.now() + 3000;
    let gone = false;
    while (!gone && Date.now() < confirmBy) {
      const seenBy = await Promise.all(
        others.map(async ({ client }) => {
          try {
            return (await client.json<NodeStatus>('GET', '/status')).members.find((m) => m.name === values.node)?.state;
          } catch {
            return undefined;
          }
        }),
      );
      gone = seenBy.some((state) => state === 'left' || state === 'dead');
      if (!gone) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    if (tty) {
      report(0);
      io.out('');
    }
    if (values.json) printJson(io, { node: values.node, handedOver: total, gone });
    else io.out(gone ? `${values.node} drained: ${total} sessions and copies handed over; it has left the cluster` : `${values.node} stopped answering; the others have not seen it leave yet`);
    return gone ? EXIT.ok : EXIT.failure;
  },
};
