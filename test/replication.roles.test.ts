/**
 * The failover roles (SessionFinder, BackupSide, Backups, Mirror) as units: real
 * SessionManagers over an in-memory network (membership, locate) and in-memory replication
 * links (the real codec), with a fake clock for failure detection. The same behaviours are
 * pinned end to end with real processes in sessions.*.test.ts.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { ReplicationSettings } from '../lib/config/types.js';
import { NotMirroredError, SessionTooLargeError } from '../lib/errors.js';
import { SessionManager, type RunResult } from '../lib/replication/session-manager.js';
import type { RouteHint } from '../lib/replication/route-hint.js';
import { ReferenceRegistry } from '../lib/session/reference.js';
import { snapshotOf } from '../lib/session/codec.js';
import type { SessionObject } from '../lib/session/session.js';
import { HEARTBEAT, makeCores } from './helpers/cores.js';
import { PeerHub } from './helpers/memory-peers.js';

const managers: SessionManager[] = [];
afterEach(async () => {
  for (const manager of managers.splice(0)) await manager.close();
});

async function makeNodes(names: readonly string[], replication: Partial<ReplicationSettings> = {}) {
  const cluster = makeCores(names);
  const hub = new PeerHub();
  for (const name of names) {
    const { core } = cluster.get(name);
    const self = { name, incarnation: `${name}-1`, machine: `m-${name}`, pinnedBackup: undefined };
    const manager = new SessionManager({
      self,
      replication: { mode: 'sync', batchSize: 10, batchIntervalMs: 10, rehome: 'eager', noBackup: 'accept', ...replication },
      timeoutMs: 60_000,
      references: new ReferenceRegistry(),
      membership: core.membership,
      channel: core.channel,
      peers: hub.peersFor(self),
    });
    hub.managers.set(name, manager);
    managers.push(manager);
  }
  for (const { core } of cluster.cores.values()) core.start();
  await cluster.clock.advance(HEARTBEAT.intervalMs);
  return {
    cluster,
    hub,
    node: (name: string) => hub.managers.get(name)!,
    /** kill -9: silent on the network, its replication port refuses; peers notice after deadAfterMs. */
    async kill(name: string) {
      hub.down.add(name);
      cluster.kill(name);
      await cluster.clock.advance(HEARTBEAT.deadAfterMs + 2 * HEARTBEAT.intervalMs);
    },
  };
}

/** Lets what runs in the background (promotions, re-homing) finish: polls, bounded. */
async function until(what: string, condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve));
  assert.ok(condition(), `timed out waiting for ${what}`);
}

const addToCart = (item: string) => (session: SessionObject) => {
  session.global.set('cart', [...(session.global.get<string[]>('cart') ?? []), item]);
};
const readCart = (session: SessionObject) => session.global.get<string[]>('cart');
const roleOn = (manager: SessionManager, id: string) => manager.inspect(id)?.role;

