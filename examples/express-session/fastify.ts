/**
 * fastify + @fastify/session with its sessions in castmirror: the same store, unchanged, on the
 * node's httpPort from server.xml. Run it like express.ts:
 *
 *   node --import tsx examples/express-session/fastify.ts examples/express-session/server.xml node-b
 */
import Fastify from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import { loadConfig, resolveNodeConfig, startNode } from 'castmirror';
import { CastmirrorStore } from 'castmirror/express-session';

declare module 'fastify' {
  interface Session {
    visits?: number;
  }
}

const [configPath = 'examples/express-session/server.xml', nodeName = 'node-a'] = process.argv.slice(2);
const config = await loadConfig(configPath);
const { httpPort, host } = resolveNodeConfig(config.config, nodeName).node;
const node = await startNode({ config, nodeName });
const store = new CastmirrorStore({ node });

const app = Fastify();
await app.register(fastifyCookie);
await app.register(fastifySession, {
  store,
  secret: process.env.SESSION_SECRET ?? 'change me: a random string of 32 or more characters',
  saveUninitialized: false,
  cookie: { secure: false, maxAge: 30 * 60_000 }, // rolling by default: every request renews it
});
app.post('/visit', async (request) => {
  request.session.visits = (request.session.visits ?? 0) + 1;
  return { visits: request.session.visits, node: node.name };
});
app.get('/visit', async (request) => ({ visits: request.session.visits ?? 0, node: node.name }));

await app.listen({ port: httpPort, host });
console.log(JSON.stringify({ msg: 'listening', node: node.name, port: httpPort }));
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void app.close().then(() => node.close()).then(() => process.exit(0));
  });
}
