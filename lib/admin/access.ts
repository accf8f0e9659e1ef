/**
 * Who may use a node's admin API and page, and what they may do.
 *
 * - The cluster secret as a bearer token: the CLI and scripts on a machine that holds it;
 *   role operator.
 * - An admin user of `<Admin><User name role env|file>` (its own password, never the
 *   cluster secret): HTTP Basic, or a login cookie from `POST /login` (the admin page's
 *   form), signed with a key derived from the cluster secret, so a login on one node's
 *   page holds on every node's. `POST /logout` ends it: the cookie is cleared and the
 *   login is refused by this node from then on.
 * - With no `<User>` configured, the page's Basic login takes the cluster secret as its
 *   password, as before (the node logs a warning at start).
 *
 * Role `read` may look (GET); `operator` may also act. Passwords are compared through
 * their SHA-256 digests with timingSafeEqual: constant time whatever was sent.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { parse as parseCookieHeader, serialize } from 'cookie';
import type { AdminCredential, AdminRole } from '../config/types.js';
import { AdminForbiddenError, AdminUnauthorizedError } from '../errors.js';
import { deriveKey } from '../wire/frame.js';

export const LOGIN_COOKIE = 'castmirror.admin';
const LOGIN_LIFETIME_MS = 8 * 3600_000;
const READ_METHODS = new Set(['GET', 'HEAD']);

export interface Principal {
  readonly user: string;
  readonly role: AdminRole;
  /** token: a bearer; browser: Basic or a login cookie, which a browser sends by itself (actions need a header, see server.ts). */
  readonly via: 'token' | 'browser';
}

export interface AdminAccessOptions {
  readonly cluster: string;
  /** The cluster secret; undefined for a standalone node without one (everything is allowed). */
  readonly secret: Buffer | undefined;
  readonly users: readonly AdminCredential[];
  /** Served over HTTPS: login cookies are marked Secure, so a browser never sends them in clear. */
  readonly https?: boolean;
}

interface LoginClaims {
  readonly id: string;
  readonly user: string;
  readonly role: AdminRole;
  readonly expiresAt: number;
}

export class AdminAccess {
  private readonly secretDigest: Buffer | undefined;
  private readonly users: ReadonlyMap<string, { role: AdminRole; digest: Buffer }>;
  private readonly loginKey: Buffer;
  /** Compared against for a user name that does not exist, so the time taken does not tell. */
  private readonly unknownUserDigest = randomBytes(32);
  /** Logins ended here (by id), until they would have expired anyway. */
  private readonly loggedOut = new Map<string, number>();

  private readonly cookieOptions: { httpOnly: true; sameSite: 'strict'; path: '/'; secure: boolean };

  constructor(options: AdminAccessOptions) {
    this.cookieOptions = { httpOnly: true, sameSite: 'strict', path: '/', secure: options.https ?? false };
    this.secretDigest = options.secret ? digest(options.secret) : undefined;
    this.users = new Map(options.users.map((u) => [u.name, { role: u.role, digest: digest(u.password) }]));
    this.loginKey = options.secret ? deriveKey(options.secret, options.cluster, 'admin-login') : randomBytes(32);
  }

  /** Whether the page logs in with the form (users configured) or the browser's Basic prompt (the cluster secret). */
  get usesLogins(): boolean {
    return this.users.size > 0;
  }

  /** Whether anything is checked at all (a standalone node without a secret or users checks nothing). */
  get open(): boolean {
    return !this.secretDigest && this.users.size === 0;
  }

