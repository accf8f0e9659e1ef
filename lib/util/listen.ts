import { once } from 'node:events';
import type { Server } from 'node:net';

/** Starts listening; resolves when it does, rejects with the bind error (EADDRINUSE, ...). */
export async function listen(server: Server, port: number, host: string): Promise<void> {
  server.listen(port, host);
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([error]) => Promise.reject(error))]);
}
