/**
 * Reading a config file from disk: parse, validate, and (for a clustered config) check
 * that the secret can be found. Throws ConfigError with every diagnostic at once.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError, ConfigReadError } from '../errors.js';
import { lookupMembers, withMembers } from './dns-members.js';
import { parseClusterConfig } from './parse.js';
import type { AdminCredential, ClusterConfig, ResolvedSecret } from './types.js';

export interface LoadedConfig {
  readonly config: ClusterConfig;
  /** Undefined for a standalone (`<Cluster>0</Cluster>`) config without a <Secret>. */
  readonly secret: ResolvedSecret | undefined;
  /** `<Admin><User>` logins with their passwords (never printed). */
  readonly adminCredentials: readonly AdminCredential[];
  /** Things worth a log line that do not stop a node (inline secret, loose file mode). */
  readonly warnings: readonly string[];
}

export interface LoadOptions {
  /** Where `<Secret env=...>` is looked up; defaults to process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Check everything but do not look the secret up (`castmirror validate --skip-secret`). */
  readonly skipSecretLookup?: boolean;
}

export async function loadConfig(file: string, options: LoadOptions = {}): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigReadError(file, { cause: error });
  }
  const loaded = parseConfigText(text, file, options);
  const { discovery } = loaded.config;
  if (discovery.type !== 'dns') return loaded;
  // The node list of a dns discovery is the name's answer now (nodes add themselves: lib/start.ts).
  try {
    return { ...loaded, config: withMembers(loaded.config, await lookupMembers(discovery)) };
  } catch (error) {
    return { ...loaded, warnings: [...loaded.warnings, `DNS lookup of ${discovery.name} failed (${(error as Error).message}): no other member known yet`] };
  }
}

export function parseConfigText(text: string, file: string, options: LoadOptions = {}): LoadedConfig {
  const { config, secret, adminCredentials, diagnostics, warnings } = parseClusterConfig(text, file, { ...(options.env ? { env: options.env } : {}), skipSecretLookup: options.skipSecretLookup ?? false });
  if (!config) throw new ConfigError(diagnostics);
  return { config, secret, adminCredentials, warnings };
}
