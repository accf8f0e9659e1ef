/**
 * The apps the HTTP benchmark puts behind the proxy (one process each, on a node's httpPort):
 *   bare               node:http, reads the JSON body, answers JSON: no session at all (the ceiling)
 *   express-redis      express + express-session + connect-redis (the usual Node answer)
 *   express-castmirror express + express-session + CastmirrorStore + store.routing()
 * Each keeps a cart { sku: qty } in the session on POST /cart/items {sku, qty}.
 *
 *   node dist-bench/bench/http-app.js KIND CONFIG NODE [REDIS_PORT]
 */
import http from 'node:http';
import express from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';
import { loadConfig } from '../lib/config/load.js';
import { resolveNodeConfig } from '../lib/config/resolve.js';
import { CastmirrorStore } from '../lib/express-session/store.js';
import { startNode } from '../lib/start.js';

declare module 'express-session' {
  interface SessionData {
    cart: Record<string, number>;
  }
}

const [kind, configPath, nodeName, redisPort] = process.argv.slice(2);
const loaded = await loadConfig(configPath!);
const { host, httpPort } = resolveNodeConfig(loaded.config, nodeName!).node;
const ready = () => process.stdout.write(`${JSON.stringify({ msg: 'app listening', kind, node: nodeName })}\n`);

if (kind === 'bare') {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const { sku, qty } = JSON.parse(Buffer.concat(chunks).toString()) as { sku: string; qty: number };
      const body = JSON.stringify({ items: [{ sku, qty }], node: nodeName });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.listen(httpPort, host, ready);
} else {
  const app = express();
  app.use(express.json());
  const common = { secret: 'bench-secret-of-at-least-32-characters!', resave: false, saveUninitialized: false };
  if (kind === 'express-redis') {
    const client = createClient({ socket: { host: '127.0.0.1', port: Number(redisPort) } });
    await client.connect();
    app.use(session({ ...common, store: new RedisStore({ client }) }));
  } else if (kind === 'express-castmirror') {
    const node = await startNode({ config: loaded, nodeName: nodeName! });
    const store = new CastmirrorStore({ node });
    app.use(session({ ...common, store }));
    app.use(store.routing());
  } else {
    throw new Error(`unknown app kind ${kind}`);
  }
  app.post('/cart/items', (req, res) => {
    const { sku, qty } = req.body as { sku: string; qty: number };
    const cart = (req.session.cart ??= {});
    cart[sku] = (cart[sku] ?? 0) + qty;
    res.json({ items: Object.entries(cart).map(([s, q]) => ({ sku: s, qty: q })), node: nodeName });
  });
  app.listen(httpPort, host, ready);
}

// A clean exit on a signal (so `node --cpu-prof` writes its profile).
process.on('SIGINT', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
