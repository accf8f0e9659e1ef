/**
 * What the shop keeps in a session, as logical references: a cart line is its product's
 * sku plus the raw quantity, and the search iterator is its query, page size and page.
 * Another node that takes a session over rebuilds them from the catalog, never from a
 * copy of the product rows.
 */
import { ReferenceRegistry, type ObjectCache } from 'castmirror';
import type { Catalog, Product } from './catalog.js';

export interface ShopContext {
  readonly catalog: Catalog;
  /** Set once the node has started (the cache lives on the node). */
  products: ObjectCache<Product> | undefined;
}

export class CartLine {
  constructor(
    readonly product: Product,
    readonly qty: number,
  ) {}
}

export class SearchPage {
  constructor(
    readonly query: string,
    readonly pageSize: number,
    readonly page: number,
    readonly items: readonly Product[],
    readonly total: number,
  ) {}

  static async run(catalog: Catalog, query: string, pageSize: number, page: number): Promise<SearchPage> {
    const { items, total } = await catalog.search(query, pageSize, page);
    return new SearchPage(query, pageSize, page, items, total);
  }

  get lastPage(): number {
    return Math.max(0, Math.ceil(this.total / this.pageSize) - 1);
  }
}

/** A product by sku, through the node's product cache. */
export async function productBySku(context: ShopContext, sku: string): Promise<Product | undefined> {
  return context.products ? context.products.getOrLoad(sku) : context.catalog.get(sku);
}

export function shopReferences(): ReferenceRegistry<ShopContext> {
  return new ReferenceRegistry<ShopContext>()
    .define<CartLine, { sku: string; qty: number }>('cart-line', {
      match: (value): value is CartLine => value instanceof CartLine,
      toRef: (line) => ({ sku: line.product.sku, qty: line.qty }),
      fromRef: async ({ sku, qty }, context) => {
        const product = await productBySku(context, sku);
        return new CartLine(product ?? { sku, name: '(no longer sold)', category: '', price: 0, description: '' }, qty);
      },
    })
    .define<SearchPage, { q: string; size: number; page: number }>('search-page', {
      match: (value): value is SearchPage => value instanceof SearchPage,
      toRef: (it) => ({ q: it.query, size: it.pageSize, page: it.page }),
      fromRef: ({ q, size, page }, context) => SearchPage.run(context.catalog, q, size, page),
    });
}
