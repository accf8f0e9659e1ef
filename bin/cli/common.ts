/**
 * What every CLI verb shares: argument parsing with --help, exit codes, output in text or
 * JSON, and finding a node's admin API from the config.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AdminClient, adminEndpoint } from '../../lib/admin/client.js';
import type { LoadedConfig } from '../../lib/config/load.js';
import { isMemberAddress, localMemberAddress, withMember } from '../../lib/config/dns-members.js';
import { closest } from '../../lib/util/suggest.js';
import { AdminRequestError, AdminUnreachableError, CastmirrorError, ConfigError, ConfigReadError, UnknownNodeError } from '../../lib/errors.js';

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** Wrong arguments: exit 2 with the verb's usage. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const stdio: Io = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};

export interface Verb {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  run(argv: string[], io: Io): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

export const CONFIG_OPTIONS = {
  config: { type: 'string', short: 'c' },
  node: { type: 'string', short: 'n' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

export function parse<O extends Options>(argv: string[], options: O): Parsed<O> {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(argumentProblem(error as Error & { code?: string }, argv, options));
  }
}

/** parseArgs' error in our words: an unknown option gets the closest known one. */
function argumentProblem(error: Error & { code?: string }, argv: readonly string[], options: Options): string {
  if (error.code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return error.message;
  const given = argv.find((a) => a.startsWith('-') && !isKnownOption(a, options)) ?? '';
  const name = given.replace(/^--?/, '').split('=')[0]!;
  const best = closest(name, Object.keys(options));
  return `unknown option ${given}${best ? ` (did you mean --${best}?)` : ''}`;
}

function isKnownOption(arg: string, options: Options): boolean {
  if (arg === '--' || arg === '-') return true;
  if (arg.startsWith('--')) return arg.slice(2).split('=')[0]! in options;
  return Object.values(options).some((o) => o.short === arg.slice(1, 2));
}

export function requireConfigPath(value: string | undefined): string {
  const path = value ?? process.env.CASTMIRROR_CONFIG;
  if (!path) throw new UsageError('--config F is required (or set CASTMIRROR_CONFIG)');
  return path;
}


/**
 * The node a command runs: `--node`, or with dns discovery (where a node is named by its
 * address) this machine's address that the name holds, else its first external IPv4 one.
 */
export function nodeNameFor(loaded: LoadedConfig, given: string | undefined): string {
  if (given) return given;
  if (loaded.config.discovery.type !== 'dns') throw new UsageError('--node N is required');
  const address = localMemberAddress(loaded.config.nodes.map((n) => n.name));
  if (!address) throw new UsageError('no IPv4 address found on this machine to name the node: give --node ADDRESS');
  return address;
}

/** Admin clients for the named node, or for every node in config order when none is named. */
export function adminClients(loaded: LoadedConfig, nodeName: string | undefined): { node: string; client: AdminClient }[] {
  const { secret } = loaded;
  // With dns discovery a node not yet (or no longer) in the answer is still reachable by its address.
  const named = nodeName !== undefined && loaded.config.discovery.type === 'dns' && isMemberAddress(nodeName);
  const config = named ? withMember(loaded.config, nodeName) : loaded.config;
  const nodes = nodeName === undefined ? config.nodes : config.nodes.filter((n) => n.name === nodeName);
  if (nodes.length === 0) throw new UnknownNodeError(nodeName ?? '', config.nodes.map((n) => n.name));
  return nodes.map((n) => ({ node: n.name, client: new AdminClient({ ...adminEndpoint(config, n), secret: secret?.value }) }));
}

/** Calls the first node that answers (the named one only, when --node is given). */
export async function withFirstReachable<T>(
  loaded: LoadedConfig,
  nodeName: string | undefined,
  call: (client: AdminClient, node: string) => Promise<T>,
): Promise<{ node: string; result: T }> {
  const tried: { node: string; error: AdminUnreachableError }[] = [];
  for (const { node, client } of adminClients(loaded, nodeName)) {
    try {
      return { node, result: await call(client, node) };
    } catch (error) {
      if (!(error instanceof AdminUnreachableError)) throw error;
      tried.push({ node, error });
    }
  }
  throw tried.length === 1 ? tried[0]!.error : AdminUnreachableError.ofAll(tried);
}

/** Maps an error to an exit code and prints it. */
export function reportError(error: unknown, io: Io, usage?: string): number {
  if (error instanceof UsageError) {
    io.err(`castmirror: ${error.message}`);
    if (usage) io.err(usage);
    return EXIT.usage;
  }
  if (error instanceof ConfigError) {
    for (const line of error.message.split('\n')) io.err(line);
    return EXIT.usage;
  }
  if (error instanceof ConfigReadError || error instanceof UnknownNodeError) {
    io.err(`castmirror: ${error.message}`);
    return EXIT.usage;
  }
  if (error instanceof AdminRequestError) {
    // The node's own error code, not the wrapper's: that is what the README's catalogue explains.
    io.err(`castmirror: ${error.message} [${error.remoteCode ?? error.code}]`);
    return EXIT.failure;
  }
  if (error instanceof CastmirrorError) {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
    io.err(`castmirror: ${error.message}${cause} [${error.code}]`);
    return EXIT.failure;
  }
  io.err(`castmirror: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  return EXIT.failure;
}

/** Left-aligned columns for terminal tables. */
export function table(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

export function printJson(io: Io, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}
