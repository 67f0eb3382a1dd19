export * from './types.js';
export { ConfigError, parseConfig, readConfigFile } from './load.js';
export { CONFIG_SCHEMA_PATH, loadConfigSchema } from './schema.js';
export { applyConfigOverrides, type ConfigOverrides } from './overrides.js';
