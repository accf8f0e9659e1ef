/**
 * The byte streams of replication links, as `<Encryption links>` asks: plain TCP, TLS 1.3
 * keyed from the cluster secret (a pre-shared key: no certificates to manage, forward
 * secrecy from the ephemeral key exchange TLS 1.3 adds to it), or TLS with certificates
 * checked both ways against one CA. Either way the link's own challenge-response still runs
 * inside, so a node proves its name with the cluster secret whatever the stream.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { certificateFilesFor } from '../config/network.js';
import type { EncryptionSettings } from '../config/types.js';
import { TransportError } from '../errors.js';

export interface StreamSecurity {
  readonly kind: EncryptionSettings['links'];
  /** Opens a stream to `host:port`; `ready` is the socket event after which it may carry data. */
  connect(host: string, port: number): { socket: net.Socket; ready: 'connect' | 'secureConnect' };
  /** A server whose `onStream` sees only streams that completed the TLS handshake; `onRefused` counts the others. */
  createServer(onStream: (socket: net.Socket) => void, onRefused: (error: Error) => void): net.Server;
}

const plain: StreamSecurity = {
  kind: 'off',
  connect: (host, port) => ({ socket: net.connect({ host, port, noDelay: true }), ready: 'connect' }),
  createServer: (onStream) => net.createServer(onStream),
};

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new TransportError(`cannot read the ${what} file ${file} given in <Encryption>: ${(error as Error).message}`, { cause: error });
  }
}

function secured(kind: StreamSecurity['kind'], client: tls.ConnectionOptions, server: tls.TlsOptions): StreamSecurity {
  return {
    kind,
    connect: (host, port) => ({ socket: tls.connect({ ...client, host, port, servername: net.isIP(host) ? undefined : host }).setNoDelay(true), ready: 'secureConnect' }),
    createServer: (onStream, onRefused) => tls.createServer(server, onStream).on('tlsClientError', onRefused),
  };
}

/** Fails at start, naming the files, when the key is not the certificate's (or either is not PEM). */
function checkPair(pem: { cert: Buffer; key: Buffer }, files: { cert: string; key: string }): void {
  try {
    tls.createSecureContext(pem);
  } catch (error) {
    throw new TransportError(`the key ${files.key} and the certificate ${files.cert} given in <Encryption> do not make a pair: ${(error as Error).message}`, { cause: error });
  }
}

/** The node's certificate and key for `<Encryption admin="https">`, read once; undefined for plain HTTP. */
export function adminCertificate(encryption: EncryptionSettings, node: string): { cert: Buffer; key: Buffer } | undefined {
  if (encryption.admin !== 'https') return undefined;
  const files = certificateFilesFor(encryption.certificates!, node);
  const pem = { cert: readPem(files.cert, 'certificate'), key: readPem(files.key, 'key') };
  checkPair(pem, files);
  return pem;
}

/**
 * The stream security of node `node`. `pskKey` is derived from the cluster secret for this
 * purpose only. Certificate files are read once, here; a missing one fails the start.
 */
export function streamSecurity(encryption: EncryptionSettings, node: string, pskKey: Buffer): StreamSecurity {
  if (encryption.links === 'off') return plain;
  const versions = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;
  if (encryption.links === 'secret') {
    return secured(
      'secret',
      { ...versions, pskCallback: () => ({ psk: pskKey, identity: node }), checkServerIdentity: () => undefined },
      { ...versions, pskCallback: () => pskKey },
    );
  }
  const files = certificateFilesFor(encryption.certificates!, node);
  const pem = { cert: readPem(files.cert, 'certificate'), key: readPem(files.key, 'key'), ca: readPem(files.ca, 'CA') };
  checkPair(pem, files);
  return secured('certificates', { ...versions, ...pem, rejectUnauthorized: true }, { ...versions, ...pem, requestCert: true, rejectUnauthorized: true });
}
