/**
 * Discovery and encryption across hosts (network namespaces on a bridge, test/helpers/
 * netns.ts), with the switch carrying no multicast, as in most cloud networks:
 * - static discovery converges, invalidations reach every node, and kill -9 of a primary
 *   leaves its sessions on their backups on other hosts; plain, and with TLS keyed from the
 *   secret plus encrypted datagrams;
 * - multicast discovery on the same network hears only itself, and every node says so;
 * - a capture on the bridge with encryption on holds no session value and no cache key
 *   (and the same capture without encryption does, so the check can fail); a node with
 *   certificates from another CA is refused and counted.
 * Needs root for the namespaces (CI runs as root); without it the tests say so and are skipped.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { RouteHint } from '../lib/replication/route-hint.js';
import { BridgeCapture, captureTool } from './helpers/capture.js';
import { hasOpenssl, makeCertificates } from './helpers/certificates.js';
import { killAll } from './helpers/cluster.js';
import { canCreateNamespaces } from './helpers/netns.js';
import { invalidationReachesEveryNode, NAMES, startHosts } from './helpers/session-hosts.js';
import { eventually, sleep } from './helpers/wait.js';

const namespaces = canCreateNamespaces();
const skip = namespaces ? false : 'needs root to create network namespaces (CI runs as root)';
const CACHE = '  <Caches><Cache type="product" capacity="100"/></Caches>';
const STATIC = `  <Discovery type="static"/>\n${CACHE}`;
const ENCRYPTED = `${STATIC}\n  <Encryption links="secret" datagrams="encrypted"/>`;

describe('discovery and encryption across hosts, on a network without multicast', { timeout: 120_000 }, () => {
  const cleanups: (() => void)[] = [];
  afterEach(async () => {
    await killAll();
    for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  });

  const modes = [
    ['static discovery', STATIC, false],
    ['static discovery, TLS keyed from the secret and encrypted datagrams', ENCRYPTED, false],
    ['dns discovery', CACHE, true],
  ] as const;
  for (const [label, xml, dns] of modes) {
    test(`${label}: converges, invalidations reach every node, kill -9 of a primary leaves its sessions on their backups`, { skip }, async (t) => {
      const c = await startHosts(cleanups, undefined, { extraXml: xml, beforeStart: (hosts) => hosts.blockMulticast(), ...(dns ? { dns: {} } : {}) });
      t.diagnostic(`converged ${Math.round(c.convergedAfterMs)} ms after the first start, with multicast blocked`);
      await invalidationReachesEveryNode(c, 'sku-static');
      const hints: RouteHint[] = [];
      for (let value = 0; value < 20; value++) hints.push((await c.app(0, '/append', { value })).hint);
      assert.ok(hints.every((hint) => hint.backup && hint.backup !== c.names[0]));
      c.processes[0]!.kill('SIGKILL');
      await c.processes[0]!.exited;
      await eventually(async () => (await c.status(1)).members.find((m) => m.name === c.names[0])?.state === 'dead', { what: 'the first node declared dead on the second' });
      for (const [value, hint] of hints.entries()) {
        const reply = await c.app(c.names.indexOf(hint.backup!), '/read', { hint });
        assert.deepEqual(reply.list, [value], `session ${value} on ${hint.backup} (${reply.outcome})`);
      }
      const status = await c.status(1);
      assert.equal(status.dropped?.['wrong-protection'], 0);
    });
  }

  test('dns discovery: a node added to the name\'s records joins, and one removed from them leaves, without a config edit', { skip }, async (t) => {
    // The name lists hosts 0 and 1; host 2's node starts later, and counts as a member only once listed.
    const c = await startHosts(cleanups, undefined, { extraXml: CACHE, beforeStart: (hosts) => hosts.blockMulticast(), dns: { listed: [0, 1] }, started: [0, 1] });
    const [a, b, newcomer] = c.names as [string, string, string];
    await c.start(2);
    await sleep(1_500); // three refreshes: the newcomer's heartbeats alone do not make it a member
    for (const i of [0, 1]) assert.notEqual((await c.status(i)).members.find((m) => m.name === newcomer)?.state, 'alive', `${c.names[i]} does not take ${newcomer} before DNS lists it`);
    const listedAt = performance.now();
    await c.dns!.setAddresses([a, b, newcomer]);
    for (const i of [0, 1, 2]) await eventually(async () => (await c.status(i)).members.filter((m) => m.state === 'alive').length === 3, { what: `${c.names[i]} to see 3 members` });
    t.diagnostic(`the new member was alive on every node ${Math.round(performance.now() - listedAt)} ms after its record appeared (refreshMs 500)`);
    // Its sessions are mirrored, and it backs others up.
    const fromNewcomer = await c.app(2, '/append', { value: 1 });
    assert.ok([a, b].includes(fromNewcomer.hint.backup!) && fromNewcomer.mirrored !== false, 'the new member mirrors to a listed one');

    await c.dns!.setAddresses([a, b]);
    c.processes[2]!.kill('SIGTERM');
    await c.processes[2]!.exited;
    for (const i of [0, 1]) {
      await eventually(() => c.processes[i]!.logs.some((l) => l.msg === 'members from DNS changed' && JSON.stringify(l.members) === JSON.stringify([a, b])), { what: `${c.names[i]} to drop ${newcomer} from its node list` });
      assert.notEqual((await c.status(i)).members.find((m) => m.name === newcomer)?.state, 'alive');
    }
    const reply = await c.app(c.names.indexOf(fromNewcomer.hint.backup!), '/read', { hint: fromNewcomer.hint });
    assert.deepEqual(reply.list, [1], 'the leaver handed its session over');
  });

  test('multicast discovery on the same network: each node hears only itself, and says to use static discovery', { skip }, async () => {
    const c = await startHosts(cleanups, undefined, { extraXml: CACHE, beforeStart: (hosts) => hosts.blockMulticast(), converge: false });
    for (const i of NAMES.keys()) {
      await eventually(() => c.processes[i]!.logs.some((l) => l.level === 40 && /multicast does not reach between their hosts/.test(String(l.msg)) && /Discovery type="static"/.test(String(l.msg))), { timeoutMs: 15_000, what: `${NAMES[i]} to warn` });
      assert.deepEqual((await c.status(i)).members.map((m) => m.name), [NAMES[i]]);
    }
  });

  test('a capture on the bridge with encryption on holds no session value and no cache key; without encryption it does', { skip: skip || (captureTool() ? false : 'needs tcpdump or python3 for the capture') }, async (t) => {
    const readable: boolean[] = [];
    for (const xml of [ENCRYPTED, STATIC]) {
      const c = await startHosts(cleanups, undefined, { extraXml: xml, beforeStart: (hosts) => hosts.blockMulticast() });
      const capture = await BridgeCapture.start(c.hosts.ns('switch'), NAMES.map((_, i) => c.hosts.address(i)), c.dir);
      const value = 'cart-item-0d15ea5e';
      const key = 'price-key-5eed1e55';
      const { hint } = await c.app(0, '/append', { value });
      await c.app(0, '/append', { value, hint });
      await invalidationReachesEveryNode(c, key);
      await sleep(300); // heartbeats and the last frames
      const bytes = (await capture.stop()).toString('latin1');
      t.diagnostic(`${xml === ENCRYPTED ? 'encrypted' : 'plain'}: ${bytes.length} bytes captured between hosts`);
      assert.ok(bytes.length > 2_000, 'the capture saw the cluster traffic');
      readable.push(bytes.includes(value) || bytes.includes(key));
      await killAll();
      for (const cleanup of cleanups.splice(0).reverse()) cleanup();
    }
    assert.deepEqual(readable, [false, true], 'encrypted: nothing readable; plain: the value or the key is seen');
  });

  test('certificates: nodes with the cluster CA\'s certificates form the cluster; a node with another CA\'s is refused and counted', { skip: skip || (hasOpenssl() ? false : 'needs openssl to make certificates') }, async () => {
    const xml = `${STATIC}\n  <Encryption links="certificates" cert="{node}.crt" key="{node}.key" ca="ca.crt" datagrams="encrypted"/>`;
    const c = await startHosts(cleanups, undefined, {
      extraXml: xml,
      beforeStart: (hosts, dir) => makeCertificates(dir, NAMES.slice(0, 2).map((name, i) => ({ name, address: hosts.address(i) })), { name: 'node-c', address: hosts.address(2) }),
      converge: false,
    });
    // node-a and node-b hold the cluster's certificates; node-c's was signed by a rogue CA.
    await eventually(async () => (await c.status(0)).members.filter((m) => m.state === 'alive').length === 3, { what: 'all three heard (datagrams are keyed from the secret)' });
    for (let value = 0; value < 6; value++) {
      const fromC = await c.app(2, '/append', { value });
      assert.equal(fromC.mirrored, false, 'node-c has no link: its sessions are held there only, and say so');
      const fromA = await c.app(0, '/append', { value });
      if (fromA.hint.backup === 'node-b') assert.equal(fromA.mirrored, true, 'node-a mirrors to node-b');
      else assert.equal(fromA.mirrored, false, 'node-a refuses node-c as a link');
    }
    const refused = (await Promise.all([0, 1].map(async (i) => (await c.status(i)).replication!.handshakeFailures))).reduce((a, b) => a + b, 0);
    assert.ok(refused > 0, `node-a and node-b refused node-c's links, counted (${refused})`);
  });
});
