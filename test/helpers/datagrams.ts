import dgram from 'node:dgram';

/** Sends raw datagrams to a test group, on loopback only (interface 127.0.0.1, TTL 0). */
export async function sendToGroup(group: string, port: number, datagrams: readonly Uint8Array[]): Promise<void> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  socket.setMulticastInterface('127.0.0.1');
  socket.setMulticastTTL(0);
  for (const datagram of datagrams) {
    await new Promise<void>((resolve, reject) => socket.send(datagram, port, group, (error) => (error ? reject(error) : resolve())));
  }
  await new Promise<void>((resolve) => socket.close(() => resolve()));
}
