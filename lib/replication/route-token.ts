/**
 * The route token: a RouteHint, authenticated with an HMAC under a key derived from the
 * cluster secret and the cluster name, so that a client can carry it (in the route cookie)
 * but cannot steer a node or the proxy with it: a forged or altered token fails the tag
 * and is treated as absent, and counted.
 *
 * Value: `v1.<base64url JSON array>.<base64url 16-byte HMAC-SHA256 tag>`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { isSessionId } from '../session/id.js';
import { deriveKey } from '../wire/frame.js';
import type { RouteHint } from './route-hint.js';

const PREFIX = 'v1';
const TAG_BYTES = 16;
/** Node names and incarnations are short; a value beyond this is not ours. */
const MAX_TOKEN_CHARS = 512;
/** Tokens verified recently, kept so that a client's next request costs a lookup, not an HMAC. */
const VERIFIED_TOKENS = 10_000;

export interface RouteTokenStats {
  readonly valid: number;
  readonly forged: number;
}

export class RouteToken {
  private readonly key: Buffer;
  /** Only tokens whose tag verified: a hit is the same text, so the same verified hint. */
  private readonly verified = new LRUCache<string, RouteHint>({ max: VERIFIED_TOKENS });
  #valid = 0;
  #forged = 0;

  constructor(secret: Buffer, cluster: string) {
    this.key = deriveKey(secret, cluster, 'route-cookie');
  }

  /** Tokens verified (`valid`) and refused as forged or malformed (`forged`), by `verify`. */
  get stats(): RouteTokenStats {
    return { valid: this.#valid, forged: this.#forged };
  }

  /** The signed token for a hint. */
  encode(hint: RouteHint): string {
    const body = Buffer.from(JSON.stringify([hint.sessionId, hint.primary ?? '', hint.backup ?? '', hint.primaryIncarnation ?? '', hint.version ?? 0])).toString('base64url');
    return `${PREFIX}.${body}.${this.tag(body)}`;
  }

  /** The hint a token carries, or undefined for anything forged or malformed (not counted). */
  decode(value: string): RouteHint | undefined {
    const known = this.verified.get(value);
    if (known) return known;
    const hint = this.check(value);
    if (hint) this.verified.set(value, hint);
    return hint;
  }

  private check(value: string): RouteHint | undefined {
    if (value.length > MAX_TOKEN_CHARS) return undefined;
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

  /** Like `decode`, counting what it finds: a token a client sent. */
  verify(value: string): RouteHint | undefined {
    const hint = this.decode(value);
    if (hint) this.#valid++;
    else this.#forged++;
    return hint;
  }

  private tag(body: string): string {
    return createHmac('sha256', this.key).update(PREFIX).update('.').update(body).digest().subarray(0, TAG_BYTES).toString('base64url');
  }
}
