/**
 * castmirror: an embedded, in-memory, replicated cache node for Node.js.
 */
export { startNode, type StartNodeOptions } from './start.js';
export { CacheNode, type CacheNodeOptions, type Closeable } from './node/cache-node.js';
export type { NodeStatus, MemberStatus, ApplicationStatus, ReloadReport } from './node/status.js';
export { ObjectCache, type ObjectCacheOptions, type ObjectCacheStats, type Loader } from './cache/object-cache.js';
export { ObjectCacheManager } from './cache/manager.js';
export type { ClearReason } from './messaging/invalidation-bus.js';
export type { Member, MemberState, MemberEventMap } from './membership/membership.js';
export type { DropReason } from './transport/cluster-channel.js';
export { loadConfig, parseConfigText, parseClusterConfig, resolveNodeConfig } from './config/index.js';
export type { ClusterConfig, NodeConfig, LoadedConfig, CacheSettings, NodeEntry, ReplicationMode } from './config/index.js';
export { AdminClient } from './admin/client.js';
export { AdminServer, type AdminServerOptions, type AdminTarget } from './admin/server.js';
export { SessionObject, type CompositeStep, type SessionMeta } from './session/session.js';
export { Pool } from './session/pool.js';
export { ReferenceRegistry, LogicalRef, type ReferenceDefinition } from './session/reference.js';
export { SessionManager, type RunResult, type SessionTask } from './replication/session-manager.js';
export type { Outcome, RouteHint } from './replication/route-hint.js';
export type { SessionCounters, SessionStats } from './replication/stats.js';
export { RouteToken, type RouteTokenStats } from './replication/route-token.js';
export type { Logger } from './util/logger.js';
export { silentLogger } from './util/logger.js';
export { listen } from './util/listen.js';
export * from './errors.js';
export {
  RouteCookie,
  DEFAULT_ROUTE_COOKIE,
  type RouteCookieOptions,
  type RouteCookieAttributes,
  type RouteCookieReading,
  type RouteCookieStats,
} from './http/route-cookie.js';
export { sessionMiddleware, type SessionMiddleware, type SessionMiddlewareOptions, type SessionRequest, type RequestSession } from './http/middleware.js';
export { closeWithNode, type CloseWithNodeOptions } from './http/close-with-node.js';
export { refusedAsLeaving, refuseWhileLeaving } from './http/leaving.js';
export { MIRRORED_HEADER, NODE_HEADER, NOT_APPLIED_HEADER } from './http/headers.js';
export { channels as diagnosticsChannels, type ChannelName } from './diagnostics.js';
export { ApplicationRegistry } from './apps/registry.js';
export type { ChangeReport } from './apps/sync.js';
export type { AppRecord, AppState } from './wire/messages.js';
export { StickyProxy, type ProxyOptions, type ProxyStats } from './proxy/proxy.js';
