/**
 * ApplicationRegistry: this node's view of every application's state (enabled, disabled,
 * or draining: a graceful disable). States start from `<Applications>` in server.xml
 * (version 0), then from the node's state file, then from what peers announce; a change
 * made anywhere gets a higher version, and the highest (version, origin) wins everywhere.
 *
 * Every change is written to the state file (next to the config, atomically: a temporary
 * file renamed over the old one), so the states survive a restart of every node.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ApplicationEntry } from '../config/types.js';
import { InvalidArgumentError } from '../errors.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { APP_STATES, type AppRecord, type AppState } from '../wire/messages.js';

/** `.castmirror/apps.<node>.json` beside server.xml, when the config came from a file (else undefined: memory only). */
export function defaultStateFile(configFile: string, node: string): string | undefined {
  const file = path.resolve(configFile);
  return existsSync(file) ? path.join(path.dirname(file), '.castmirror', `apps.${node}.json`) : undefined;
}

export interface ApplicationRegistryOptions {
  readonly self: string;
  readonly initial: readonly ApplicationEntry[];
  /** Where states are persisted; absent: memory only. */
  readonly stateFile?: string | undefined;
  readonly logger?: Logger | undefined;
}

export interface ApplicationEventMap {
  /** A state this node now holds, whether changed here or learnt from a peer. */
  changed: [record: AppRecord, previous: AppRecord | undefined];
}

export class ApplicationRegistry extends EventEmitter<ApplicationEventMap> {
  private readonly records = new Map<string, AppRecord>();
  private readonly logger: Logger;

  constructor(private readonly options: ApplicationRegistryOptions) {
    super();
    this.logger = options.logger ?? silentLogger;
    for (const app of options.initial) this.records.set(app.name, { name: app.name, state: app.enabled ? 'enabled' : 'disabled', version: 0, origin: options.self });
    if (options.stateFile) this.merge(this.readStateFile(options.stateFile), false);
  }

  /** Applications a reloaded server.xml lists for the first time (version 0, like the others). */
  declare(entries: readonly ApplicationEntry[]): void {
    for (const app of entries) {
      if (!this.records.has(app.name)) this.records.set(app.name, { name: app.name, state: app.enabled ? 'enabled' : 'disabled', version: 0, origin: this.options.self });
    }
  }

  get(name: string): AppRecord | undefined {
    return this.records.get(name);
  }

  list(): AppRecord[] {
    return [...this.records.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** A change made on this node: the next version, with this node as origin. */
  change(name: string, state: AppState): AppRecord {
    if (!APP_STATES.includes(state)) throw new InvalidArgumentError(`application state must be one of ${APP_STATES.join(', ')}`);
    const current = this.records.get(name);
    if (!current) throw new InvalidArgumentError(`no application "${name}" (known: ${[...this.records.keys()].join(', ') || 'none'}); applications are listed in <Applications>`);
    const record: AppRecord = { name, state, version: current.version + 1, origin: this.options.self };
    this.merge([record]);
    return record;
  }

  /** Takes every record that beats the one held; returns those taken. */
  merge(records: readonly AppRecord[], persist = true): AppRecord[] {
    const taken: AppRecord[] = [];
    for (const record of records) {
      const current = this.records.get(record.name);
      // Applications come from server.xml: a name this node does not list is not ours to add.
      if (!current || !beats(record, current)) continue;
      this.records.set(record.name, record);
      taken.push(record);
      this.emit('changed', record, current);
    }
    if (taken.length > 0 && persist && this.options.stateFile) this.writeStateFile(this.options.stateFile);
    return taken;
  }

  private readStateFile(file: string): AppRecord[] {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return [];
    }
    try {
      const parsed = JSON.parse(text) as { apps?: unknown };
      const apps = Array.isArray(parsed.apps) ? parsed.apps : [];
      return apps.filter(
        (a): a is AppRecord =>
          typeof a === 'object' && a !== null && typeof a.name === 'string' && APP_STATES.includes(a.state) && Number.isSafeInteger(a.version) && a.version >= 0 && typeof a.origin === 'string',
      );
    } catch (error) {
      this.logger.warn({ err: error, file }, 'ignoring an unreadable application state file');
      return [];
    }
  }

  private writeStateFile(file: string): void {
    try {
      mkdirSync(path.dirname(file), { recursive: true });
      const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
      writeFileSync(temporary, `${JSON.stringify({ apps: this.list() }, null, 2)}\n`);
      renameSync(temporary, file);
    } catch (error) {
      this.logger.error({ err: error, file }, 'could not persist application states');
    }
  }
}

/** Version 0 is each node's own server.xml: only a run-time change (version 1 and up) travels. */
function beats(a: AppRecord, b: AppRecord): boolean {
  return a.version > b.version || (a.version === b.version && a.version > 0 && a.origin > b.origin);
}
