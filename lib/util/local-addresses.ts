/** The IPv4 addresses of this machine's interfaces: one place that asks the OS. */
import { networkInterfaces } from 'node:os';

export interface LocalAddress {
  readonly address: string;
  /** Loopback (127.0.0.1 and the like). */
  readonly internal: boolean;
}

export function localIPv4Addresses(): LocalAddress[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined && a.family === 'IPv4')
    .map((a) => ({ address: a!.address, internal: a!.internal }));
}

/** Whether `address` (an IP address, not a name) is one of this machine's. */
export function isLocalAddress(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || localIPv4Addresses().some((a) => a.address === address);
}
