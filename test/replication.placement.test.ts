/**
 * Where a session's backup goes (lib/replication/backups.ts): the node pinned with
 * `<Node backup>` while it is alive; else a node on another machine, never a sibling process
 * on this machine while another machine has a live node; else any live node; among equals
 * the one given the fewest backups, then the least loaded, then by name. Pure logic, then
 * the same rule through a real config (machines from server.xml, pinned backups).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chooseBackup, type Candidate } from '../lib/replication/backups.js';
import { parseConfigText, resolveNodeConfig } from '../lib/index.js';

const self = { name: 'web1-0', machine: 'host-1', pinnedBackup: undefined };
const node = (name: string, machine: string, sessions = 0): Candidate => ({ name, machine, sessions });
const none = new Map<string, number>();

describe('backup placement', () => {
  test('never a sibling process of this machine while another machine has a live node', () => {
    const alive = [node('web1-1', 'host-1'), node('web1-2', 'host-1'), node('web2-0', 'host-2', 900)];
    assert.equal(chooseBackup({ self, alive, exclude: new Set(), assigned: none }), 'web2-0', 'the only node elsewhere, however loaded');
    assert.equal(chooseBackup({ self, alive: alive.slice(0, 2), exclude: new Set(), assigned: none }), 'web1-1', 'no other machine: a sibling, rather than no backup');
    assert.equal(chooseBackup({ self, alive: alive.slice(0, 2), exclude: new Set(['web1-1', 'web1-2']), assigned: none }), undefined, 'nobody left');
  });

  test('among nodes elsewhere: fewest backups given, then least loaded, then by name', () => {
    const alive = [node('web2-0', 'host-2', 10), node('web3-0', 'host-3', 5), node('web3-1', 'host-3', 5)];
    assert.equal(chooseBackup({ self, alive, exclude: new Set(), assigned: none }), 'web3-0', 'least loaded, then by name');
    assert.equal(chooseBackup({ self, alive, exclude: new Set(), assigned: new Map([['web3-0', 3], ['web3-1', 3]]) }), 'web2-0', 'fewest backups given comes first');
  });

  test('a pinned backup while it is alive, wherever it is; else the usual rule', () => {
    const pinned = { ...self, pinnedBackup: 'web1-1' };
    const alive = [node('web1-1', 'host-1'), node('web2-0', 'host-2')];
    assert.equal(chooseBackup({ self: pinned, alive, exclude: new Set(), assigned: none }), 'web1-1', 'the operator chose it');
    assert.equal(chooseBackup({ self: pinned, alive: alive.slice(1), exclude: new Set(), assigned: none }), 'web2-0', 'pinned node gone: another machine');
    assert.equal(chooseBackup({ self: pinned, alive, exclude: new Set(['web1-1']), assigned: none }), 'web2-0', 'pinned node excluded (it is the one that died)');
  });

  test('machines and pins come from server.xml', () => {
    const config = parseConfigText(
      `<Server name="placement"><Cluster>1</Cluster><MulticastAddress>239.1.2.3</MulticastAddress><MulticastPort>45600</MulticastPort><Secret>a-long-enough-secret-value</Secret>
      <ClusterNodes>
        <Node name="web1-0" host="127.0.0.1" machine="host-1" httpPort="3000" replicationPort="7000" adminPort="9000" backup="web2-0"/>
        <Node name="web1-1" host="127.0.0.1" machine="host-1" httpPort="3001" replicationPort="7001" adminPort="9001"/>
        <Node name="web2-0" host="127.0.0.1" machine="host-2" httpPort="3002" replicationPort="7002" adminPort="9002"/>
      </ClusterNodes></Server>`,
      'inline.xml',
    );
    const entry = (name: string) => resolveNodeConfig(config.config, name).node;
    assert.equal(entry('web1-0').backup, 'web2-0');
    const alive = ['web1-0', 'web1-1', 'web2-0'].map((name) => node(name, entry(name).machine));
    const from = (name: string) => chooseBackup({ self: { name, machine: entry(name).machine, pinnedBackup: entry(name).backup }, alive, exclude: new Set(), assigned: none });
    assert.equal(from('web1-0'), 'web2-0', 'pinned');
    assert.equal(from('web1-1'), 'web2-0', 'the other machine, not its sibling');
    assert.equal(from('web2-0'), 'web1-0', 'either node of host-1, by name');
  });
});
