/**
 * The stand-in "database" of the README's snippets: products in a Map, and a page of search
 * results that can be computed again from its query and page number.
 */
export class Product {
  constructor(
    readonly sku: string,
    readonly name: string,
    readonly price: number,
  ) {}
}

export class PageIterator {
  constructor(
    readonly query: string,
    readonly pageSize: number,
    public page: number,
    public rows: readonly Product[],
  ) {}

  static async run(db: Db, query: string, pageSize: number, page: number): Promise<PageIterator> {
    const matches = [...db.products.values()].filter((p) => p.name.includes(query));
    return new PageIterator(query, pageSize, page, matches.slice(page * pageSize, (page + 1) * pageSize));
  }

  next(): void {
    this.page += 1;
  }
}

export class Db {
  readonly products = new Map<string, Product>([['sku-1', new Product('sku-1', 'teapot', 10)]]);

  async findProduct(sku: string): Promise<Product | undefined> {
    return this.products.get(sku);
  }

  async updateProduct(sku: string, change: { price: number }): Promise<void> {
    const product = this.products.get(sku);
    if (product) this.products.set(sku, new Product(sku, product.name, change.price));
  }
}
