/**
 * The route cookie: where a client's session lives (id, primary, backup, the primary's
 * incarnation and the version the client has seen), authenticated with an HMAC under a
 * key derived from the cluster secret. The proxy routes by it and the node uses it to find
 * the session; a client cannot steer either, because a forged or altered value fails the
 * HMAC and is ignored (and counted), as if there were no cookie.
 *
 * Value: `v1.<base64url JSON array>.<base64url 16-byte HMAC-SHA256 tag>`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { parse as parseCookieHeader, serialize } from 'cookie';
import { isSessionId } from '../session/id.js';
import type { RouteHint } from '../replication/session-manager.js';
import { deriveKey } from '../wire/frame.js';

export const DEFAULT_ROUTE_COOKIE = 'castmirror.route';
const PREFIX = 'v1';
const TAG_BYTES = 16;
/** Node names and incarnations are short; a value beyond this is not ours. */
const MAX_COOKIE_CHARS = 512;

export interface RouteCookieOptions {
  /** The cluster secret (`<Secret>`); the signing key is derived from it and the cluster name. */
  readonly secret: Buffer;
  readonly cluster: string;
  readonly name?: string;
  /** Cookie attributes. Defaults: Path=/, HttpOnly, SameSite=Lax, no Max-Age (a browser-session cookie). */
  readonly path?: string;
  readonly secure?: boolean;
  readonly sameSite?: 'lax' | 'strict' | 'none';
  readonly maxAgeSeconds?: number;
}

/** What reading a request's cookie found. `forged` covers a bad tag and a malformed value. */
export type RouteCookieReading = { readonly status: 'absent' } | { readonly status: 'forged' } | { readonly status: 'valid'; readonly hint: RouteHint };

export interface RouteCookieStats {
  valid: number;
  forged: number;
}

export class RouteCookie {
  readonly name: string;
  readonly stats: RouteCookieStats = { valid: 0, forged: 0 };
  private readonly key: Buffer;
  private readonly attributes: Parameters<typeof serialize>[2];

  constructor(options: RouteCookieOptions) {
    this.name = options.name ?? DEFAULT_ROUTE_COOKIE;
    this.key = deriveKey(options.secret, options.cluster, 'route-cookie');
    this.attributes = {
      path: options.path ?? '/',
      httpOnly: true,
      sameSite: options.sameSite ?? 'lax',
      ...(options.secure ? { secure: true } : {}),
      ...(options.maxAgeSeconds !== undefined ? { maxAge: options.maxAgeSeconds } : {}),
    };
  }

  /** The signed cookie value for a hint. */
  encode(hint: RouteHint): string {
    const body = Buffer.from(JSON.stringify([hint.sessionId, hint.primary ?? '', hint.backup ?? '', hint.primaryIncarnation ?? '', hint.version ?? 0])).toString('base64url');
    return `${PREFIX}.${body}.${this.tag(body)}`;
  }

  /** A `Set-Cookie` header value carrying the hint. */
  serialize(hint: RouteHint): string {
    return serialize(this.name, this.encode(hint), this.attributes);
  }

  /** A `Set-Cookie` header value that removes the cookie (one that did not verify, say). */
  clearing(): string {
    return serialize(this.name, '', { ...this.attributes, maxAge: 0 });
  }

  /** Verifies a cookie value: the hint, or undefined for anything forged or malformed. */
  decode(value: string): RouteHint | undefined {
    if (value.length > MAX_COOKIE_CHARS) return undefined;
    const [prefix, body, tag, extra] = value.split('.');
    if (prefix !== PREFIX || !body || !tag || extra !== undefined) return undefined;
    // Compared as text: base64url decoding ignores spare bits, so two spellings of one tag exist.
    const expected = Buffer.from(this.tag(body), 'latin1');
    const given = Buffer.from(tag, 'latin1');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    let fields: unknown;
    try {
      fields = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    // Signed by us, so well-formed unless the secret leaked; checked anyway, once, here.
    if (!Array.isArray(fields) || fields.length !== 5) return undefined;
    const [sessionId, primary, backup, incarnation, version] = fields as unknown[];
    if (!isSessionId(sessionId) || typeof primary !== 'string' || typeof backup !== 'string' || typeof incarnation !== 'string') return undefined;
    if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) return undefined;
    return { sessionId, primary: primary || undefined, backup: backup || undefined, primaryIncarnation: incarnation || undefined, version };
  }

  /** Reads the route cookie from a `Cookie` request header, counting what it finds. */
  read(cookieHeader: string | undefined): RouteCookieReading {
    const value = cookieHeader ? cookieValue(cookieHeader, this.name) : undefined;
    if (!value) return { status: 'absent' };
    const hint = this.decode(value);
    if (!hint) {
      this.stats.forged++;
      return { status: 'forged' };
    }
    this.stats.valid++;
    return { status: 'valid', hint };
  }

  private tag(body: string): string {
    return createHmac('sha256', this.key).update(PREFIX).update('.').update(body).digest().subarray(0, TAG_BYTES).toString('base64url');
  }
}

/** One cookie's value from a `Cookie` header (the `cookie` package handles quoting and decoding). */
export function cookieValue(cookieHeader: string, name: string): string | undefined {
  // Cheap test first: most requests to a node carry no cookie of ours.
  if (!cookieHeader.includes(name)) return undefined;
  return parseCookieHeader(cookieHeader)[name];
}

/** Whether a client holding `known` already has the cookie `next` would set. */
export function sameRoute(known: RouteHint | undefined, next: RouteHint): boolean {
  return (
    known !== undefined &&
    known.sessionId === next.sessionId &&
    known.primary === next.primary &&
    known.backup === next.backup &&
    known.primaryIncarnation === next.primaryIncarnation &&
    known.version === next.version
  );
}
