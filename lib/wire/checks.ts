/**
 * Shape-check primitives for what arrives from other nodes (datagrams and replication
 * frames): one definition each, used by every decoder. Cheap, allocation-free tests.
 */

/** Node names and incarnations on the wire (config names are 1-64 characters). */
export const MAX_NAME_LENGTH = 64;

/** Session ids: 22-64 characters of the URL-safe base64 alphabet. */
export const SESSION_ID = /^[A-Za-z0-9_-]{22,64}$/;

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isName(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_NAME_LENGTH;
}

export function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

export function isPort(value: unknown): value is number {
  return isCount(value) && value <= 65535;
}

export function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && SESSION_ID.test(value);
}
