/**
 * The cart workload of Tomcat's cluster benchmark, for bench/cart.bench.ts, on a node's
 * httpPort: `GET /cart/cart?op=add&item=X` increments `count` and appends X to `items` (the
 * last 20 kept) in the session, and answers the count.
 *   bare           node:http, the session a Map entry keyed by a cookie (the baseline)
 *   castmirror     node:http with castmirror's sessionMiddleware (standalone or clustered, with
 *                  or without a <Store>, as the config says)
 *   express-redis  express + express-session + connect-redis on REDIS_PORT (the usual Node answer)
 *
 *   node dist-bench/bench/cart-app.js KIND CONFIG NODE [REDIS_PORT]
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import { createClient } from 'redis';
import { loadConfig } from '../lib/config/load.js';
import { resolveNodeConfig } from '../lib/config/resolve.js';
import { sessionMiddleware, type SessionRequest } from '../lib/http/middleware.js';
import { startNode } from '../lib/start.js';

const [kind, configPath, nodeName, redisPort] = process.argv.slice(2);
const loaded = await loadConfig(configPath!);
const { host, httpPort } = resolveNodeConfig(loaded.config, nodeName!).node;

function item(url: string | undefined): string | undefined {
  const at = url?.indexOf('item=') ?? -1;
  return at < 0 ? undefined : url!.slice(at + 5);
}

let server: http.Server;
if (kind === 'bare') {
  const carts = new Map<string, { count: number; items: string[] }>();
  server = http.createServer((req, res) => {
    const cookie = req.headers.cookie;
    let id = cookie?.startsWith('cart=') ? cookie.slice(5) : undefined;
    let cart = id ? carts.get(id) : undefined;
    if (!cart) {
      id = randomBytes(18).toString('base64url');
      cart = { count: 0, items: [] };
      carts.set(id, cart);
      res.setHeader('Set-Cookie', `cart=${id}; Path=/; HttpOnly`);
    }
    cart.count++;
    cart.items.push(item(req.url) ?? '');
    if (cart.items.length > 20) cart.items.shift();
    res.end(String(cart.count));
  });
} else if (kind === 'express-redis') {
  const app = express();
  const client = createClient({ socket: { host: '127.0.0.1', port: Number(redisPort) } });
  await client.connect();
  app.use(session({ secret: 'bench-secret-of-at-least-32-characters!', resave: false, saveUninitialized: false, store: new RedisStore({ client }) }));
  app.get('/cart/cart', (req, res) => {
    const cart = req.session as unknown as { count?: number; items?: string[] };
    cart.count = (cart.count ?? 0) + 1;
    cart.items = [...(cart.items ?? []), item(req.url) ?? ''].slice(-20);
    res.end(String(cart.count));
  });
  server = http.createServer(app);
} else {
  const node = await startNode({ config: loaded, nodeName: nodeName!, admin: false });
  const sessions = sessionMiddleware({ node });
  server = http.createServer((req, res) =>
    sessions(req, res, () => {
      const { session } = (req as SessionRequest).castmirror!;
      const count = (session.global.getNumber('count') ?? 0) + 1;
      const items = [...(session.global.get<string[]>('items') ?? []), item(req.url) ?? ''].slice(-20);
      session.global.set('count', count).set('items', items);
      res.end(String(count));
    }),
  );
}
server.keepAliveTimeout = 10_000;
server.listen(httpPort, host, () => process.stdout.write(`${JSON.stringify({ msg: 'app listening', kind, node: nodeName })}\n`));
// A clean exit on a signal (so `node --cpu-prof` writes its profile).
process.on('SIGINT', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
