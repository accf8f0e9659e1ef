/**
 * What the long-running verbs (start, demo, proxy) share: a JSON logger on stdout, and
 * running until SIGINT or SIGTERM (or the supervisor's IPC channel closes), then closing
 * gracefully (a second signal exits at once).
 */
import { pino } from 'pino';
import type { Logger } from '../../lib/util/logger.js';
import { EXIT, UsageError } from './common.js';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export const LOG_LEVEL_OPTION = { 'log-level': { type: 'string' } } as const;

export function foregroundLogger(level: string | undefined, base: Record<string, unknown>): Logger {
  const chosen = level ?? process.env.CASTMIRROR_LOG_LEVEL ?? 'info';
  if (!LEVELS.includes(chosen)) throw new UsageError(`--log-level must be one of ${LEVELS.join(', ')}`);
  return pino({ level: chosen, base: { ...base, pid: process.pid } });
}

/**
 * Resolves with the exit code once a signal has run `close`, or once `closedElsewhere`
 * resolves (a drain request through the admin API, say), after running `close` too.
 */
export function runUntilSignal(close: () => Promise<void>, logger: Logger, closedElsewhere?: Promise<void>): Promise<number> {
  return new Promise<number>((resolve) => {
    void closedElsewhere?.then(() => {
      logger.info({}, 'closed (drained); exiting');
      close().then(
        () => resolve(EXIT.ok),
        () => resolve(EXIT.failure),
      );
    });
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting at once');
        process.exit(EXIT.failure);
      }
      stopping = true;
      logger.info({ signal }, 'stopping');
      close().then(
        () => resolve(EXIT.ok),
        (error: unknown) => {
          logger.error({ err: error }, 'error while stopping');
          resolve(EXIT.failure);
        },
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    // Started by a supervisor (bin/cli/supervisor.ts): when it goes, even killed, so do we.
    if (process.channel) {
      process.channel.unref();
      process.once('disconnect', () => stop('supervisor gone'));
    }
  });
}

/** SIGHUP re-reads the config: `reload` runs, and what it reports (or its error) is logged. */
export function reloadOnSighup(reload: () => Promise<unknown>, logger: Logger): void {
  process.on('SIGHUP', () => {
    reload().then(
      (report) => logger.info({ report }, 'SIGHUP: config reloaded'),
      (error: unknown) => logger.error({ err: error }, 'SIGHUP: config not reloaded'),
    );
  });
}
