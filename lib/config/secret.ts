/**
 * Finds the cluster secret: the environment variable first, then the file, then (with a
 * warning) inline text. The secret keys every HMAC on the wire, so a short one is refused.
 */
import { readFileSync, statSync } from 'node:fs';
import type { ResolvedSecret, SecretSettings } from './types.js';

export const MIN_SECRET_LENGTH = 16;

export type SecretLookup = { ok: true; secret: ResolvedSecret; warnings: string[] } | { ok: false; problem: string };

/** `what`: what the secret is, for messages ("cluster secret", "password of admin user ops"). */
export function resolveSecret(settings: SecretSettings, env: NodeJS.ProcessEnv, what = 'cluster secret'): SecretLookup {
  const warnings: string[] = [];
  const tried: string[] = [];
  let found: ResolvedSecret | undefined;

  const fromEnv = settings.env === undefined ? undefined : env[settings.env];
  if (settings.env !== undefined) tried.push(`environment variable ${settings.env} is unset`);
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    found = { source: 'env', value: Buffer.from(fromEnv.trim(), 'utf8') };
  } else if (settings.file !== undefined) {
    try {
      const text = readFileSync(settings.file, 'utf8').trim();
      if (text === '') {
        tried.push(`file ${settings.file} is empty`);
      } else {
        found = { source: 'file', value: Buffer.from(text, 'utf8') };
        // Group- or world-readable: anyone who can read it can join the cluster.
        if (process.platform !== 'win32' && (statSync(settings.file).mode & 0o077) !== 0) {
          warnings.push(`${what} file ${settings.file} is readable by other users; chmod 600 it`);
        }
      }
    } catch (error) {
      tried.push(`file ${settings.file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  if (!found && settings.inline !== undefined) {
    found = { source: 'inline', value: Buffer.from(settings.inline, 'utf8') };
    warnings.push(`the ${what} is written inline in the config file; prefer env= or file=`);
  }
  if (!found) return { ok: false, problem: `no ${what}: ${tried.join(', ') || 'no source given'}` };
  if (found.value.length < MIN_SECRET_LENGTH) {
    return { ok: false, problem: `the ${what} from ${found.source} is ${found.value.length} bytes; at least ${MIN_SECRET_LENGTH} are required` };
  }
  return { ok: true, secret: found, warnings };
}
