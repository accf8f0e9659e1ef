/**
 * Every error castmirror throws across its public API, in one catalogue.
 *
 * Each class carries a stable `code` (`CASTMIRROR_*`) that callers may switch on;
 * messages may change, codes do not. Errors raised by dependencies (cbor-x, the XML
 * parser, sockets) are wrapped and kept as `cause`, never thrown raw.
 */

export class CastmirrorError extends Error {
  readonly code: string;

  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CastmirrorError';
    this.code = code;
  }
}

/** One problem in a config file, positioned at the element or attribute that caused it. */
export interface ConfigDiagnostic {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

export function formatDiagnostic(d: ConfigDiagnostic): string {
  return `${d.file}:${d.line}:${d.column}: ${d.message}`;
}

/** The config file has errors; `diagnostics` lists every one of them. */
export class ConfigError extends CastmirrorError {
  readonly diagnostics: readonly ConfigDiagnostic[];

  constructor(diagnostics: readonly ConfigDiagnostic[], options?: { cause?: unknown }) {
    super(diagnostics.map(formatDiagnostic).join('\n'), 'CASTMIRROR_CONFIG_INVALID', options);
    this.name = 'ConfigError';
    this.diagnostics = diagnostics;
  }
}

/** The config file could not be read at all (missing, unreadable). */
export class ConfigReadError extends CastmirrorError {
  constructor(file: string, options?: { cause?: unknown }) {
    const reason = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(`cannot read config file ${file}${reason}`, 'CASTMIRROR_CONFIG_READ', options);
    this.name = 'ConfigReadError';
  }
}

/** A node name that the config does not list under `<ClusterNodes>`. */
export class UnknownNodeError extends CastmirrorError {
  constructor(node: string, known: readonly string[]) {
    super(`node "${node}" is not listed in <ClusterNodes> (known: ${known.join(', ') || 'none'})`, 'CASTMIRROR_UNKNOWN_NODE');
    this.name = 'UnknownNodeError';
  }
}

/** Why a received frame was rejected. Each reason is also a metrics label. */
export const DecodeErrorCodes = {
  truncated: 'CASTMIRROR_FRAME_TRUNCATED',
  'bad-magic': 'CASTMIRROR_FRAME_BAD_MAGIC',
  'bad-version': 'CASTMIRROR_FRAME_BAD_VERSION',
  oversize: 'CASTMIRROR_FRAME_OVERSIZE',
  'bad-length': 'CASTMIRROR_FRAME_BAD_LENGTH',
  'bad-tag': 'CASTMIRROR_FRAME_BAD_TAG',
  'bad-cbor': 'CASTMIRROR_FRAME_BAD_CBOR',
  'bad-shape': 'CASTMIRROR_FRAME_BAD_SHAPE',
  'wrong-cluster': 'CASTMIRROR_FRAME_WRONG_CLUSTER',
} as const;

export type DecodeFailure = keyof typeof DecodeErrorCodes;

/** A frame that cannot be trusted: malformed, oversize, unauthenticated or foreign. */
export class DecodeError extends CastmirrorError {
  readonly reason: DecodeFailure;

  constructor(reason: DecodeFailure, message: string, options?: { cause?: unknown }) {
    super(message, DecodeErrorCodes[reason], options);
    this.name = 'DecodeError';
    this.reason = reason;
  }
}

/** An outgoing message that cannot be encoded within the limits (too large, not encodable). */
export class EncodeError extends CastmirrorError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'CASTMIRROR_ENCODE_FAILED', options);
    this.name = 'EncodeError';
  }
}

/** A socket could not be opened, bound or joined to its group. */
export class TransportError extends CastmirrorError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'CASTMIRROR_TRANSPORT_FAILED', options);
    this.name = 'TransportError';
  }
}

/** The operation was called on something already closed. */
export class ClosedError extends CastmirrorError {
  constructor(what: string) {
    super(`${what} is closed`, 'CASTMIRROR_CLOSED');
    this.name = 'ClosedError';
  }
}

/** A caller passed a value the API does not accept. */
export class InvalidArgumentError extends CastmirrorError {
  constructor(message: string) {
    super(message, 'CASTMIRROR_INVALID_ARGUMENT');
    this.name = 'InvalidArgumentError';
  }
}

