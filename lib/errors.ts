/**
 * Every error castmirror throws across its public API, or answers on an HTTP edge, in one
 * catalogue.
 *
 * Each class declares its stable, literal `code` (`CASTMIRROR_*`) and the HTTP status an
 * edge answers with, side by side; `ErrorCodes` is derived from the classes, so the list
 * cannot drift. Messages may change, codes do not. Errors raised by dependencies (cbor-x,
 * the XML parser, lru-cache, sockets) are wrapped and kept as `cause`, never thrown raw.
 */

export class CastmirrorError extends Error {
  readonly code: string;
  /** What an HTTP edge answers when this error ends a request. */
  static readonly httpStatus: number = 500;

  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }

  get httpStatus(): number {
    return (this.constructor as typeof CastmirrorError).httpStatus;
  }

  /** Extra fields an HTTP edge puts beside `code` and `message` in the error body. */
  details(): Record<string, unknown> {
    return {};
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

/**
 * The base of a catalogue class: its literal code and the HTTP status an edge answers with,
 * declared once, side by side (fastify's createError, as a class).
 */
function coded<const C extends string>(code: C, httpStatus: number) {
  return class extends CastmirrorError {
    static readonly CODE: C = code;
    static override readonly httpStatus: number = httpStatus;
    declare readonly code: C;
  };
}

// ---- configuration ---------------------------------------------------------------------

/** The config file has errors; `diagnostics` lists every one of them. */
export class ConfigError extends coded('CASTMIRROR_CONFIG_INVALID', 400) {
  readonly diagnostics: readonly ConfigDiagnostic[];

  constructor(diagnostics: readonly ConfigDiagnostic[], options?: { cause?: unknown }) {
    super(diagnostics.map(formatDiagnostic).join('\n'), ConfigError.CODE, options);
    this.diagnostics = diagnostics;
  }

  override details(): Record<string, unknown> {
    return { diagnostics: this.diagnostics };
  }
}

/** The config file could not be read at all (missing, unreadable). */
export class ConfigReadError extends coded('CASTMIRROR_CONFIG_READ', 400) {
  constructor(file: string, options?: { cause?: unknown }) {
    const reason = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(`cannot read config file ${file}${reason}`, ConfigReadError.CODE, options);
  }
}

/** A node name that the config does not list under `<ClusterNodes>`. */
export class UnknownNodeError extends coded('CASTMIRROR_UNKNOWN_NODE', 400) {
  constructor(node: string, known: readonly string[]) {
    super(`node "${node}" is not listed in <ClusterNodes> (known: ${known.join(', ') || 'none'})`, UnknownNodeError.CODE);
  }
}

// ---- wire and transport ----------------------------------------------------------------

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
  /** Signed where the cluster encrypts, or encrypted where it only signs: `<Encryption datagrams>` differs. */
  'wrong-protection': 'CASTMIRROR_FRAME_WRONG_PROTECTION',
} as const;

export type DecodeFailure = keyof typeof DecodeErrorCodes;
export const DECODE_FAILURES = Object.keys(DecodeErrorCodes) as readonly DecodeFailure[];

/** A frame that cannot be trusted: malformed, oversize, unauthenticated or foreign. */
export class DecodeError extends CastmirrorError {
  static readonly CODES = Object.values(DecodeErrorCodes);
  static override readonly httpStatus = 400;
  declare readonly code: (typeof DecodeErrorCodes)[DecodeFailure];
  readonly reason: DecodeFailure;

  constructor(reason: DecodeFailure, message: string, options?: { cause?: unknown }) {
    super(message, DecodeErrorCodes[reason], options);
    this.reason = reason;
  }
}

/** An outgoing message that cannot be encoded within the limits (too large, not encodable). */
export class EncodeError extends coded('CASTMIRROR_ENCODE_FAILED', 500) {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EncodeError.CODE, options);
  }
}

/** A socket could not be opened, bound or joined to its group. */
export class TransportError extends coded('CASTMIRROR_TRANSPORT_FAILED', 500) {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, TransportError.CODE, options);
  }
}

