/**
 * Bytes per update: paging a search result kept as a logical reference ({query, pageSize,
 * page}) against the same state kept as the 40 result rows themselves. Both deltas are
 * measured as they travel: the encoded replication message. Deterministic, no timing.
 */
import { encodeMessage } from '../lib/replication/protocol.js';
import { deltaOf } from '../lib/session/codec.js';
import { newSessionId } from '../lib/session/id.js';
import type { ReferenceRegistry } from '../lib/session/reference.js';
import { SessionObject } from '../lib/session/session.js';
import { makeDatabase, makeReferences, PageIterator } from '../test/helpers/references.js';
import { print, round } from './common.js';

const PAGE_SIZE = 40;
const db = makeDatabase(1000);
const references = makeReferences() as ReferenceRegistry<unknown>;

function newSession(): SessionObject {
  return new SessionObject({ id: newSessionId(), version: 1, epoch: 0, primary: 'node-a', backup: 'node-b', origin: 'node-a', createdAt: Date.now(), lastAccessAt: Date.now(), timeoutMs: 1_800_000, expiresAt: null }, references);
}

/** Bytes of the mirror message for one "next page" click. */
function deltaBytes(session: SessionObject): number {
  const delta = deltaOf(session)!;
  return encodeMessage({ t: 'batch', id: 1, deltas: [delta] }).length;
}

// As a logical reference: the iterator object itself is in the session.
const byReference = newSession();
const iterator = new PageIterator('Product', PAGE_SIZE, 0);
iterator.rows = db.search('Product', PAGE_SIZE, 0);
byReference.interactive.set('search', iterator);
byReference.markMirrored();
iterator.next();
iterator.rows = db.search('Product', PAGE_SIZE, iterator.page);
const referenceBytes = deltaBytes(byReference);

// As full objects: the rows of the page (plain data), plus the page number.
const byValue = newSession();
byValue.interactive.set('search', { query: 'Product', pageSize: PAGE_SIZE, page: 0, rows: db.search('Product', PAGE_SIZE, 0) });
byValue.markMirrored();
byValue.interactive.set('search', { query: 'Product', pageSize: PAGE_SIZE, page: 1, rows: db.search('Product', PAGE_SIZE, 1) });
const valueBytes = deltaBytes(byValue);

print({
  benchmark: 'session-bytes',
  baseline: `the same page as ${PAGE_SIZE} full rows`,
  bytesPerUpdate: { logicalReference: referenceBytes, fullRows: valueBytes },
  ratio: round(referenceBytes / valueBytes, 4),
  targets: { atMostOneTenth: referenceBytes * 10 <= valueBytes },
});
