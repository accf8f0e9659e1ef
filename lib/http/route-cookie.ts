/**
 * The route cookie: the route token (replication/route-token.ts) of a client's session, as
 * a cookie. Its name comes from server.xml (`<Sessions cookie>`), so every node and the
 * proxy read the same one; its attributes are the HTTP edge's own.
 */
import { randomBytes } from 'node:crypto';
import { parse as parseCookieHeader, serialize } from 'cookie';
import { DEFAULT_ROUTE_COOKIE, type SessionSettings } from '../config/types.js';
import { InvalidArgumentError } from '../errors.js';
import type { RouteHint } from '../replication/route-hint.js';
import { RouteToken, type RouteTokenStats } from '../replication/route-token.js';

export { DEFAULT_ROUTE_COOKIE };

/** Cookie attributes. Defaults: Path=/, HttpOnly, SameSite=Lax, no Max-Age (a browser-session cookie). */
export interface RouteCookieAttributes {
  readonly path?: string;
  readonly secure?: boolean;
  readonly sameSite?: 'lax' | 'strict' | 'none';
  readonly maxAgeSeconds?: number;
}

export interface RouteCookieOptions extends RouteCookieAttributes {
  /** The node's token (`node.routeToken`); or give `secret` and `cluster` to make one. */
  readonly token?: RouteToken;
  /** The cluster secret (`<Secret>`); the signing key is derived from it and the cluster name. */
  readonly secret?: Buffer;
  readonly cluster?: string;
  /** Default `castmirror.route`; nodes and the proxy take it from `<Sessions cookie>`. */
  readonly name?: string;
}

/** What reading a request's cookie found. `forged` covers a bad tag and a malformed value. */
export type RouteCookieReading = { readonly status: 'absent' } | { readonly status: 'forged' } | { readonly status: 'valid'; readonly hint: RouteHint };

export type RouteCookieStats = RouteTokenStats;

export class RouteCookie {
  readonly name: string;
  readonly token: RouteToken;
  private readonly attributes: Parameters<typeof serialize>[2];
  /** `; Path=/; HttpOnly; ...`, checked and written once by the cookie package: a token needs no encoding. */
  private readonly attributeText: string;

  constructor(options: RouteCookieOptions) {
    checkAttributes(options);
    this.name = options.name ?? DEFAULT_ROUTE_COOKIE;
    // Standalone nodes may run without a secret: their cookies then hold for this process only.
    this.token = options.token ?? new RouteToken(options.secret ?? randomBytes(32), options.cluster ?? '');
    this.attributes = {
      path: options.path ?? '/',
      httpOnly: true,
      sameSite: options.sameSite ?? 'lax',
      secure: options.secure === true,
      maxAge: options.maxAgeSeconds,
    };
    this.attributeText = serialize(this.name, '', this.attributes).slice(this.name.length + 1);
  }

  /** The cookie a node's HTTP edge reads and writes: the node's token, the name in server.xml. */
  static forNode(node: { readonly routeToken: RouteToken; readonly config: { readonly sessions: SessionSettings } }, attributes: RouteCookieAttributes = {}): RouteCookie {
    return new RouteCookie({ ...attributes, token: node.routeToken, name: node.config.sessions.cookie });
  }

  get stats(): RouteCookieStats {
    return this.token.stats;
  }

  /** The signed cookie value for a hint. */
  encode(hint: RouteHint): string {
    return this.token.encode(hint);
  }

  /** Verifies a cookie value: the hint, or undefined for anything forged or malformed. */
  decode(value: string): RouteHint | undefined {
    return this.token.decode(value);
  }

  /** A `Set-Cookie` header value carrying the hint (a token is base64url and dots: a valid cookie value as it is). */
  serialize(hint: RouteHint): string {
    return `${this.name}=${this.encode(hint)}${this.attributeText}`;
  }

  /** A `Set-Cookie` header value that removes the cookie (one that did not verify, say). */
  clearing(): string {
    return serialize(this.name, '', { ...this.attributes, maxAge: 0 });
  }

  /** Reads the route cookie from a `Cookie` request header, counting what it finds. */
  read(cookieHeader: string | undefined): RouteCookieReading {
    const value = cookieHeader ? cookieValue(cookieHeader, this.name) : undefined;
    if (!value) return { status: 'absent' };
    const hint = this.token.verify(value);
    return hint ? { status: 'valid', hint } : { status: 'forged' };
  }
}

/** One cookie's value from a `Cookie` header (the `cookie` package handles quoting and decoding). */
export function cookieValue(cookieHeader: string, name: string): string | undefined {
  // Cheap test first: most requests to a node carry no cookie of ours.
  if (!cookieHeader.includes(name)) return undefined;
  return parseCookieHeader(cookieHeader)[name];
}

const SAME_SITE = ['lax', 'strict', 'none'];

function checkAttributes(options: RouteCookieOptions): void {
  const { path, secure, sameSite, maxAgeSeconds } = options;
  if (path !== undefined && (typeof path !== 'string' || !path.startsWith('/') || /[;\s]/.test(path))) throw new InvalidArgumentError(`route cookie path must start with "/" and hold no ";" or space, not ${JSON.stringify(path)}`);
  if (secure !== undefined && typeof secure !== 'boolean') throw new InvalidArgumentError('route cookie secure must be true or false');
  if (sameSite !== undefined && !SAME_SITE.includes(sameSite)) throw new InvalidArgumentError(`route cookie sameSite must be one of ${SAME_SITE.join(', ')}, not ${JSON.stringify(sameSite)}`);
  if (maxAgeSeconds !== undefined && (!Number.isSafeInteger(maxAgeSeconds) || maxAgeSeconds < 0)) throw new InvalidArgumentError(`route cookie maxAgeSeconds must be a whole number >= 0, not ${String(maxAgeSeconds)}`);
}
