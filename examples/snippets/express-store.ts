import express from 'express';
import session from 'express-session';
import { closeWithNode, startNode } from 'castmirror';
import { CastmirrorStore } from 'castmirror/express-session';

const node = await startNode({ configPath: 'server.xml', nodeName: 'node-a' });
const store = new CastmirrorStore({ node });
const app = express();
app.use(session({ store, secret: process.env.SESSION_SECRET!, resave: false, saveUninitialized: false }));
app.use(store.routing()); // the route cookie, so the sticky proxy finds the session's node

const server = app.listen(node.config.node.httpPort, node.config.node.host);
closeWithNode(node, server); //                     the server closes with the node
process.once('SIGTERM', () => void node.close()); // hands the sessions over, says goodbye, then closes the server
