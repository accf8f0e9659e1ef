import { startNode, ReferenceRegistry, type RouteHint } from 'castmirror';
import { Db, PageIterator, Product } from './db.js';

const db = new Db();
// Values that can be rebuilt from a small canonical form are stored as that form.
const references = new ReferenceRegistry<Db>()
  .define('product', {
    match: (v): v is Product => v instanceof Product,
    toRef: (p) => p.sku, //                                       what is stored and mirrored
    fromRef: async (sku, db) => (await db.findProduct(sku))!, //  rebuilt only where needed
  })
  .define('search', {
    match: (v): v is PageIterator => v instanceof PageIterator,
    toRef: (it) => ({ q: it.query, size: it.pageSize, page: it.page }),
    fromRef: ({ q, size, page }, db) => PageIterator.run(db, q, size, page),
  });

const node = await startNode({ configPath: 'server.xml', nodeName: 'node-a', references, referenceContext: db });

// What the edge kept from the last response (undefined for a new session): the route cookie
// does this for you with sessionMiddleware or the express-session store.
const hint: RouteHint | undefined = undefined;
const { result, outcome, hint: next } = await node.sessions.run(hint, async (session) => {
  const cart = session.application.get<string[]>('cart') ?? [];
  session.application.set('cart', [...cart, 'sku-1']); //   plain data: stored raw
  session.interactive.get<PageIterator>('search')?.next(); // changed in place: noticed at commit
  return cart.length + 1;
});
console.log(result, outcome, next);
