/**
 * Session ids: 144 random bits from the operating system's CSPRNG, URL-safe. Never a
 * predictable generator (hyperid is for process incarnations only).
 */
import { randomBytes } from 'node:crypto';

export const SESSION_ID = /^[A-Za-z0-9_-]{22,64}$/;

export function newSessionId(): string {
  return randomBytes(18).toString('base64url');
}

export function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && SESSION_ID.test(value);
}