describe('SessionFinder', () => {
  test('takeover: the backup of a dead primary serves the session whole and copies it to a new backup', async () => {
    const nodes = await makeNodes(['a', 'b', 'c']);
    const created = await nodes.node('a').run(undefined, addToCart('x'));
    const updated = await nodes.node('a').run(created.hint, addToCart('y'));
    const backup = updated.hint.backup!;
    const third = ['b', 'c'].find((n) => n !== backup)!;
    assert.equal(roleOn(nodes.node(backup), created.session.id), 'backup');
    await nodes.kill('a');

    // Promoted at once, without a request; the request may still find it mid-way (took-over).
    const served = await nodes.node(backup).run(updated.hint, readCart);
    assert.ok(served.outcome === 'took-over' || served.outcome === 'served', served.outcome);
    assert.deepEqual(served.result, ['x', 'y']);
    assert.equal(served.hint.primary, backup);
    assert.equal(served.hint.backup, third, 'a new backup, never the dead primary');
    assert.equal(roleOn(nodes.node(third), created.session.id), 'backup');
    assert.equal(nodes.node(backup).snapshotStats().takeovers, 1);
  });

  test('fetch: a node that holds nothing takes the session from its live primary, which steps down; the backup stays', async () => {
    const nodes = await makeNodes(['a', 'b', 'c']);
    const created = await nodes.node('a').run(undefined, addToCart('x'));
    const backup = created.hint.backup!;
    const third = ['b', 'c'].find((n) => n !== backup)!;

    const moved = await nodes.node(third).run(created.hint, addToCart('z'));
    assert.equal(moved.outcome, 'fetched');
    assert.deepEqual(readCart(moved.session), ['x', 'z']);
    assert.equal(roleOn(nodes.node('a'), created.session.id), undefined, 'the old primary keeps nothing');
    assert.equal(moved.hint.backup, backup, 'the backup that held it is kept');
    assert.equal(nodes.node(backup).inspect(created.session.id)?.session.version, moved.session.version, 'and holds the latest change');
  });

  test('locate: a hint that names neither primary nor backup is answered by a multicast locate', async () => {
    const nodes = await makeNodes(['a', 'b', 'c']);
    const created = await nodes.node('a').run(undefined, addToCart('x'));
    const third = ['b', 'c'].find((n) => n !== created.hint.backup)!;
    const found = await nodes.node(third).run({ sessionId: created.session.id }, readCart);
    assert.equal(found.outcome, 'fetched');
    assert.deepEqual(found.result, ['x']);
    assert.equal(nodes.node(third).snapshotStats().locates, 1);
  });

  test('a copy older than the client has seen is not served while a newer one exists elsewhere', async () => {
    const nodes = await makeNodes(['a', 'b', 'c']);
    const created = await nodes.node('a').run(undefined, addToCart('v1'));
    const stale = created.hint.backup!;
    const other = ['b', 'c'].find((n) => n !== stale)!;
    // The backup is unreachable for one commit: the change goes, whole, to the other node.
    nodes.hub.down.add(stale);
    const updated = await nodes.node('a').run(created.hint, addToCart('v2'));
    nodes.hub.down.delete(stale);
    assert.equal(updated.hint.backup, other);
    assert.ok(nodes.node(stale).inspect(created.session.id)!.session.version < updated.session.version, 'the first backup kept an old copy');
    await nodes.kill('a');

    // The client's cookie still points at the stale node (say, the proxy chose it).
    const hint: RouteHint = { ...updated.hint, backup: other };
    const served = await nodes.node(stale).run(hint, readCart);
    assert.equal(served.outcome, 'fetched', 'fetched from the node with the newer copy, not taken over from the stale one');
    assert.deepEqual(served.result, ['v1', 'v2']);
  });

  test('a superseded copy whose primary lives is not taken over by a request that names no version (express-session\'s): the newer copy is found', async () => {
    const nodes = await makeNodes(['a', 'b', 'c']);
    const created = await nodes.node('a').run(undefined, addToCart('v1'));
    const stale = created.hint.backup!;
    const other = ['b', 'c'].find((n) => n !== stale)!;
    // The session moves to the other node while the first backup hears nothing of it: its
    // copy stays at v1, naming a primary that lives on but no longer holds the session.
    nodes.hub.down.add(stale);
    const moved = await nodes.node(other).run(created.hint, addToCart('v2'));
    nodes.hub.down.delete(stale);
    assert.equal(moved.outcome, 'fetched');
    assert.equal(nodes.node(stale).inspect(created.session.id)?.session.meta.primary, 'a');
    // The old primary lets go of whatever it kept (as a node that handed the session over does).
    if (roleOn(nodes.node('a'), created.session.id)) await nodes.node('a').answer({ t: 'release', session: created.session.id }, { node: other, incarnation: `${other}-1` });
    assert.equal(roleOn(nodes.node('a'), created.session.id), undefined, 'the primary named by the stale copy holds nothing');

    const served = await nodes.node(stale).run({ sessionId: created.session.id }, readCart);
    assert.equal(served.outcome, 'fetched', 'located and fetched, not taken over from the superseded copy');
    assert.deepEqual(served.result, ['v1', 'v2']);
  });

  test('async: a backup whose copy lags, asked with a cookie of an older version, takes the session from its live primary', async () => {
    const nodes = await makeNodes(['a', 'b'], { mode: 'async' });
    const created = await nodes.node('a').run(undefined, addToCart('v1'));
    await until('the copy on b', () => nodes.node('b').inspect(created.session.id)?.session.version === created.session.version);
    // b misses the next change; the client's cookie still says the first version (it is not rewritten for a change).
    nodes.hub.down.add('b');
    await nodes.node('a').run(created.hint, addToCart('v2'));
    nodes.hub.down.delete('b');
    const served = await nodes.node('b').run(created.hint, readCart);
    assert.equal(served.outcome, 'fetched', 'not taken over from the lagging copy');
    assert.deepEqual(served.result, ['v1', 'v2']);
  });

  test('a session no node holds is lost when it had a primary, expired when the client never had one', async () => {
    const nodes = await makeNodes(['a', 'b']);
    const lost = await nodes.node('a').run({ sessionId: 'x'.repeat(22), primary: 'b', version: 3 }, () => 'new');
    assert.equal(lost.outcome, 'lost');
    const unknown = await nodes.node('a').run({ sessionId: 'y'.repeat(22) }, () => 'new');
    assert.equal(unknown.outcome, 'expired');
    assert.notEqual(unknown.session.id, 'y'.repeat(22), 'a new session under a new id');
  });
});

