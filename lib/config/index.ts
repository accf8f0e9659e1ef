export { loadConfig, parseConfigText, type LoadedConfig, type LoadOptions } from './load.js';
export { parseClusterConfig, type ParseOptions, type ParseResult } from './parse.js';
export { resolveNodeConfig } from './resolve.js';
export { resolveSecret, MIN_SECRET_LENGTH } from './secret.js';
export * from './types.js';
