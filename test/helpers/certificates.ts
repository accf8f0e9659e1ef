/**
 * Test certificates made with the openssl command (provisioned by scripts/test-tools.mjs):
 * a CA, one certificate per node signed by it (the node's name and address as subject
 * alternative names), and a rogue CA with a certificate of its own for the refusal tests.
 * EC P-256 keys, so that making them takes milliseconds.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

export const hasOpenssl = (): boolean => !spawnSync('openssl', ['version'], { stdio: 'ignore' }).error;

const openssl = (cwd: string, ...args: string[]): void => void execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });

function makeCa(dir: string, name: string): void {
  openssl(dir, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.crt`);
}

function makeSigned(dir: string, ca: string, name: string, address: string): void {
  writeFileSync(path.join(dir, `${name}.ext`), `subjectAltName=DNS:${name},IP:${address}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  openssl(dir, 'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
  openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`);
}

/**
 * In `dir`: `ca.crt`, and `<name>.crt`/`<name>.key` for each node; `rogue-ca.crt` and
 * `<rogue>.crt`/`.key` signed by it, for a node the cluster's CA never signed.
 */
export function makeCertificates(dir: string, nodes: readonly { name: string; address: string }[], rogue?: { name: string; address: string }): void {
  makeCa(dir, 'ca');
  for (const node of nodes) makeSigned(dir, 'ca', node.name, node.address);
  if (rogue) {
    makeCa(dir, 'rogue-ca');
    makeSigned(dir, 'rogue-ca', rogue.name, rogue.address);
  }
}
