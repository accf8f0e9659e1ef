/**
 * A direct liveness probe: can we open a TCP connection to the member's port? A process
 * whose event loop has stalled still accepts (the kernel completes the handshake), so a
 * pause is not mistaken for a death; a killed process refuses at once.
 */
import net from 'node:net';

export type ProbeResult = 'answered' | 'refused' | 'timeout';
export type Probe = (host: string, port: number, timeoutMs: number) => Promise<ProbeResult>;

export const tcpProbe: Probe = (host, port, timeoutMs) =>
  new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const finish = (result: ProbeResult): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.once('connect', () => finish('answered'));
    socket.once('error', () => finish('refused'));
  });
