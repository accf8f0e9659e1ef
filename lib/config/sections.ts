/**
 * One section of server.xml -> its typed settings: each reader checks its element's
 * attributes and text (ranges, patterns, enums), reports what is wrong at its position, and
 * returns only what was given (defaults are applied by the caller). Rules that span
 * sections live in parse.ts.
 */
import path from 'node:path';
import { isIPv4 } from 'node:net';
import type { ElementReader } from './xml-reader.js';
import {
  ADMIN_ROLES,
  COOKIE_NAME_PATTERN,
  DEFAULTS,
  NAME_PATTERN,
  NO_BACKUP_POLICIES,
  REHOME_POLICIES,
  REPLICATION_MODES,
  type AdminSettings,
  type AdminUserSettings,
  type ApplicationEntry,
  type CacheSettings,
  type HeartbeatSettings,
  type MessagingSettings,
  type ProxySettings,
  type ReplicationSettings,
  type SecretSettings,
  type SessionSettings,
} from './types.js';

export const PORT = { min: 1, max: 65535 };
export const NAME = NAME_PATTERN;
export const NAME_WHAT = 'a name of 1-64 letters, digits, ".", "_" or "-"';
export const HOST = /^[A-Za-z0-9.:-]{1,253}$/;

export function readMulticastAddress(element: ElementReader | undefined): string | undefined {
  const text = element?.text({ required: true });
  if (!element || text === undefined) return undefined;
  const octets = text.split('.').map(Number);
  const isDottedQuad = isIPv4(text) && octets.length === 4;
  // Class D is 224.0.0.0/4; 224.0.0.0 itself is reserved.
  if (!isDottedQuad || octets[0]! < 224 || octets[0]! > 239 || text === '224.0.0.0') {
    element.error(`<MulticastAddress> must be a class D IPv4 address (224.0.0.1-239.255.255.255), not "${text}"`);
    return undefined;
  }
  return text;
}

export function readInterface(element: ElementReader | undefined): string | undefined {
  const text = element?.text({ required: true });
  if (!element || text === undefined) return undefined;
  if (!isIPv4(text)) {
    element.error(`<MulticastInterface> must be the IPv4 address of a local interface, not "${text}"`);
    return undefined;
  }
  return text;
}

export function readSecret(element: ElementReader | undefined, file: string): SecretSettings | undefined {
  if (!element) return undefined;
  const env = element.stringAttribute('env', { pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, what: 'an environment variable name' });
  const secretFile = element.stringAttribute('file');
  const inline = element.text();
  element.reportUnknown();
  if (env === undefined && secretFile === undefined && inline === undefined) {
    element.error('<Secret> needs an env="VAR" or file="path" attribute (or, discouraged, the secret as its text)');
  }
  return {
    env,
    file: secretFile === undefined ? undefined : path.resolve(path.dirname(path.resolve(file)), secretFile),
    inline,
  };
}

export function readHeartbeat(element: ElementReader | undefined): Partial<HeartbeatSettings> {
  if (!element) return {};
  const result = defined({
    intervalMs: element.intAttribute('intervalMs', { min: 10, max: 60_000 }),
    deadAfterMs: element.intAttribute('deadAfterMs', { min: 30, max: 600_000 }),
  });
  element.reportUnknown();
  return result;
}

export function checkHeartbeat(heartbeat: HeartbeatSettings, at: ElementReader, node?: string): void {
  // A member is suspected after two missed heartbeats; it must have the chance before it is dead.
  if (heartbeat.deadAfterMs < 3 * heartbeat.intervalMs) {
    const scope = node ? ` for node ${node}` : '';
    at.error(`deadAfterMs (${heartbeat.deadAfterMs}) must be at least 3 x intervalMs (${heartbeat.intervalMs})${scope}`);
  }
}

function onOff(value: 'on' | 'off' | undefined): boolean | undefined {
  return value === undefined ? undefined : value === 'on';
}

export function readMessaging(element: ElementReader | undefined): Partial<MessagingSettings> {
  if (!element) return {};
  const result = defined({
    maxDatagramBytes: element.intAttribute('maxDatagramBytes', { min: 1024, max: 65_000 }),
    coalesceMs: element.intAttribute('coalesceMs', { min: 0, max: 100 }),
    recvBufferBytes: element.intAttribute('recvBufferBytes', { min: 65_536, max: 256 * 1024 * 1024 }),
    receiveQueueLimit: element.intAttribute('receiveQueueLimit', { min: 100, max: 1_000_000 }),
    retransmit: onOff(element.enumAttribute('retransmit', ['on', 'off'])),
  });
  element.reportUnknown();
  return result;
}

export function readReplication(element: ElementReader | undefined): Partial<ReplicationSettings> {
  if (!element) return {};
  const result = defined({
    mode: element.enumAttribute('mode', REPLICATION_MODES),
    batchSize: element.intAttribute('batchSize', { min: 1, max: 100_000 }),
    batchIntervalMs: element.intAttribute('batchIntervalMs', { min: 1, max: 60_000 }),
    rehome: element.enumAttribute('rehome', REHOME_POLICIES),
    noBackup: element.enumAttribute('noBackup', NO_BACKUP_POLICIES),
  });
  element.reportUnknown();
  return result;
}