/** No object cache of that type exists on this node. */
export class UnknownCacheTypeError extends CastmirrorError {
  constructor(type: string) {
    super(`no cache of type "${type}" on this node`, 'CASTMIRROR_UNKNOWN_CACHE_TYPE');
    this.name = 'UnknownCacheTypeError';
  }
}

/** `caches.create(type)` for a type that already has a cache. */
export class CacheExistsError extends CastmirrorError {
  constructor(type: string) {
    super(`a cache of type "${type}" already exists on this node`, 'CASTMIRROR_CACHE_EXISTS');
    this.name = 'CacheExistsError';
  }
}

/** The cache's loader threw or rejected; the original error is the cause. */
export class LoaderError extends CastmirrorError {
  constructor(type: string, key: string, options: { cause: unknown }) {
    super(`loader for cache "${type}" failed on key "${key}"`, 'CASTMIRROR_LOADER_FAILED', options);
    this.name = 'LoaderError';
  }
}

/** `getOrLoad` on a cache that was created without a loader. */
export class NoLoaderError extends CastmirrorError {
  constructor(type: string) {
    super(`cache "${type}" has no loader`, 'CASTMIRROR_NO_LOADER');
    this.name = 'NoLoaderError';
  }
}

/** The admin API answered with an error status; `status` and `body` are what it said. */
export class AdminRequestError extends CastmirrorError {
  readonly status: number;
  readonly remoteCode: string | undefined;

  constructor(status: number, message: string, remoteCode?: string) {
    super(message, 'CASTMIRROR_ADMIN_REQUEST_FAILED');
    this.name = 'AdminRequestError';
    this.status = status;
    this.remoteCode = remoteCode;
  }
}

/** The admin API of a node could not be reached at all. */
export class AdminUnreachableError extends CastmirrorError {
  constructor(url: string, options?: { cause?: unknown }) {
    super(`cannot reach the admin API at ${url}`, 'CASTMIRROR_ADMIN_UNREACHABLE', options);
    this.name = 'AdminUnreachableError';
  }
}

/** A session value that cannot be stored (and so could not be mirrored), named by pool and key. */
export class SessionValueError extends CastmirrorError {
  readonly pool: string;
  readonly key: string;

  constructor(pool: string, key: string, problem: string) {
    super(`cannot store "${key}" in session pool ${pool}: ${problem}`, 'CASTMIRROR_SESSION_VALUE');
    this.name = 'SessionValueError';
    this.pool = pool;
    this.key = key;
  }
}

/** A session used in a way its state does not allow (a reference not rebuilt, a closed session). */
export class SessionStateError extends CastmirrorError {
  constructor(message: string) {
    super(message, 'CASTMIRROR_SESSION_STATE');
    this.name = 'SessionStateError';
  }
}

/** A replication peer could not be reached, or went away before answering. */
export class PeerUnavailableError extends CastmirrorError {
  constructor(peer: string, reason: string, options?: { cause?: unknown }) {
    super(`replication peer ${peer} is unavailable: ${reason}`, 'CASTMIRROR_PEER_UNAVAILABLE', options);
    this.name = 'PeerUnavailableError';
  }
}

/** Every code above, for the documentation test and for callers that want the list. */
export const ErrorCodes = [
  'CASTMIRROR_CONFIG_INVALID',
  'CASTMIRROR_CONFIG_READ',
  'CASTMIRROR_UNKNOWN_NODE',
  ...Object.values(DecodeErrorCodes),
  'CASTMIRROR_ENCODE_FAILED',
  'CASTMIRROR_TRANSPORT_FAILED',
  'CASTMIRROR_CLOSED',
  'CASTMIRROR_INVALID_ARGUMENT',
  'CASTMIRROR_UNKNOWN_CACHE_TYPE',
  'CASTMIRROR_CACHE_EXISTS',
  'CASTMIRROR_LOADER_FAILED',
  'CASTMIRROR_NO_LOADER',
  'CASTMIRROR_ADMIN_REQUEST_FAILED',
  'CASTMIRROR_ADMIN_UNREACHABLE',
  'CASTMIRROR_SESSION_VALUE',
  'CASTMIRROR_SESSION_STATE',
  'CASTMIRROR_PEER_UNAVAILABLE',
] as const;