// ---- the programmatic API --------------------------------------------------------------

/** The operation was called on something already closed. */
export class ClosedError extends coded('CASTMIRROR_CLOSED', 503) {
  constructor(what: string) {
    super(`${what} is closed`, ClosedError.CODE);
  }
}

/** A caller passed a value the API does not accept. */
export class InvalidArgumentError extends coded('CASTMIRROR_INVALID_ARGUMENT', 400) {
  constructor(message: string) {
    super(message, InvalidArgumentError.CODE);
  }
}

/** No object cache of that type exists on this node. */
export class UnknownCacheTypeError extends coded('CASTMIRROR_UNKNOWN_CACHE_TYPE', 404) {
  constructor(type: string) {
    super(`no cache of type "${type}" on this node`, UnknownCacheTypeError.CODE);
  }
}

/** `caches.create(type)` for a type that already has a cache. */
export class CacheExistsError extends coded('CASTMIRROR_CACHE_EXISTS', 409) {
  constructor(type: string) {
    super(`a cache of type "${type}" already exists on this node`, CacheExistsError.CODE);
  }
}

/** The cache's loader threw or rejected; the original error is the cause. */
export class LoaderError extends coded('CASTMIRROR_LOADER_FAILED', 502) {
  constructor(type: string, key: string, options: { cause: unknown }) {
    super(`loader for cache "${type}" failed on key "${key}"`, LoaderError.CODE, options);
  }
}

/** `getOrLoad` on a cache that was created without a loader. */
export class NoLoaderError extends coded('CASTMIRROR_NO_LOADER', 409) {
  constructor(type: string) {
    super(`cache "${type}" has no loader`, NoLoaderError.CODE);
  }
}

/** A session value that cannot be stored (and so could not be mirrored), named by pool and key. */
export class SessionValueError extends coded('CASTMIRROR_SESSION_VALUE', 400) {
  readonly pool: string;
  readonly key: string;

  constructor(pool: string, key: string, problem: string) {
    super(`cannot store "${key}" in session pool ${pool}: ${problem}`, SessionValueError.CODE);
    this.pool = pool;
    this.key = key;
  }
}

/** A session used in a way its state does not allow (a reference not rebuilt, a closed session). */
export class SessionStateError extends coded('CASTMIRROR_SESSION_STATE', 409) {
  constructor(message: string) {
    super(message, SessionStateError.CODE);
  }
}

/** A session too large to mirror in one replication frame: the change is refused, never acknowledged. */
export class SessionTooLargeError extends coded('CASTMIRROR_SESSION_TOO_LARGE', 413) {
  readonly session: string;

  constructor(session: string, options?: { cause?: unknown }) {
    super(`session ${session} is too large to copy to a backup (over the 8 MiB replication frame): the change was not acknowledged`, SessionTooLargeError.CODE, options);
    this.session = session;
  }
}

/** A sync commit no backup holds, refused as `<Replication noBackup="refuse">` says. */
export class NotMirroredError extends coded('CASTMIRROR_NOT_MIRRORED', 503) {
  constructor(session: string) {
    super(`no backup holds the change to session ${session} (no other node could take it): refused, as <Replication noBackup="refuse"> says`, NotMirroredError.CODE);
  }
}

/** A replication peer could not be reached, or went away before answering. */
export class PeerUnavailableError extends coded('CASTMIRROR_PEER_UNAVAILABLE', 503) {
  constructor(peer: string, reason: string, options?: { cause?: unknown }) {
    super(`replication peer ${peer} is unavailable: ${reason}`, PeerUnavailableError.CODE, options);
  }
}

// ---- the admin API (answered by a node, raised by its client) --------------------------

/** The admin API answered with an error status; `status` and `remoteCode` are what it said. */
export class AdminRequestError extends coded('CASTMIRROR_ADMIN_REQUEST_FAILED', 500) {
  readonly status: number;
  readonly remoteCode: string | undefined;

