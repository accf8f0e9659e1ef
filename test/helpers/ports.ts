import dgram from 'node:dgram';
import net from 'node:net';

/** Ports this process has handed out: the kernel may offer a just-closed port again. */
const handedOut = new Set<number>();

/** A TCP port on 127.0.0.1 that was free a moment ago, never the same twice in one process. */
export async function freeTcpPort(): Promise<number> {
  for (;;) {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

/** A UDP port that was free a moment ago. */
export async function freeUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** A multicast group in 239.0.0.0/8 unlikely to be shared with another test. */
export function randomGroup(): string {
  const octet = () => 1 + Math.floor(Math.random() * 254);
  return `239.77.${octet()}.${octet()}`;
}

/** The first of `count` consecutive TCP ports on 127.0.0.1 that were all free a moment ago. */
export async function freeTcpPortRun(count: number): Promise<number> {
  for (;;) {
    const first = await freeTcpPort();
    const rest = Array.from({ length: count - 1 }, (_, i) => first + 1 + i);
    if (first + count - 1 > 65535 || rest.some((p) => handedOut.has(p))) continue;
    const free = await Promise.all(rest.map(tcpPortIsFree));
    if (!free.every(Boolean)) continue;
    for (const port of rest) handedOut.add(port);
    return first;
  }
}

function tcpPortIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
