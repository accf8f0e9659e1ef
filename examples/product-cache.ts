/**
 * castmirror as a library: one node of a cluster with a product cache in front of a
 * (pretend) database. Run two of these against one server.xml, change a price on one,
 * and the other stops serving the old price.
 *
 *   node --import tsx examples/product-cache.ts --config server.xml.example --node node-a
 *
 * It prints one JSON line per step and exits when it gets SIGINT or SIGTERM.
 */
import { parseArgs } from 'node:util';
import { startNode } from 'castmirror';

const { values } = parseArgs({ options: { config: { type: 'string' }, node: { type: 'string' }, once: { type: 'boolean' } } });
if (!values.config || !values.node) {
  console.error('usage: examples/product-cache.ts --config F --node N [--once]');
  process.exit(2);
}

// The "database": in a real application, a query.
const database = new Map([
  ['sku-1', { name: 'Teapot', price: 25 }],
  ['sku-2', { name: 'Kettle', price: 40 }],
]);
let queries = 0;

const node = await startNode({ configPath: values.config, nodeName: values.node });
const products = node.caches.create('product', {
  loader: async (sku) => {
    queries++;
    return database.get(sku);
  },
});
const say = (step: string, data: object) => console.log(JSON.stringify({ node: node.name, step, ...data }));

say('loaded', { product: await products.getOrLoad('sku-1'), queries });
say('cached', { product: await products.getOrLoad('sku-1'), queries });

// A price change: write the source of truth, then invalidate everywhere.
database.set('sku-1', { name: 'Teapot', price: 30 });
await products.invalidate('sku-1');
say('after invalidate', { product: await products.getOrLoad('sku-1'), queries, stats: products.stats() });

if (values.once) {
  await node.close();
} else {
  const stop = () => void node.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