  constructor(status: number, message: string, remoteCode?: string) {
    super(message, AdminRequestError.CODE);
    this.status = status;
    this.remoteCode = remoteCode;
  }
}

/** The admin API of a node could not be reached at all. */
export class AdminUnreachableError extends coded('CASTMIRROR_ADMIN_UNREACHABLE', 500) {
  constructor(
    readonly url: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot reach the admin API at ${url}`, AdminUnreachableError.CODE, options);
  }

  /** None of several nodes answered: one error naming each node tried and why. */
  static ofAll(tried: readonly { node: string; error: AdminUnreachableError }[]): AdminUnreachableError {
    const each = tried.map(({ node, error }) => `${node} (${error.url}${causeText(error.cause)})`).join(', ');
    return new AdminUnreachableError(`any node: ${each}`);
  }
}

function causeText(cause: unknown): string {
  const code = (cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? `: ${code}` : '';
}

/** Missing or wrong admin credentials. */
export class AdminUnauthorizedError extends coded('CASTMIRROR_ADMIN_UNAUTHORIZED', 401) {
  constructor(message: string) {
    super(message, AdminUnauthorizedError.CODE);
  }
}

/** An action sent with the browser login but without the CSRF header. */
export class AdminForbiddenError extends coded('CASTMIRROR_ADMIN_FORBIDDEN', 403) {
  constructor(message: string) {
    super(message, AdminForbiddenError.CODE);
  }
}

/** No such admin resource. */
export class AdminNotFoundError extends coded('CASTMIRROR_ADMIN_NOT_FOUND', 404) {
  constructor(pathname: string) {
    super(`no such resource: ${pathname}`, AdminNotFoundError.CODE);
  }
}

/** An application that server.xml does not list. */
export class AdminNoAppError extends coded('CASTMIRROR_ADMIN_NO_APP', 404) {
  constructor(app: string) {
    super(`no application "${app}"; applications are listed in <Applications>`, AdminNoAppError.CODE);
  }
}

/** A session this node does not hold. */
export class AdminNoSessionError extends coded('CASTMIRROR_ADMIN_NO_SESSION', 404) {
  constructor(node: string, id: string) {
    super(`node ${node} holds no session "${id}"`, AdminNoSessionError.CODE);
  }
}

/** A cache entry this node does not hold. */
export class AdminNoEntryError extends coded('CASTMIRROR_ADMIN_NO_ENTRY', 404) {
  constructor(type: string, key: string) {
    super(`no entry "${key}" in cache "${type}" on this node`, AdminNoEntryError.CODE);
  }
}

/** A method the resource does not take; `allow` lists those it does. */
export class AdminMethodNotAllowedError extends coded('CASTMIRROR_ADMIN_METHOD_NOT_ALLOWED', 405) {
  readonly allow: readonly string[];

  constructor(method: string, pathname: string, allow: readonly string[]) {
    super(`${method} is not allowed on ${pathname}`, AdminMethodNotAllowedError.CODE);
    this.allow = allow;
  }
}

/** A request body over the admin API's limit. */
export class AdminBodyTooLargeError extends coded('CASTMIRROR_ADMIN_BODY_TOO_LARGE', 413) {
  constructor(limit: number) {
    super(`body exceeds ${limit} bytes`, AdminBodyTooLargeError.CODE);
  }
}

/** A request body that is not JSON. */
export class InvalidJsonError extends coded('CASTMIRROR_INVALID_JSON', 400) {
  constructor(problem: string) {
    super(`body is not valid JSON: ${problem}`, InvalidJsonError.CODE);
  }
}

// ---- the HTTP edge: middleware and proxy -----------------------------------------------

/** The application's request handler threw or rejected; the session changes it made are kept. */
export class HandlerFailedError extends coded('CASTMIRROR_HANDLER_FAILED', 500) {
  constructor(options?: { cause?: unknown }) {
    super('the request handler failed; the session changes it made were kept', HandlerFailedError.CODE, options);
  }
}

/** A request for an application that is disabled (or draining, for a session that never used it). */
export class AppDisabledError extends coded('CASTMIRROR_APP_DISABLED', 503) {
  readonly app: string;
  readonly state: 'disabled' | 'draining';

  constructor(app: string, state: 'disabled' | 'draining') {
    super(
      state === 'disabled' ? `The application "${app}" is disabled.` : `The application "${app}" is being disabled: only sessions that already use it are served.`,
      AppDisabledError.CODE,
    );
    this.app = app;
    this.state = state;
  }

  override details(): Record<string, unknown> {
    return { app: this.app, state: this.state };
  }
}

/** The proxy could reach no node. */
export class NoNodeError extends coded('CASTMIRROR_NO_NODE', 503) {
  constructor() {
    super('no castmirror node could be reached; try again shortly', NoNodeError.CODE);
  }
}

/** A node failed after the request may have reached it: the outcome is unknown. */
export class UpstreamFailedError extends coded('CASTMIRROR_UPSTREAM_FAILED', 502) {
  readonly node: string;

  constructor(node: string, problem: string) {
    super(`node ${node} failed while handling the request (${problem}); it may or may not have been applied`, UpstreamFailedError.CODE);
    this.node = node;
  }

  override details(): Record<string, unknown> {
    return { node: this.node };
  }
}

/** A node did not answer the request's headers in time. */
export class UpstreamTimeoutError extends coded('CASTMIRROR_UPSTREAM_TIMEOUT', 504) {
  readonly node: string;

  constructor(node: string, timeoutMs: number) {
    super(`node ${node} did not answer within ${timeoutMs} ms`, UpstreamTimeoutError.CODE);
    this.node = node;
  }

  override details(): Record<string, unknown> {
    return { node: this.node };
  }
}

/** Anything that is not a CastmirrorError, as an HTTP edge reports it (the cause is logged, not sent). */
export class InternalError extends coded('CASTMIRROR_INTERNAL', 500) {
  constructor(options?: { cause?: unknown }) {
    super('internal error', InternalError.CODE, options);
  }
}

/** An error as an HTTP edge answers it: the catalogue's own, or an InternalError around anything else. */
export function asCastmirrorError(error: unknown): CastmirrorError {
  return error instanceof CastmirrorError ? error : new InternalError({ cause: error });
}

/** Every class of the catalogue; `ErrorCodes` is read from them. */
const CATALOGUE = [
  ConfigError, ConfigReadError, UnknownNodeError, EncodeError, TransportError,
  ClosedError, InvalidArgumentError, UnknownCacheTypeError, CacheExistsError, LoaderError,
  NoLoaderError, SessionValueError, SessionStateError, SessionTooLargeError, NotMirroredError,
  PeerUnavailableError, AdminRequestError, AdminUnreachableError, AdminUnauthorizedError, AdminForbiddenError,
  AdminNotFoundError, AdminNoAppError, AdminNoSessionError, AdminNoEntryError, AdminMethodNotAllowedError,
  AdminBodyTooLargeError, InvalidJsonError, HandlerFailedError, AppDisabledError, NoNodeError,
  UpstreamFailedError, UpstreamTimeoutError, InternalError,
] as const;

export type ErrorCode = (typeof CATALOGUE)[number]['CODE'] | (typeof DecodeErrorCodes)[DecodeFailure];

/** Every code of the catalogue, derived from its classes: for the documentation test and for callers. */
export const ErrorCodes: readonly ErrorCode[] = [...CATALOGUE.map((c) => c.CODE), ...DecodeError.CODES];

/** The HTTP status for each code, derived from the classes. */
export const HTTP_STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = Object.freeze(
  Object.fromEntries([...CATALOGUE.map((c) => [c.CODE, c.httpStatus] as const), ...DecodeError.CODES.map((code) => [code, DecodeError.httpStatus] as const)]),
) as Record<ErrorCode, number>;
