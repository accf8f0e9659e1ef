import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, test } from 'node:test';
import { makeCluster, ROOT, type TestCluster } from './helpers/cluster.js';

let cluster: TestCluster | undefined;
after(() => cluster?.cleanup());

test('examples/product-cache.ts loads once, serves from cache, reloads after an invalidation', async () => {
  cluster = await makeCluster({ nodes: 1 });
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'examples', 'product-cache.ts'), '--config', cluster!.configPath, '--node', 'node-a', '--once'],
      { cwd: ROOT, timeout: 20_000 },
      (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)),
    ),
  );
  const steps = stdout.trim().split('\n').map((line) => JSON.parse(line) as { step: string; product: { price: number }; queries: number });
  assert.deepEqual(
    steps.map((s) => [s.step, s.product.price, s.queries]),
    [
      ['loaded', 25, 1],
      ['cached', 25, 1],
      ['after invalidate', 30, 2],
    ],
  );
});
