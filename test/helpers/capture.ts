/**
 * A packet capture on the bridge of a Hosts harness, for checking what crosses the wire:
 * tcpdump when it is installed, else a raw AF_PACKET socket from python3. Keeps the IPv4
 * packets between two host addresses only (the test's own requests from the client are in
 * clear by design), as one buffer of their bytes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const has = (command: string, probe: string): boolean => !spawnSync(command, [probe], { stdio: 'ignore' }).error;

/** Which capture tool this machine has, if any. */
export function captureTool(): 'tcpdump' | 'python3' | undefined {
  if (has('tcpdump', '--version')) return 'tcpdump';
  if (has('python3', '--version')) return 'python3';
  return undefined;
}

// Raw frames on every interface of the namespace (a bridge's own device does not see the
// frames it forwards between ports; its ports do): Ethernet + IPv4, source and destination both in `hosts`.
const PYTHON_CAPTURE = `
import socket, sys
hosts = set(sys.argv[1].split(','))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(3))
out = open(sys.argv[2], 'wb', buffering=0)
print('ready', flush=True)
while True:
    frame = s.recv(65535)
    if len(frame) < 34 or frame[12:14] != b'\\x08\\x00':
        continue
    if socket.inet_ntoa(frame[26:30]) in hosts and socket.inet_ntoa(frame[30:34]) in hosts:
        out.write(frame)
`;

export class BridgeCapture {
  private constructor(
    private readonly child: ChildProcess,
    private readonly file: string,
  ) {}

  /** Starts capturing on every port of the switch namespace `ns`; resolves once the capture runs. */
  static async start(ns: string, hostAddresses: readonly string[], dir: string): Promise<BridgeCapture> {
    const file = path.join(dir, 'capture.bin');
    const tool = captureTool();
    if (!tool) throw new Error('no capture tool (tcpdump or python3)');
    const either = (direction: 'src' | 'dst'): string => `(${hostAddresses.map((a) => `${direction} host ${a}`).join(' or ')})`;
    const args =
      tool === 'tcpdump'
        ? ['netns', 'exec', ns, 'tcpdump', '-i', 'any', '-U', '-w', file, `ip and ${either('src')} and ${either('dst')}`]
        : ['netns', 'exec', ns, 'python3', '-c', PYTHON_CAPTURE, hostAddresses.join(','), file];
    const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      const ready = (chunk: Buffer): void => {
        if (/ready|listening on/.test(chunk.toString())) resolve();
      };
      child.stdout!.on('data', ready);
      child.stderr!.on('data', ready);
      child.once('exit', (code) => reject(new Error(`capture exited with ${code}`)));
    });
    return new BridgeCapture(child, file);
  }

  /** Stops the capture; returns every byte captured. */
  async stop(): Promise<Buffer> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGINT');
    await exited;
    return readFileSync(this.file);
  }
}
