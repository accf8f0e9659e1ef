/**
 * The two reference kinds used by tests and examples: a database row (table + key) and a
 * page iterator (query, page size, page number), rebuilt from a small in-memory "database".
 */
import { ReferenceRegistry } from '../../lib/session/reference.js';

export interface Row {
  readonly table: string;
  readonly key: string;
  readonly data: Record<string, unknown>;
}

export class PageIterator {
  rows: Record<string, unknown>[] = [];
  constructor(
    readonly query: string,
    readonly pageSize: number,
    public page: number,
  ) {}
  next(): void {
    this.page++;
  }
}

export interface Database {
  rows: Map<string, Record<string, unknown>>;
  search(query: string, pageSize: number, page: number): Record<string, unknown>[];
  reads: number;
}

export function makeDatabase(products = 1000): Database {
  const rows = new Map<string, Record<string, unknown>>();
  for (let i = 0; i < products; i++) {
    rows.set(`product/sku-${i}`, { sku: `sku-${i}`, name: `Product number ${i}`, price: 10 + (i % 90), description: `A fine product, number ${i}, with a description` });
  }
  const db: Database = {
    rows,
    reads: 0,
    search(query, pageSize, page) {
      db.reads++;
      return [...rows.values()].filter((r) => String(r.name).includes(query)).slice(page * pageSize, (page + 1) * pageSize);
    },
  };
  return db;
}

export function makeReferences(): ReferenceRegistry<Database> {
  return new ReferenceRegistry<Database>()
    .define<Row, [string, string]>('row', {
      match: (value): value is Row => typeof value === 'object' && value !== null && 'table' in value && 'key' in value && 'data' in value,
      toRef: (row) => [row.table, row.key],
      fromRef: async ([table, key], db) => {
        db.reads++;
        await Promise.resolve();
        return { table, key, data: db.rows.get(`${table}/${key}`) ?? {} };
      },
    })
    .define<PageIterator, { q: string; size: number; page: number }>('page-iterator', {
      match: (value): value is PageIterator => value instanceof PageIterator,
      toRef: (it) => ({ q: it.query, size: it.pageSize, page: it.page }),
      fromRef: async ({ q, size, page }, db) => {
        const it = new PageIterator(q, size, page);
        it.rows = db.search(q, size, page);
        return it;
      },
    });
}
