/**
 * One node of the demo shop: a castmirror node with the shop's references and product
 * cache, and the shop's routes on the node's httpPort behind the session middleware.
 * `castmirror demo --config F --node N` runs it; tests start it the same way.
 */
import http from 'node:http';
import path from 'node:path';
import { closeWithNode, listen, sessionMiddleware, silentLogger, startNode, type CacheNode, type LoadedConfig, type Logger } from 'castmirror';
import { Catalog, type Product } from './catalog.js';
import { shopHandler } from './app.js';
import { shopReferences, type ShopContext } from './references.js';

/** The shop's name in <Applications>. */
export const SHOP_APPLICATION = 'shop';

export interface ShopOptions {
  readonly config: LoadedConfig;
  readonly nodeName: string;
  /** The catalog file; default `.castmirror/shop-catalog.json` beside the config. */
  readonly catalogFile?: string;
  readonly dbLatencyMs?: number;
  readonly logger?: Logger;
}

export interface Shop {
  readonly node: CacheNode;
  readonly catalog: Catalog;
  readonly url: string;
  close(): Promise<void>;
}

export function defaultCatalogFile(configFile: string): string {
  return path.join(path.dirname(path.resolve(configFile)), '.castmirror', 'shop-catalog.json');
}

export async function startShop(options: ShopOptions): Promise<Shop> {
  const logger = options.logger ?? silentLogger;
  const catalog = await Catalog.open(options.catalogFile ?? defaultCatalogFile(options.config.config.file), { latencyMs: options.dbLatencyMs ?? 0 });
  const context: ShopContext = { catalog, products: undefined };
  const node = await startNode({ config: options.config, nodeName: options.nodeName, logger, references: shopReferences(), referenceContext: context });
  // Adopts <Cache type="product"> from server.xml when it is there.
  context.products = node.caches.create<Product>('product', { loader: (sku) => catalog.get(sku) });
  // A shop that cannot read its catalog should get no traffic: GET /readyz says so, and the
  // proxy (or any load balancer) sends its shoppers elsewhere.
  node.addReadinessCheck('catalog', () => catalog.readable());

  // The shop is an application of the cluster: `castmirror app disable shop` closes it.
  const sessions = sessionMiddleware({ node, logger, application: SHOP_APPLICATION });
  const handle = shopHandler(node, context);
  const server = http.createServer((req, res) => {
    sessions(req, res, () => handle(req, res));
  });
  const { host, httpPort } = node.config.node;
  try {
    await listen(server, httpPort, host);
  } catch (error) {
    await node.close();
    throw error;
  }
  // The server closes with the node: after the hand-over and the goodbye, plus a grace.
  closeWithNode(node, server);
  logger.info({ url: `http://${host}:${httpPort}`, catalog: catalog.file }, 'shop listening');
  return {
    node,
    catalog,
    url: `http://${host}:${httpPort}`,
    close: () => node.close(),
  };
}
