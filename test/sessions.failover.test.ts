import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { RouteHint } from '../lib/replication/route-hint.js';
import type { NodeStatus } from '../lib/index.js';
import { killAll, makeCluster, startNodes, type NodeProcess, type TestCluster } from './helpers/cluster.js';
import { route, UnknownOutcomeError, type AppReply } from './helpers/session-client.js';
import { eventually } from './helpers/wait.js';

const UPDATES = 1000;
const KILL_AT = 300;
const OTHERS = 20;

async function converged(cluster: TestCluster, names: string[]): Promise<void> {
  for (const name of names) {
    await eventually(async () => (await cluster.admin(name).json<NodeStatus>('GET', '/status')).members.filter((m) => m.state === 'alive').length === names.length, {
      what: `${name} to see ${names.length} members`,
    });
  }
}

for (const mode of ['sync', 'async', 'batched'] as const) {
  describe(`${mode} mirroring: the primary is killed (-9) in the middle of a stream of updates`, { timeout: 120_000 }, () => {
    let cluster: TestCluster;
    let nodes: Map<string, NodeProcess>;
    after(async () => {
      await killAll();
      cluster?.cleanup();
    });

    test(`${UPDATES} updates to one session and ${OTHERS} others; the backup takes over`, async (t) => {
      cluster = await makeCluster({ nodes: 3, extraXml: `<Replication mode="${mode}" batchSize="10" batchIntervalMs="20"/>` });
      nodes = await startNodes(cluster, ['node-a', 'node-b', 'node-c'], {}, 'session-app');
      await converged(cluster, ['node-a', 'node-b', 'node-c']);

      let hint: RouteHint | undefined;
      const acked: number[] = [];
      const unknown: number[] = [];
      const others: { hint: RouteHint; values: number[] }[] = [];
      for (let i = 0; i < OTHERS; i++) {
        const reply = await route(cluster, undefined, "/append", { value: -(i + 1) }, "node-a");
        others.push({ hint: reply.hint, values: [-(i + 1)] });
      }
      const outcomes = new Map<string, number>();
      for (let value = 0; value < UPDATES; value++) {
        if (value === KILL_AT) {
          nodes.get('node-a')!.kill('SIGKILL');
          await nodes.get('node-a')!.exited;
        }
        let reply: AppReply;
        try {
          reply = await route(cluster, hint, '/append', { value }, 'node-a');
        } catch (error) {
          if (!(error instanceof UnknownOutcomeError)) throw error;
          unknown.push(value); // it may have been applied; it was not acknowledged
          continue;
        }
        hint = reply.hint;
        acked.push(value);
        outcomes.set(reply.outcome, (outcomes.get(reply.outcome) ?? 0) + 1);
        if (value % 50 === 0) {
          const other = others[(value / 50) % OTHERS]!;
          const r = await route(cluster, other.hint, '/append', { value: value + 10_000 });
          other.hint = r.hint;
          other.values.push(value + 10_000);
        }
      }
      assert.equal(hint!.primary === 'node-a', false, 'the session moved off the dead node');
      assert.ok((outcomes.get('took-over') ?? 0) + (outcomes.get('fetched') ?? 0) >= 1, `a takeover happened: ${JSON.stringify([...outcomes])}`);

      const final = await route(cluster, hint, '/read', {});
      const list = final.list as number[];
      const missing = acked.filter((v) => !list.includes(v));
      const extra = list.filter((v) => !acked.includes(v));
      t.diagnostic(`${mode}: ${acked.length} acknowledged, ${missing.length} acknowledged updates lost, ${unknown.length} unacknowledged (outcome unknown), ${extra.length} unacknowledged applied; outcomes ${JSON.stringify(Object.fromEntries(outcomes))}`);
      if (mode === 'sync') {
        assert.deepEqual(missing, [], 'sync mode loses no acknowledged update');
        assert.deepEqual(list.filter((v) => acked.includes(v)), acked, 'in order');
      } else {
        // The loss window of async and batched modes is measured and printed above, not assumed.
        assert.ok(list.length > 0);
      }

      let othersLost = 0;
      for (const other of others) {
        const read = await route(cluster, other.hint, '/read', {});
        const values = read.list as number[];
        if (mode === 'sync') assert.deepEqual(values, other.values, `session ${other.hint.sessionId} intact`);
        else if (other.values.some((v) => !values.includes(v))) othersLost++;
      }
      if (mode !== 'sync') t.diagnostic(`${mode}: ${othersLost} of ${OTHERS} other sessions lost their last acknowledged update`);
    });
  });
}
