/**
 * Session ids: 144 random bits from the operating system's CSPRNG, URL-safe. Never a
 * predictable generator (hyperid is for process incarnations only).
 */
import { randomBytes } from 'node:crypto';
import { isSessionId, SESSION_ID } from '../wire/checks.js';

export { isSessionId, SESSION_ID };

export function newSessionId(): string {
  return randomBytes(18).toString('base64url');
}
