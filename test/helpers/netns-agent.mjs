// Runs inside a test's client network namespace: HTTP requests from the test process (one
// JSON line each on stdin) go out from there to the nodes' namespace addresses; each answer
// is one JSON line on stdout. Plain JavaScript, so that it starts fast.
import { createInterface } from 'node:readline';

createInterface({ input: process.stdin }).on('line', async (line) => {
  const { id, url, method, headers, body } = JSON.parse(line);
  try {
    const response = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(15_000) });
    const answer = { id, status: response.status, node: response.headers.get('x-castmirror-node'), setCookies: response.headers.getSetCookie(), body: await response.text() };
    process.stdout.write(`${JSON.stringify(answer)}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ id, error: String(error?.cause?.code ?? error?.message ?? error) })}\n`);
  }
});