describe('BackupSide', () => {
  test('two primaries: the higher version wins, then the higher incarnation; the loser is told', async () => {
    const nodes = await makeNodes(['a', 'b']);
    const b = nodes.node('b');
    const held = await b.run(undefined, addToCart('x'));
    await b.run(held.hint, addToCart('y'));
    const ours = b.inspect(held.session.id)!.session;
    const older = { ...snapshotOf(ours), meta: { ...ours.meta, version: ours.version - 1 } };
    const refused = await b.answer({ t: 'mirror', id: 1, snapshot: older }, { node: 'a', incarnation: 'a-1' });
    assert.deepEqual(refused, { t: 'conflict', id: 1, version: ours.version, incarnation: 'b-1' });
    assert.equal(roleOn(b, held.session.id), 'primary');

    const sameVersion = { ...snapshotOf(ours), meta: { ...ours.meta } };
    assert.equal((await b.answer({ t: 'mirror', id: 2, snapshot: sameVersion }, { node: 'a', incarnation: 'a-0' }))?.t, 'conflict', 'the lower incarnation loses a tie');
    assert.equal((await b.answer({ t: 'mirror', id: 3, snapshot: sameVersion }, { node: 'a', incarnation: 'c-0' }))?.t, 'ack', 'the higher incarnation wins it');
    assert.equal(roleOn(b, held.session.id), 'backup', 'this node stepped down and keeps a copy');
    assert.equal(b.snapshotStats().conflicts, 3);
  });

  test('a delta on top of another base version asks for the whole session', async () => {
    const nodes = await makeNodes(['a', 'b']);
    const created = await nodes.node('a').run(undefined, addToCart('x'));
    const copy = nodes.node('b').inspect(created.session.id)!.session;
    const reply = await nodes.node('b').answer(
      { t: 'batch', id: 7, deltas: [{ id: created.session.id, base: copy.version + 5, version: copy.version + 6, epoch: copy.meta.epoch, stack: [], set: [], delete: [], meta: { primary: 'a', backup: 'b', lastAccessAt: Date.now(), expiresAt: null } }] },
      { node: 'a', incarnation: 'a-1' },
    );
    assert.deepEqual(reply, { t: 'batch-ack', id: 7, versions: [-1] });
  });

  test('hand-off on close: every primary goes to its backup, which copies it to a node that stays', async () => {
    const nodes = await makeNodes(['a', 'b', 'c']);
    const sessions: RunResult<void>[] = [];
    for (let i = 0; i < 6; i++) sessions.push(await nodes.node('a').run(undefined, addToCart(`item-${i}`)));
    await nodes.node('a').close();
    for (const [i, { session, hint }] of sessions.entries()) {
      const heir = nodes.node(hint.backup!).inspect(session.id);
      assert.equal(heir?.role, 'primary', `${session.id} is primary on its old backup`);
      assert.notEqual(heir.session.meta.backup, 'a', 'never backed up on the node that left');
      assert.equal(roleOn(nodes.node(heir.session.meta.backup!), session.id), 'backup');
      assert.deepEqual(readCart(heir.session), [`item-${i}`]);
    }
    assert.equal(nodes.node('a').count, 0);
  });
});

