// Runs inside a test's client network namespace: HTTP requests from the test process (one
// JSON line each on stdin) go out from there to the nodes' namespace addresses; each answer
// is one JSON line on stdout. Plain JavaScript, so that it starts fast.
import { createInterface } from 'node:readline';

createInterface({ input: process.stdin }).on('line', async (line) => {
  const { id, url, method, headers, body } = JSON.parse(line);
  try {
    const response = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(15_000) });
    process.stdout.write(`${JSON.stringify({ id, status: response.status, body: await response.text() })}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ id, error: String(error?.cause?.code ?? error?.message ?? error) })}\n`);
  }
});