  /** Who sent the request; throws AdminUnauthorizedError. */
  authenticate(req: IncomingMessage): Principal {
    if (this.open) return { user: 'anyone', role: 'operator', via: 'token' };
    const header = req.headers.authorization ?? '';
    const bearer = /^Bearer (.+)$/i.exec(header);
    if (bearer) {
      if (this.secretDigest && sameDigest(Buffer.from(bearer[1]!.trim(), 'utf8'), this.secretDigest)) return { user: 'cluster-secret', role: 'operator', via: 'token' };
      throw new AdminUnauthorizedError('wrong bearer token: the cluster secret, as the CLI sends it');
    }
    const basic = /^Basic (.+)$/i.exec(header);
    if (basic) {
      const decoded = Buffer.from(basic[1]!.trim(), 'base64').toString('utf8');
      const at = decoded.indexOf(':');
      const principal = this.check(decoded.slice(0, Math.max(0, at)), decoded.slice(at + 1));
      if (principal) return principal;
      throw new AdminUnauthorizedError(this.usesLogins ? 'wrong user name or password' : 'wrong password: the cluster secret (any user name)');
    }
    const login = this.verifyLogin(req.headers.cookie);
    if (login) return { user: login.user, role: login.role, via: 'browser' };
    throw new AdminUnauthorizedError(this.usesLogins ? 'log in first (POST /login, or HTTP Basic with an admin user)' : 'missing credentials: the cluster secret as a bearer token, or as the password (any user name)');
  }

  /** Refuses what the principal's role may not do. */
  authorize(principal: Principal, method: string): void {
    if (principal.role === 'read' && !READ_METHODS.has(method)) {
      throw new AdminForbiddenError(`admin user ${principal.user} has role read: it may look, not act`);
    }
  }

  /** Checks a user and password; the `Set-Cookie` value of a new login, or undefined. */
  login(user: string, password: string): { principal: Principal; setCookie: string } | undefined {
    if (!this.usesLogins) return undefined;
    const principal = this.check(user, password);
    if (!principal) return undefined;
    const claims: LoginClaims = { id: randomBytes(12).toString('base64url'), user: principal.user, role: principal.role, expiresAt: Date.now() + LOGIN_LIFETIME_MS };
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const value = `${payload}.${this.mac(payload)}`;
    return { principal, setCookie: serialize(LOGIN_COOKIE, value, { ...this.cookieOptions, maxAge: LOGIN_LIFETIME_MS / 1000 }) };
  }

  /** Ends the login the request carries (if any); the `Set-Cookie` value that clears it. */
  logout(req: IncomingMessage): string {
    const login = this.verifyLogin(req.headers.cookie);
    if (login) {
      this.loggedOut.set(login.id, login.expiresAt);
      const now = Date.now();
      for (const [id, expiresAt] of this.loggedOut) if (expiresAt <= now) this.loggedOut.delete(id);
    }
    return serialize(LOGIN_COOKIE, '', { ...this.cookieOptions, maxAge: 0 });
  }

  private check(user: string, password: string): Principal | undefined {
    const given = Buffer.from(password, 'utf8');
    if (!this.usesLogins) return this.secretDigest && sameDigest(given, this.secretDigest) ? { user: user || 'admin', role: 'operator', via: 'browser' } : undefined;
    const known = this.users.get(user);
    const matches = sameDigest(given, known?.digest ?? this.unknownUserDigest);
    return known && matches ? { user, role: known.role, via: 'browser' } : undefined;
  }

  private verifyLogin(cookieHeader: string | undefined): LoginClaims | undefined {
    if (!this.usesLogins || !cookieHeader?.includes(LOGIN_COOKIE)) return undefined;
    const value = parseCookieHeader(cookieHeader)[LOGIN_COOKIE];
    const dot = value?.lastIndexOf('.') ?? -1;
    if (!value || dot < 0) return undefined;
    const payload = value.slice(0, dot);
    const mac = Buffer.from(value.slice(dot + 1), 'utf8');
    const expected = Buffer.from(this.mac(payload), 'utf8');
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return undefined;
    let claims: LoginClaims;
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as LoginClaims;
    } catch {
      return undefined;
    }
    if (typeof claims.expiresAt !== 'number' || claims.expiresAt <= Date.now() || this.loggedOut.has(claims.id)) return undefined;
    // A user removed from the config, or whose role changed, no longer logs in with an old cookie.
    if (this.users.get(claims.user)?.role !== claims.role) return undefined;
    return claims;
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.loginKey).update(payload).digest('base64url');
  }
}

function digest(value: Buffer): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Digests have equal length, so the comparison is constant-time whatever was sent. */
function sameDigest(given: Buffer, expectedDigest: Buffer): boolean {
  return timingSafeEqual(digest(given), expectedDigest);
}
