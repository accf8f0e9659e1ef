/** What a node logs and publishes (node:diagnostics_channel) as its members and its applications' states change. */
import type { ApplicationRegistry } from '../apps/registry.js';
import { publish } from '../diagnostics.js';
import type { Member, Membership } from '../membership/membership.js';
import type { Logger } from '../util/logger.js';

export function logMembership(membership: Membership, node: string, logger: Logger): void {
  for (const event of ['joined', 'suspect', 'alive', 'dead', 'left', 'restarted'] as const) {
    membership.on(event, (m: Member) => publish('member', () => ({ node, member: m.name, incarnation: m.incarnation, event })));
  }
  membership.on('joined', (m) => logger.info({ member: m.name, incarnation: m.incarnation }, 'member joined'));
  membership.on('suspect', (m) => logger.warn({ member: m.name }, 'member suspected'));
  membership.on('alive', (m) => logger.info({ member: m.name }, 'member alive again'));
  membership.on('left', (m) => logger.info({ member: m.name }, 'member left'));
  membership.on('restarted', (m, previous) => logger.warn({ member: m.name, incarnation: m.incarnation, previous: previous.incarnation }, 'member restarted'));
}

export function logApplications(apps: ApplicationRegistry, node: string, logger: Logger): void {
  apps.on('changed', (record) => {
    logger.info({ app: record.name, state: record.state, version: record.version, origin: record.origin }, 'application state');
    publish('app', () => ({ node, app: record.name, state: record.state, version: record.version, origin: record.origin }));
  });
}
