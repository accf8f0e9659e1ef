/**
 * express + express-session with its sessions in castmirror: each process is one node of the
 * cluster in server.xml, listening on that node's httpPort. Kill one (kill -9) and its users
 * keep their sessions on the other.
 *
 *   export CASTMIRROR_SECRET=$(openssl rand -base64 24)
 *   node --import tsx examples/express-session/express.ts examples/express-session/server.xml node-a &
 *   node --import tsx examples/express-session/express.ts examples/express-session/server.xml node-b &
 *   curl -c jar -b jar -X POST localhost:3001/visit; curl -c jar -b jar localhost:3002/visit
 *
 * Put `castmirror proxy` in front (a <Proxy> element in server.xml) for sticky routing.
 */
import express from 'express';
import session from 'express-session';
import { closeWithNode, loadConfig, resolveNodeConfig, startNode } from 'castmirror';
import { CastmirrorStore } from 'castmirror/express-session';

declare module 'express-session' {
  interface SessionData {
    visits: number;
  }
}

const [configPath = 'examples/express-session/server.xml', nodeName = 'node-a'] = process.argv.slice(2);
const config = await loadConfig(configPath);
// This process's port and address are its node's, from the same file as the cluster's.
const { httpPort, host } = resolveNodeConfig(config.config, nodeName).node;
const node = await startNode({ config, nodeName });
const store = new CastmirrorStore({ node });

const app = express();
app.use(
  session({
    store,
    secret: process.env.SESSION_SECRET ?? 'change me: a long random string',
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: 30 * 60_000, httpOnly: true, sameSite: 'lax' },
  }),
);
app.use(store.routing()); // the route cookie, for `castmirror proxy`
app.post('/visit', (req, res) => {
  req.session.visits = (req.session.visits ?? 0) + 1;
  res.json({ visits: req.session.visits, node: node.name });
});
app.get('/visit', (req, res) => res.json({ visits: req.session.visits ?? 0, node: node.name }));
app.post('/remember-me', (req, res) => {
  req.session.cookie.maxAge = 30 * 86_400_000; // the session now lives 30 days, like its cookie
  res.json({ expires: req.session.cookie.expires });
});
app.post('/logout', (req, res, next) => req.session.destroy((error) => (error ? next(error) : res.json({ ok: true }))));

const server = app.listen(httpPort, host, () => console.log(JSON.stringify({ msg: 'listening', node: node.name, port: httpPort })));
// The server closes with the node: after its sessions are handed over and its goodbye is
// out, so that no request behind the proxy fails during a restart or a drain.
closeWithNode(node, server);
process.once('SIGTERM', () => void node.close());
process.once('SIGINT', () => void node.close());
void node.whenClosed().then(() => process.exit(0)); // by a signal or `castmirror drain`
