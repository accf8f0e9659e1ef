/**
 * The demo shop's routes, on plain node:http behind castmirror's session middleware.
 * Every response carries X-Castmirror-Node (set by the middleware).
 *
 *   GET  /                      the page
 *   GET  /products/:sku         from the `product` cache (X-Cache: hit|miss)
 *   PUT  /products/:sku {price} writes the catalog, invalidates product/:sku cluster-wide
 *   POST /cart/items {sku, qty} GET /cart
 *   GET  /search?q=&pageSize=   GET /search/next   GET /search/prev
 *   GET  /whoami                POST /logout (ends the session everywhere)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CacheNode, SessionObject, SessionRequest } from 'castmirror';
import type { Product } from './catalog.js';
import { CartLine, productBySku, SearchPage, type ShopContext } from './references.js';
import { PAGE_HTML } from './page.js';

const MAX_BODY_BYTES = 16 * 1024;
const CART_PREFIX = 'cart.';
const SEARCH_KEY = 'search';
/** On every shop response: how the node that served it came to hold the session. */
export const SESSION_OUTCOME_HEADER = 'X-Shop-Session';
const SKU = /^[A-Za-z0-9_-]{1,64}$/;

/** A request the shop refuses: answered with `status` and a JSON error. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export type ShopHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export function shopHandler(node: CacheNode, context: ShopContext): ShopHandler {
  return async (req, res) => {
    const session = (req as SessionRequest).castmirror!;
    const url = new URL(req.url ?? '/', 'http://shop.invalid');
    // How this node came to hold the session (served, created, fetched, took-over, restored): the page
    // says so when the session moved, after a failover say.
    res.setHeader(SESSION_OUTCOME_HEADER, session.outcome);
    try {
      const body = await route(req.method ?? 'GET', url, req, res, session.session);
      if (body !== undefined) sendJson(res, 200, body);
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      sendJson(res, error.status, { error: error.message });
    }
  };

  async function route(method: string, url: URL, req: IncomingMessage, res: ServerResponse, session: SessionObject): Promise<unknown> {
    const path = url.pathname;
    if (method === 'GET' && path === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(PAGE_HTML);
      return undefined;
    }
    if (method === 'GET' && path === '/whoami') {
      const { outcome } = (req as SessionRequest).castmirror!;
      return { node: node.name, incarnation: node.incarnation.id, sessionRole: 'primary', outcome, session: session.id, backup: session.meta.backup ?? null };
    }
    const product = /^\/products\/([^/]+)$/.exec(path);
    if (product) {
      const sku = validSku(decodeURIComponent(product[1]!));
      if (method === 'GET') return getProduct(sku, res);
      if (method === 'PUT') return setPrice(sku, await readJson(req));
      throw new HttpError(405, `${method} is not allowed on /products/:sku`);
    }
    if (method === 'POST' && path === '/cart/items') return addToCart(session, await readJson(req));
    if (method === 'POST' && path === '/logout') {
      (req as SessionRequest).castmirror!.invalidate();
      return { loggedOut: true };
    }
    if (method === 'GET' && path === '/cart') return cartOf(session);
    if (method === 'GET' && path === '/search') return search(session, url);
    if (method === 'GET' && (path === '/search/next' || path === '/search/prev')) return turnPage(session, path.endsWith('next') ? 1 : -1);
    if (method === 'GET' && path === '/search/current') return currentPage(session);
    throw new HttpError(404, `no route for ${method} ${path}`);
  }

  async function getProduct(sku: string, res: ServerResponse): Promise<Product> {
    const products = context.products!;
    res.setHeader('X-Cache', products.has(sku) ? 'hit' : 'miss');
    const product = await products.getOrLoad(sku);
    if (!product) throw new HttpError(404, `no product ${sku}`);
    return product;
  }

  async function setPrice(sku: string, body: Record<string, unknown>): Promise<Product> {
    const price = body.price;
    if (typeof price !== 'number' || !Number.isFinite(price) || price <= 0 || price > 1_000_000) throw new HttpError(400, 'price must be a number above 0 and at most 1000000');
    const updated = await context.catalog.setPrice(sku, Math.round(price * 100) / 100);
    if (!updated) throw new HttpError(404, `no product ${sku}`);
    // The catalog is written first, then every node drops its cached copy.
    await context.products!.invalidate(sku);
    return updated;
  }

  async function addToCart(session: SessionObject, body: Record<string, unknown>): Promise<unknown> {
    const { sku, qty } = body;
    if (typeof sku !== 'string' || !SKU.test(sku)) throw new HttpError(400, 'sku must be a product sku');
    if (typeof qty !== 'number' || !Number.isSafeInteger(qty) || qty < 1 || qty > 99) throw new HttpError(400, 'qty must be a whole number from 1 to 99');
    const product = await productBySku(context, sku);
    if (!product) throw new HttpError(404, `no product ${sku}`);
    const key = CART_PREFIX + sku;
    const before = session.application.get<CartLine>(key)?.qty ?? 0;
    session.application.set(key, new CartLine(product, Math.min(999, before + qty)));
    return cartOf(session);
  }

  /** The cart with today's names and prices (the product cache, not the line's copy). */
  async function cartOf(session: SessionObject): Promise<unknown> {
    const lines = session.application.keys().filter((k) => k.startsWith(CART_PREFIX)).sort();
    const items = await Promise.all(
      lines.map(async (key) => {
        const line = session.application.get<CartLine>(key)!;
        const product = (await productBySku(context, line.product.sku)) ?? line.product;
        return { sku: product.sku, qty: line.qty, name: product.name, price: product.price };
      }),
    );
    const total = Math.round(items.reduce((sum, item) => sum + item.qty * item.price, 0) * 100) / 100;
    return { items, total };
  }

  async function search(session: SessionObject, url: URL): Promise<unknown> {
    const query = (url.searchParams.get('q') ?? '').slice(0, 100);
    const pageSize = Number(url.searchParams.get('pageSize') ?? 10);
    if (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > 100) throw new HttpError(400, 'pageSize must be a whole number from 1 to 100');
    const page = await SearchPage.run(context.catalog, query, pageSize, 0);
    session.interactive.set(SEARCH_KEY, page);
    return pageBody(page);
  }

  /** The session's search page, read again from the catalog (prices change); `{ query: null }` without one. */
  async function currentPage(session: SessionObject): Promise<unknown> {
    const current = session.interactive.get<SearchPage>(SEARCH_KEY);
    if (!current) return { query: null };
    const page = await SearchPage.run(context.catalog, current.query, current.pageSize, current.page);
    session.interactive.set(SEARCH_KEY, page);
    return pageBody(page);
  }

  async function turnPage(session: SessionObject, step: 1 | -1): Promise<unknown> {
    const current = session.interactive.get<SearchPage>(SEARCH_KEY);
    if (!current) throw new HttpError(409, 'no search in this session: GET /search?q= first');
    const target = Math.min(current.lastPage, Math.max(0, current.page + step));
    if (target === current.page) return pageBody(current);
    const page = await SearchPage.run(context.catalog, current.query, current.pageSize, target);
    session.interactive.set(SEARCH_KEY, page);
    return pageBody(page);
  }
}

function pageBody(page: SearchPage): unknown {
  return { query: page.query, page: page.page, pageSize: page.pageSize, total: page.total, lastPage: page.lastPage, items: page.items };
}

function validSku(sku: string): string {
  if (!SKU.test(sku)) throw new HttpError(400, 'not a product sku');
  return sku;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/json')) throw new HttpError(415, 'send JSON (Content-Type: application/json)');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `bodies are at most ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new HttpError(400, 'the body must be a JSON object');
  return parsed as Record<string, unknown>;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(text);
}