describe('Backups', () => {
  test('a lost backup is replaced at once (eager re-homing), whether or not a request comes', async () => {
    const nodes = await makeNodes(['a', 'b', 'c']);
    const created = await nodes.node('a').run(undefined, addToCart('x'));
    const lost = created.hint.backup!;
    const other = ['b', 'c'].find((n) => n !== lost)!;
    await nodes.kill(lost);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(roleOn(nodes.node(other), created.session.id), 'backup');
    assert.equal(nodes.node('a').inspect(created.session.id)!.session.meta.backup, other);
    assert.equal(nodes.node('a').snapshotStats().unmirrored, 0);
  });

  test('backups spread evenly over the peers this node has given fewest', async () => {
    const nodes = await makeNodes(['a', 'b', 'c']);
    const backups: string[] = [];
    for (let i = 0; i < 6; i++) backups.push((await nodes.node('a').run(undefined, addToCart('x'))).hint.backup!);
    assert.deepEqual([backups.filter((n) => n === 'b').length, backups.filter((n) => n === 'c').length], [3, 3]);
  });
});

describe('two copies, always', () => {
  test('a dead primary\'s untouched sessions are promoted on their backups at once; a second failure then loses nothing', async () => {
    const nodes = await makeNodes(['a', 'b', 'c', 'd']);
    const created: RunResult<void>[] = [];
    for (let i = 0; i < 30; i++) created.push(await nodes.node('a').run(undefined, addToCart(`item-${i}`)));
    await nodes.kill('a');
    const holders = ['b', 'c', 'd'];
    const primaryOf = (id: string) => holders.find((n) => roleOn(nodes.node(n), id) === 'primary');
    const backupOf = (id: string) => holders.find((n) => roleOn(nodes.node(n), id) === 'backup');
    await until('every session to be primary again, with a backup', () => created.every(({ session }) => primaryOf(session.id) && backupOf(session.id)));
    assert.equal(holders.reduce((n, h) => n + nodes.node(h).snapshotStats().orphansPromoted, 0), 30, 'no request was needed');

    // The second failure: b, which now is primary of some and backup of others.
    await nodes.kill('b');
    const left = ['c', 'd'];
    await until('two copies again after the second failure', () => created.every(({ session }) => left.some((n) => roleOn(nodes.node(n), session.id) === 'primary') && left.some((n) => roleOn(nodes.node(n), session.id) === 'backup')));
    for (const [i, { session }] of created.entries()) {
      const primary = left.find((n) => roleOn(nodes.node(n), session.id) === 'primary')!;
      assert.deepEqual(readCart(nodes.node(primary).inspect(session.id)!.session), [`item-${i}`], `${session.id} intact`);
    }
  });

  test('a copy superseded by a new backup is released on the old one', async () => {
    const nodes = await makeNodes(['a', 'b', 'c']);
    const created = await nodes.node('a').run(undefined, addToCart('x'));
    const first = created.hint.backup!;
    nodes.hub.failOnce.add(first); // its link resets under one commit; the node stays alive
    const updated = await nodes.node('a').run(created.hint, addToCart('y'));
    assert.notEqual(updated.hint.backup, first);
    await until('the release to arrive', () => roleOn(nodes.node(first), created.session.id) === undefined);
    assert.equal(roleOn(nodes.node(updated.hint.backup!), created.session.id), 'backup');
    assert.equal(nodes.node('a').snapshotStats().releases, 1);
  });

  test('a backup that restarts empty is refilled: its sessions get a backup again, which may be the new incarnation', async () => {
    const nodes = await makeNodes(['a', 'b']);
    const created = await nodes.node('a').run(undefined, addToCart('x'));
    assert.equal(created.hint.backup, 'b');
    // b restarts: a new incarnation on the wire, and a new, empty SessionManager behind its port.
    nodes.cluster.kill('b');
    const restarted = nodes.cluster.add('b', 'b-2', 2000);
    const fresh = new SessionManager({
      self: { name: 'b', incarnation: 'b-2', machine: 'm-b', pinnedBackup: undefined },
      replication: { mode: 'sync', batchSize: 10, batchIntervalMs: 10, rehome: 'eager', noBackup: 'accept' },
      timeoutMs: 60_000,
      references: new ReferenceRegistry(),
      membership: restarted.core.membership,
      channel: restarted.core.channel,
      peers: nodes.hub.peersFor({ name: 'b', incarnation: 'b-2' }),
    });
    nodes.hub.managers.set('b', fresh);
    managers.push(fresh);
    restarted.core.start();
    await nodes.cluster.clock.advance(2 * HEARTBEAT.intervalMs);
    await until('the restarted backup to hold the copy again', () => roleOn(fresh, created.session.id) === 'backup');
    assert.equal(nodes.node('a').snapshotStats().unmirrored, 0);
  });
});

