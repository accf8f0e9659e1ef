/**
 * Application states kept in the shared store too (`<Store>`), so that a node that starts
 * with no state file (a new machine, an empty disk, a container) learns them: every change
 * this node holds is written to one hash, `PREFIX:CLUSTER:apps` (one JSON record per
 * application), and each time the store connects the hash is read and merged, the highest
 * (version, origin) winning as everywhere. A write the store did not take is made again at
 * the next connection, with the states held then.
 */
import type { StoreSettings } from '../config/types.js';
import type { RedisClient } from '../transport/redis.js';
import type { Logger } from '../util/logger.js';
import { APP_STATES, type AppRecord } from '../wire/messages.js';
import type { ApplicationRegistry } from './registry.js';

function parseRecord(text: string): AppRecord | undefined {
  try {
    const a = JSON.parse(text) as AppRecord;
    return typeof a.name === 'string' && APP_STATES.includes(a.state) && Number.isSafeInteger(a.version) && a.version >= 0 && typeof a.origin === 'string' ? a : undefined;
  } catch {
    return undefined;
  }
}

export class SharedApplicationStates {
  private readonly key: string;
  private unsaved = false;

  /** Keeps `apps` in the store from now on (the registry and the client live on; nothing to close). */
  static attach(client: RedisClient, settings: StoreSettings, cluster: string, apps: ApplicationRegistry, logger: Logger): SharedApplicationStates {
    return new SharedApplicationStates(client, settings, cluster, apps, logger);
  }

  private constructor(
    private readonly client: RedisClient,
    settings: StoreSettings,
    cluster: string,
    private readonly apps: ApplicationRegistry,
    private readonly logger: Logger,
  ) {
    this.key = `${settings.keyPrefix}:${cluster}:apps`;
    apps.on('changed', (record) => {
      if (record.version > 0) void this.save([record]);
    });
    client.on('ready', () => void this.sync());
    if (client.status === 'ready') void this.sync();
  }

  /** Reads the store's states into the registry, then writes what the store missed. */
  async sync(): Promise<void> {
    try {
      const stored = Object.values(await this.client.hgetall(this.key)).map(parseRecord).filter((r): r is AppRecord => r !== undefined);
      const taken = this.apps.merge(stored);
      if (taken.length > 0) this.logger.info({ apps: taken.map((r) => r.name) }, 'application states learnt from the store');
    } catch (error) {
      this.logger.warn({ err: error }, 'could not read application states from the store');
      return;
    }
    if (this.unsaved) await this.save(this.apps.list().filter((r) => r.version > 0));
  }

  private async save(records: readonly AppRecord[]): Promise<void> {
    if (records.length === 0) return;
    try {
      await this.client.hset(this.key, Object.fromEntries(records.map((r) => [r.name, JSON.stringify(r)])));
      this.unsaved = false;
    } catch {
      this.unsaved = true; // written again when the store is back
    }
  }
}
