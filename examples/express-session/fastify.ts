/**
 * fastify + @fastify/session with its sessions in castmirror: the same store, unchanged, on the
 * node's httpPort from server.xml. Run it like express.ts:
 *
 *   node --import tsx examples/express-session/fastify.ts examples/express-session/server.xml node-b
 */
import Fastify from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import { closeWithNode, loadConfig, refusedAsLeaving, resolveNodeConfig, startNode } from 'castmirror';
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
// While this node is leaving (a drain, a restart), requests go to another node: before the
// session plugin, which would otherwise fail to load their sessions here.
app.addHook('onRequest', async (_request, reply) => {
  if (refusedAsLeaving(node, reply.raw)) return reply.hijack();
});
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
// fastify's own server closes with the node: after its sessions are handed over and its
// goodbye is out, so that no request behind the proxy fails during a restart or a drain.
closeWithNode(node, app.server);
process.once('SIGTERM', () => void node.close());
process.once('SIGINT', () => void node.close());
void node.whenClosed().then(() => process.exit(0)); // by a signal or `castmirror drain`
