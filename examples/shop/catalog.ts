/**
 * The shop's "database": about 1,000 products in one JSON file that every node on the
 * machine shares. Reads see other nodes' writes (the file is re-read when it changed);
 * writes take a lock file and replace the file atomically, so no write is lost or torn.
 * `latencyMs` adds a delay to every query, to make the product cache's effect visible.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Product {
  readonly sku: string;
  readonly name: string;
  readonly category: string;
  readonly price: number;
  readonly description: string;
}

export interface SearchResult {
  readonly items: readonly Product[];
  readonly total: number;
}

export interface CatalogOptions {
  /** Artificial latency of every query, in milliseconds (default 0). */
  readonly latencyMs?: number;
  /** Products written when the file does not exist yet (default 1000). */
  readonly products?: number;
}

const LOCK_STALE_MS = 5_000;

export class Catalog {
  /** Queries answered (each one paid `latencyMs`). */
  queries = 0;
  private loaded: { ino: number; mtimeMs: number; size: number; products: Product[]; bySku: Map<string, Product> } | undefined;

  private constructor(
    readonly file: string,
    readonly latencyMs: number,
  ) {}

  static async open(file: string, options: CatalogOptions = {}): Promise<Catalog> {
    const catalog = new Catalog(path.resolve(file), options.latencyMs ?? 0);
    await mkdir(path.dirname(catalog.file), { recursive: true });
    try {
      await stat(catalog.file);
    } catch {
      // Several nodes may start at once: each writes the same content, the last rename wins.
      await catalog.replace(sampleProducts(options.products ?? 1000));
    }
    return catalog;
  }

  async get(sku: string): Promise<Product | undefined> {
    await this.query();
    return (await this.current()).bySku.get(sku);
  }

  /** Products whose name or category contains `query` (case-insensitive), by sku; one page. */
  async search(query: string, pageSize: number, page: number): Promise<SearchResult> {
    await this.query();
    const needle = query.trim().toLowerCase();
    const matches = (await this.current()).products.filter((p) => !needle || p.name.toLowerCase().includes(needle) || p.category.toLowerCase().includes(needle));
    return { items: matches.slice(page * pageSize, (page + 1) * pageSize), total: matches.length };
  }

  /** Changes one product's price; undefined when there is no such product. */
  async setPrice(sku: string, price: number): Promise<Product | undefined> {
    await this.query();
    return this.locked(async () => {
      this.loaded = undefined;
      const { products } = await this.current();
      const index = products.findIndex((p) => p.sku === sku);
      if (index < 0) return undefined;
      const updated = { ...products[index]!, price };
      const next = products.slice();
      next[index] = updated;
      await this.replace(next);
      return updated;
    });
  }

  /** Whether the catalog ("database") can be read now: the shop's readiness check. */
  async readable(): Promise<boolean> {
    try {
      await stat(this.file);
      return true;
    } catch {
      return false;
    }
  }

  private async query(): Promise<void> {
    this.queries++;
    if (this.latencyMs > 0) await sleep(this.latencyMs);
  }

  /** The products as the file holds them now; re-read only when the file changed. */
  private async current(): Promise<NonNullable<Catalog['loaded']>> {
    const info = await stat(this.file);
    // Every write renames a new file into place, so a new inode number means a change.
    if (this.loaded && this.loaded.ino === info.ino && this.loaded.mtimeMs === info.mtimeMs && this.loaded.size === info.size) return this.loaded;
    const products = JSON.parse(await readFile(this.file, 'utf8')) as Product[];
    this.loaded = { ino: info.ino, mtimeMs: info.mtimeMs, size: info.size, products, bySku: new Map(products.map((p) => [p.sku, p])) };
    return this.loaded;
  }

  private async replace(products: readonly Product[]): Promise<void> {
    const temporary = `${this.file}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(temporary, `${JSON.stringify(products, null, 1)}\n`);
    await rename(temporary, this.file);
  }

  /** Runs `work` holding the catalog's lock file (shared by every process on the machine). */
  private async locked<T>(work: () => Promise<T>): Promise<T> {
    const lock = `${this.file}.lock`;
    for (let attempt = 0; ; attempt++) {
      try {
        const handle = await open(lock, 'wx');
        await handle.close();
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        // A holder that died (kill -9) leaves its lock behind: take over a stale one.
        const age = await stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
        if (age > LOCK_STALE_MS) await unlink(lock).catch(() => {});
        else await sleep(Math.min(50, 2 + attempt));
      }
    }
    try {
      return await work();
    } finally {
      await unlink(lock).catch(() => {});
    }
  }
}

const ADJECTIVES = ['Copper', 'Walnut', 'Linen', 'Granite', 'Amber', 'Cobalt', 'Birch', 'Slate', 'Saffron', 'Ivory', 'Indigo', 'Maple', 'Pewter', 'Olive', 'Coral', 'Basalt', 'Cedar', 'Jade', 'Rust', 'Pearl'];
const NOUNS: Record<string, string[]> = {
  kitchen: ['Teapot', 'Kettle', 'Skillet', 'Ladle', 'Colander'],
  garden: ['Trowel', 'Planter', 'Watering Can', 'Rake', 'Pruner'],
  office: ['Notebook', 'Desk Lamp', 'Stapler', 'Pen Cup', 'Paper Tray'],
  home: ['Cushion', 'Throw', 'Vase', 'Candle', 'Clock'],
  outdoor: ['Lantern', 'Flask', 'Hammock', 'Tarp', 'Compass'],
};

/** A deterministic catalog: the same `count` products on every machine. */
export function sampleProducts(count: number): Product[] {
  const categories = Object.keys(NOUNS);
  const products: Product[] = [];
  for (let i = 0; i < count; i++) {
    const category = categories[i % categories.length]!;
    const nouns = NOUNS[category]!;
    const noun = nouns[Math.floor(i / categories.length) % nouns.length]!;
    const adjective = ADJECTIVES[Math.floor(i / (categories.length * nouns.length)) % ADJECTIVES.length]!;
    const name = `${adjective} ${noun}${i >= 500 ? ' Deluxe' : ''}`;
    products.push({ sku: `sku-${String(i).padStart(4, '0')}`, name, category, price: 5 + ((i * 37) % 200) + 0.99, description: `${name}, from our ${category} range.` });
  }
  return products;
}
