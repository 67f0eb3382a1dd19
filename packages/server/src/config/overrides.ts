import path from 'node:path';

/** Command-line values that override the config file (undefined = not given). */
export interface ConfigOverrides {
  clusterDir?: string;
  git?: boolean;
  dnsmasq?: boolean;
  bootListen?: string;
  bootPort?: number;
  apiListen?: string;
  apiPort?: number;
  logLevel?: string;
}

function section(doc: Record<string, unknown>, ...keys: string[]): Record<string, unknown> {
  let cur = doc;
  for (const k of keys) {
    const next = cur[k];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  return cur;
}

/**
 * Apply overrides to the raw document before validation, so a bad flag value is reported like a
 * bad file value. Paths given on the command line are relative to the working directory.
 */
export function applyConfigOverrides(doc: Record<string, unknown>, o: ConfigOverrides, cwd = process.cwd()): void {
  if (o.clusterDir !== undefined) section(doc, 'paths')['cluster_dir'] = path.resolve(cwd, o.clusterDir);
  if (o.git !== undefined) section(doc, 'git')['enabled'] = o.git;
  if (o.dnsmasq !== undefined) section(doc, 'dnsmasq')['enabled'] = o.dnsmasq;
  if (o.bootListen !== undefined) section(doc, 'http', 'boot')['listen'] = o.bootListen;
  if (o.bootPort !== undefined) section(doc, 'http', 'boot')['port'] = o.bootPort;
  if (o.apiListen !== undefined) section(doc, 'http', 'api')['listen'] = o.apiListen;
  if (o.apiPort !== undefined) section(doc, 'http', 'api')['port'] = o.apiPort;
  if (o.logLevel !== undefined) section(doc, 'log')['level'] = o.logLevel;
}
