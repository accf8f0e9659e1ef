import http from 'node:http';
import { closeWithNode, sessionMiddleware, startNode, type SessionRequest } from 'castmirror';

const node = await startNode({ configPath: 'server.xml', nodeName: 'node-a' });
const sessions = sessionMiddleware({ node }); // or app.use(sessions) in express or connect

const server = http.createServer((req, res) =>
  sessions(req, res, () => {
    const { session, outcome } = (req as SessionRequest).castmirror!; // a SessionObject, and how it was found
    const visits = (session.global.getNumber('visits') ?? 0) + 1;
    session.global.set('visits', visits);
    res.end(JSON.stringify({ visits, outcome, node: node.name }));
  }),
);
server.listen(node.config.node.httpPort, node.config.node.host);
closeWithNode(node, server); //                     the server closes with the node
process.once('SIGTERM', () => void node.close()); // hands the sessions over, then closes the server
