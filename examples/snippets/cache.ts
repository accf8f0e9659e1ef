import { pino } from 'pino';
import { startNode } from 'castmirror';
import { Db } from './db.js';

const db = new Db();
const node = await startNode({ configPath: 'server.xml', nodeName: 'node-a', logger: pino() });
const products = node.caches.create('product', { loader: (sku) => db.findProduct(sku) });

const product = await products.getOrLoad('sku-1'); // one loader call for concurrent misses
await db.updateProduct('sku-1', { price: 12 });
await products.invalidate('sku-1'); //                 dropped here and on every node
await products.clear(); //                             the whole type, on every node
console.log(product);

await node.close(); //                                 flushes, says goodbye; idempotent
