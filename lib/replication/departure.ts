/**
 * The graceful leave of a node with backups: each primary session goes to its backup
 * (which becomes primary), each backup copy's primary is asked to choose another backup;
 * then the node can go. Without backup nodes (standalone, or pubsub discovery, where every
 * session is in the shared store already) there is nothing to hand over.
 */
import { snapshotOf } from '../session/codec.js';
import type { SessionObject } from '../session/session.js';
import { eachLimited } from '../util/limit.js';
import type { Logger } from '../util/logger.js';
import type { Backups } from './backups.js';
import type { Peers } from './peers.js';
import type { SessionQueue } from './session-queue.js';
import type { SessionStore } from './session-store.js';

/** Sessions handed over (or copies re-homed) at a time when a node leaves. */
const HANDOFF_CONCURRENCY = 32;

export interface DepartureOptions {
  readonly self: string;
  readonly store: SessionStore;
  readonly queue: SessionQueue;
  readonly backups: Backups;
  readonly peers: Peers;
  readonly logger: Logger;
}

/**
 * Hands every session over. Bounded, so that a node with many sessions hands them over
 * steadily (and visibly: the counts in its status go down as it goes) instead of opening
 * every request at once.
 */
export async function handEverythingOver(options: DepartureOptions): Promise<void> {
  const { store } = options;
  await Promise.all([
    eachLimited([...store.primaries.values()], HANDOFF_CONCURRENCY, (session) => handOver(options, session)),
    eachLimited([...store.copies.values()], HANDOFF_CONCURRENCY, (copy) => rehomeCopy(options, copy)),
  ]);
}

/**
 * In the session's queue: a fetch of it that arrives meanwhile waits for the hand-over
 * (BackupSide), so that the session is not given to the fetcher and to the heir at once.
 */
function handOver({ self, store, queue, backups, peers, logger }: DepartureOptions, session: SessionObject): Promise<void> {
  return queue.run(session.id, async () => {
    // Fetched away meanwhile (a request for it went to another node): nothing to hand over.
    if (store.primaries.get(session.id) !== session) return;
    const exclude = new Set([self]);
    for (let target = session.meta.backup ?? backups.choose(exclude); target; target = backups.choose(exclude)) {
      exclude.add(target);
      const reply = await peers.tryRequest(target, { t: 'handoff', snapshot: snapshotOf(session) });
      if (reply?.t === 'ack') {
        backups.drop(session);
        return;
      }
    }
    logger.warn({ session: session.id }, 'no node could take this session over');
  });
}

async function rehomeCopy({ store, peers }: DepartureOptions, copy: SessionObject): Promise<void> {
  const reply = await peers.tryRequest(copy.meta.primary, { t: 'rehome', session: copy.id });
  // Its primary has copied it to another backup: this copy is no longer needed.
  if (reply) store.copies.delete(copy.id);
}
