/**
 * startNode: the in-process entry point. Reads server.xml (or takes a loaded config),
 * resolves this node's view and starts it.
 */
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { InvalidArgumentError } from '../errors.js';
import { resolveNodeConfig } from '../config/resolve.js';
import type { Probe } from '../membership/probe.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { CacheNode, type RouteCookieAttributes } from './cache-node.js';
import type { ReferenceRegistry } from '../session/reference.js';

export interface StartNodeOptions {
  /** Path of server.xml; or pass `config` already loaded. */
  readonly configPath?: string;
  readonly config?: LoadedConfig;
  /** A name listed in <ClusterNodes>. */
  readonly nodeName: string;
  /** A pino-compatible logger; silent by default. */
  readonly logger?: Logger;
  /** Serve the admin API on the node's adminPort (default true). */
  readonly admin?: boolean;
  /** Where `<Secret env=...>` is looked up; defaults to process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Fault injection for tests and drills: drop every Nth received datagram. */
  readonly faults?: { readonly dropEveryNthDatagram?: number };
  /** Replaces the TCP liveness probe (tests). */
  readonly probe?: Probe;
  /** Logical reference kinds for session values; every node must define the same ones. */
  readonly references?: ReferenceRegistry<any>;
  /** Passed to each reference's `fromRef` (a database handle, say). */
  readonly referenceContext?: unknown;
  /** Name and attributes of the route cookie. */
  readonly routeCookie?: RouteCookieAttributes;
  /** Where application states are persisted (default: beside server.xml); `false`: memory only. */
  readonly stateFile?: string | false;
}

export async function startNode(options: StartNodeOptions): Promise<CacheNode> {
  let loaded = options.config;
  if (!loaded) {
    if (!options.configPath) throw new InvalidArgumentError('startNode needs configPath or config');
    loaded = await loadConfig(options.configPath, options.env ? { env: options.env } : {});
  }
  const logger = options.logger ?? silentLogger;
  for (const warning of loaded.warnings) logger.warn({}, warning);
  return CacheNode.start({
    config: resolveNodeConfig(loaded.config, options.nodeName),
    secret: loaded.secret,
    logger,
    ...(options.admin === undefined ? {} : { admin: options.admin }),
    ...(options.faults ? { faults: options.faults } : {}),
    ...(options.probe ? { probe: options.probe } : {}),
    ...(options.references ? { references: options.references } : {}),
    referenceContext: options.referenceContext,
    ...(options.routeCookie ? { routeCookie: options.routeCookie } : {}),
    ...(options.stateFile !== undefined ? { stateFile: options.stateFile } : {}),
  });
}