export function readSessions(element: ElementReader | undefined): Partial<SessionSettings> {
  if (!element) return {};
  const result = defined({
    timeoutSeconds: element.intAttribute('timeoutSeconds', { min: 1, max: 30 * 24 * 3600 }),
    cookie: element.stringAttribute('cookie', { pattern: COOKIE_NAME_PATTERN, what: 'a cookie name (1-64 characters, an RFC 6265 token)' }),
  });
  element.reportUnknown();
  return result;
}

/** `<Sessions>` inside `<NodeSetting>`: the cookie name is cluster-wide (the proxy reads one). */
export function readNodeSessions(element: ElementReader | undefined): Partial<SessionSettings> {
  const perNodeCookie = element?.attribute('cookie');
  if (perNodeCookie) element!.error('cookie on <Sessions> cannot be set per node in <NodeSetting>: the proxy and every node read one route cookie', perNodeCookie.position);
  const { cookie: _cluster, ...perNode } = readSessions(element);
  return perNode;
}

export function readAdmin(element: ElementReader | undefined): Partial<AdminSettings> {
  if (!element) return {};
  const result = defined({ host: element.stringAttribute('host', { pattern: HOST, what: 'a host name or IP address' }) });
  element.reportUnknown();
  return result;
}

/** `<User>` children of the top-level `<Admin>` (NodeSetting's `<Admin>` has none: logins are cluster-wide). */
export function readAdminUsers(element: ElementReader | undefined, file: string): { user: AdminUserSettings; element: ElementReader }[] {
  if (!element) return [];
  const users: { user: AdminUserSettings; element: ElementReader }[] = [];
  const seen = new Set<string>();
  for (const child of element.children('User')) {
    const name = child.stringAttribute('name', { required: true, pattern: NAME, what: NAME_WHAT });
    const role = child.enumAttribute('role', ADMIN_ROLES, { required: true });
    const env = child.stringAttribute('env', { pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, what: 'an environment variable name' });
    const passwordFile = child.stringAttribute('file');
    child.reportUnknown();
    if (env === undefined && passwordFile === undefined) child.error('<User> needs env="VAR" or file="path" for its password');
    if (name === undefined || role === undefined) continue;
    if (seen.has(name)) {
      child.error(`admin user "${name}" is listed twice`);
      continue;
    }
    seen.add(name);
    users.push({ user: { name, role, password: { env, file: passwordFile === undefined ? undefined : path.resolve(path.dirname(path.resolve(file)), passwordFile), inline: undefined } }, element: child });
  }
  return users;
}

export function readProxy(element: ElementReader | undefined): ProxySettings | undefined {
  if (!element) return undefined;
  const host = element.stringAttribute('host', { pattern: HOST, what: 'a host name or IP address' }) ?? DEFAULTS.proxyHost;
  const port = element.intAttribute('port', PORT, { required: true });
  element.reportUnknown();
  return port === undefined ? undefined : { host, port };
}

export function readCacheElement(child: ElementReader): (Partial<CacheSettings> & { type: string }) | undefined {
  const type = child.stringAttribute('type', { required: true, pattern: NAME, what: NAME_WHAT });
  const result = defined({
    capacity: child.intAttribute('capacity', { min: 1, max: 100_000_000 }),
    ttlSeconds: child.intAttribute('ttlSeconds', { min: 0, max: 365 * 24 * 3600 }),
  });
  child.reportUnknown();
  return type === undefined ? undefined : { type, ...result };
}

export function readCacheList(element: ElementReader | undefined): { cache: Partial<CacheSettings> & { type: string }; element: ElementReader }[] {
  if (!element) return [];
  const seen = new Map<string, ElementReader>();
  const result = [];
  for (const child of element.children('Cache')) {
    const cache = readCacheElement(child);
    if (!cache) continue;
    const first = seen.get(cache.type);
    if (first) {
      child.error(`cache type "${cache.type}" is already configured at line ${first.position.line}`);
      continue;
    }
    seen.set(cache.type, child);
    result.push({ cache, element: child });
  }
  element.reportUnknown();
  return result;
}

export function readApplications(element: ElementReader | undefined): ApplicationEntry[] {
  if (!element) return [];
  const seen = new Set<string>();
  const applications: ApplicationEntry[] = [];
  for (const child of element.children('Application')) {
    const name = child.stringAttribute('name', { required: true, pattern: NAME, what: NAME_WHAT });
    const enabled = child.intAttribute('enabled', { min: 0, max: 1 });
    child.reportUnknown();
    if (name === undefined) continue;
    if (seen.has(name)) {
      child.error(`application "${name}" is listed twice`);
      continue;
    }
    seen.add(name);
    applications.push({ name, enabled: enabled !== 0 });
  }
  element.reportUnknown();
  return applications;
}

export function optionalSection<T extends object>(section: T): T | undefined {
  return Object.keys(section).length > 0 ? section : undefined;
}

/** Drops undefined properties, so that spreading a partial never erases a default. */
export function defined<T extends object>(object: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}