/**
 * a stalls (nothing it sends arrives, its replication port does not answer) until the others
 * declare it dead and the session's backup, its heir, promotes it and acknowledges 'y'; then
 * a resumes, still holding its old copy as primary.
 */
async function stallPrimaryUntilReplaced(nodes: Awaited<ReturnType<typeof makeNodes>>, created: RunResult<void>): Promise<{ heir: string; onHeir: RunResult<void> }> {
  const heir = created.hint.backup!;
  const a = nodes.cluster.get('a');
  nodes.hub.down.add('a');
  nodes.cluster.network.isolate(a.transport);
  a.probeResult = 'refused';
  await nodes.cluster.clock.advance(HEARTBEAT.deadAfterMs + 2 * HEARTBEAT.intervalMs);
  await until('the heir to promote the session', () => roleOn(nodes.node(heir), created.session.id) === 'primary');
  const onHeir = await nodes.node(heir).run({ ...created.hint, primary: heir }, addToCart('y'));
  nodes.hub.down.delete('a');
  nodes.cluster.network.reconnect(a.transport);
  a.probeResult = 'answered';
  await nodes.cluster.clock.advance(3 * HEARTBEAT.intervalMs);
  return { heir, onHeir };
}

describe('epochs: a primary that stalled and resumes', () => {
  test('steps down for the node that replaced it; no acknowledged write is lost, one primary remains', async () => {
    const nodes = await makeNodes(['a', 'b', 'c']);
    const created = await nodes.node('a').run(undefined, addToCart('x'));
    const { onHeir } = await stallPrimaryUntilReplaced(nodes, created);
    assert.ok(onHeir.mirrored, 'acknowledged by a backup');
    assert.equal(onHeir.session.meta.epoch, 1, 'a new primary, a new epoch');
    // a resumed, still holding its copy as primary; a client with an old cookie writes there.
    let staleWrite: 'acknowledged' | 'refused';
    try {
      await nodes.node('a').run(created.hint, addToCart('z'));
      staleWrite = 'acknowledged';
    } catch {
      staleWrite = 'refused';
    }
    await new Promise((resolve) => setImmediate(resolve));
    const primaries = ['a', 'b', 'c'].filter((n) => roleOn(nodes.node(n), created.session.id) === 'primary');
    assert.equal(primaries.length, 1, `one primary, not ${primaries.join(' and ')}`);
    const cart = readCart(nodes.node(primaries[0]!).inspect(created.session.id)!.session)!;
    assert.ok(cart.includes('x') && cart.includes('y'), `the heir's acknowledged write survives: ${JSON.stringify(cart)}`);
    if (staleWrite === 'acknowledged') assert.ok(cart.includes('z'), 'an acknowledged write on the resumed node is kept too');
  });
});

describe('truthful sync acknowledgements', () => {
  test('no backup can take the change: accepted and reported by default, refused with noBackup="refuse"', async () => {
    const accepting = await makeNodes(['a', 'b']);
    await accepting.kill('b');
    const accepted = await accepting.node('a').run(undefined, addToCart('x'));
    assert.equal(accepted.mirrored, false, 'reported as held here only');
    assert.equal(accepting.node('a').snapshotStats().unmirroredCommits, 1);

    const refusing = await makeNodes(['a', 'b'], { noBackup: 'refuse' });
    await refusing.kill('b');
    await assert.rejects(refusing.node('a').run(undefined, addToCart('x')), (error: unknown) => error instanceof NotMirroredError && error.code === 'CASTMIRROR_NOT_MIRRORED');
    assert.equal(refusing.node('a').snapshotStats().unmirroredCommits, 1);
  });

  test('a session over the replication frame limit is refused with a coded error, never acknowledged', async () => {
    const nodes = await makeNodes(['a', 'b']);
    const created = await nodes.node('a').run(undefined, addToCart('x'));
    const huge = 'x'.repeat(9 * 1024 * 1024);
    await assert.rejects(nodes.node('a').run(created.hint, (s) => void s.global.set('blob', huge)), (error: unknown) => error instanceof SessionTooLargeError && error.httpStatus === 413);
    assert.equal(nodes.node('b').inspect(created.session.id)!.session.global.get('blob'), undefined, 'the backup holds nothing of it');
    assert.equal(nodes.node('a').snapshotStats().unmirrored, 1, 'and the primary says so');
    // Once the value is gone again, the session is copied whole and acknowledged.
    const shrunk = await nodes.node('a').run(created.hint, (s) => void s.global.delete('blob'));
    assert.equal(shrunk.mirrored, true);
    assert.equal(nodes.node('a').snapshotStats().unmirrored, 0);
  });
});

describe('anti-entropy', () => {
  test('a copy that drifted is sent whole again; a superseded copy whose release was lost is released', async () => {
    const nodes = await makeNodes(['a', 'b', 'c']);
    const drifted = await nodes.node('a').run(undefined, addToCart('x'));
    const holder = drifted.hint.backup!;
    // The backup loses its copy (as after a lost full copy): nothing says so until the audit.
    await nodes.node(holder).answer({ t: 'release', session: drifted.session.id }, { node: 'a', incarnation: 'a-1' });
    assert.equal(roleOn(nodes.node(holder), drifted.session.id), undefined);

    // Another session moves to a new backup while the old one cannot hear the release.
    const moved = await nodes.node('a').run(undefined, addToCart('y'));
    const stale = moved.hint.backup!;
    nodes.hub.down.add(stale);
    const after = await nodes.node('a').run(moved.hint, addToCart('z'));
    nodes.hub.down.delete(stale);
    assert.notEqual(after.hint.backup, stale);
    assert.equal(roleOn(nodes.node(stale), moved.session.id), 'backup', 'the superseded copy is still there');

    await nodes.node('a').audit();
    await until('the repairs and the release', () => roleOn(nodes.node(holder), drifted.session.id) === 'backup' && roleOn(nodes.node(stale), moved.session.id) === undefined);
    const stats = nodes.node('a').snapshotStats();
    assert.deepEqual([stats.audits, stats.auditRepairs, stats.auditReleased], [1, 1, 1]);
    assert.deepEqual(readCart(nodes.node(holder).inspect(drifted.session.id)!.session), ['x']);
    // A second round finds nothing to do.
    await nodes.node('a').audit();
    assert.deepEqual([nodes.node('a').snapshotStats().auditRepairs, nodes.node('a').snapshotStats().auditReleased], [1, 1]);
  });

  test('a release from a node that is not the copy\'s primary leaves the copy alone', async () => {
    const nodes = await makeNodes(['a', 'b', 'c']);
    const created = await nodes.node('a').run(undefined, addToCart('x'));
    const backup = created.hint.backup!;
    const other = ['b', 'c'].find((n) => n !== backup)!;
    await nodes.node(backup).answer({ t: 'release', session: created.session.id }, { node: other, incarnation: `${other}-1` });
    assert.equal(roleOn(nodes.node(backup), created.session.id), 'backup');
  });
});

describe('after a stall', () => {
  test('a resumed primary checks with its backups before serving: a session taken over meanwhile is given up, and a read gets the newer state', async () => {
    const nodes = await makeNodes(['a', 'b', 'c']);
    const created = await nodes.node('a').run(undefined, addToCart('x'));
    await stallPrimaryUntilReplaced(nodes, created);

    // What the stall watcher does when the event loop stood still longer than deadAfterMs.
    await nodes.node('a').afterStall(2_000);
    assert.equal(roleOn(nodes.node('a'), created.session.id), undefined, 'a gave the session up');
    // A client with the old cookie reads on a: it gets the state the heir acknowledged.
    const read = await nodes.node('a').run(created.hint, readCart);
    assert.deepEqual(read.result, ['x', 'y']);
    assert.equal(read.outcome, 'fetched');
    const primaries = ['a', 'b', 'c'].filter((n) => roleOn(nodes.node(n), created.session.id) === 'primary');
    assert.deepEqual(primaries, ['a'], 'one primary');
  });
});
