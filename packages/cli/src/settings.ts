import { readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { UsageError } from './errors.js';

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:4080';

/** Where and how to talk to the API, after flags, environment and the config file are merged. */
export interface Connection {
  endpoint: string;
  token?: string;
  /** PEM text of the CA that signs the server's certificate (replaces the system store). */
  ca?: string;
  caFile?: string;
  insecure: boolean;
  /** The file the token came from, so an authentication failure can say where to look. */
  tokenSource: 'flag' | 'env' | 'file' | 'none';
  configFile?: string;
}

export interface ConnectionFlags {
  endpoint?: string;
  token?: string;
  ca?: string;
  insecure?: boolean;
}

/** The user's cocoonctl settings file: $COCOON_CLI_CONFIG, else $XDG_CONFIG_HOME/cocoon/cli.yaml. */
export function cliConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.COCOON_CLI_CONFIG) return path.resolve(env.COCOON_CLI_CONFIG);
  const base = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(os.homedir(), '.config');
  return path.join(base, 'cocoon', 'cli.yaml');
}

interface FileSettings {
  endpoint?: string;
  token?: string;
  ca?: string;
  insecure?: boolean;
}

const FILE_KEYS: Record<keyof FileSettings, 'string' | 'boolean'> = {
  endpoint: 'string',
  token: 'string',
  ca: 'string',
  insecure: 'boolean',
};

/** Read the settings file; a missing file is no settings, a malformed one is a usage error naming the key. */
export function readCliConfig(file: string): FileSettings {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let doc: unknown;
  try {
    doc = yaml.load(text, { filename: file });
  } catch (err) {
    const e = err as { mark?: { line: number }; reason?: string };
    throw new UsageError(`${file}${e.mark ? ` line ${e.mark.line + 1}` : ''}: ${e.reason ?? 'not valid YAML'}`);
  }
  if (doc === undefined || doc === null) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new UsageError(`${file}: expected a mapping with keys ${Object.keys(FILE_KEYS).join(', ')}`);
  const out: FileSettings = {};
  for (const [key, value] of Object.entries(doc)) {
    const want = FILE_KEYS[key as keyof FileSettings];
    if (!want) throw new UsageError(`${file}: unknown key ${JSON.stringify(key)}; allowed: ${Object.keys(FILE_KEYS).join(', ')}`);
    if (typeof value !== want) throw new UsageError(`${file}: ${key} must be a ${want}, got ${JSON.stringify(value)}`);
    (out as Record<string, unknown>)[key] = value;
  }
  // A relative CA path is relative to the settings file, not to wherever cocoonctl happens to run.
  if (out.ca) out.ca = path.resolve(path.dirname(file), out.ca);
  if (out.token && (statSync(file).mode & 0o077) !== 0) {
    process.stderr.write(`cocoonctl: warning: ${file} holds an API token but others may read it (chmod 600 ${file})\n`);
  }
  return out;
}

/** Normalise and check an endpoint URL; only http and https, no query or fragment. */
export function parseEndpoint(text: string, from: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`${from}: ${JSON.stringify(text)} is not a URL (expected e.g. ${DEFAULT_ENDPOINT})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${from}: ${JSON.stringify(text)} must use http:// or https://`);
  }
  if (url.search || url.hash) throw new UsageError(`${from}: ${JSON.stringify(text)} must not have a query or fragment`);
  return url.href.replace(/\/+$/, '');
}

/** Precedence per setting: flag, then environment, then the settings file, then the default. */
export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): Connection {
  const configFile = cliConfigPath(env);
  const file = readCliConfig(configFile);

  let endpoint: string;
  if (flags.endpoint !== undefined) endpoint = parseEndpoint(flags.endpoint, '--endpoint');
  else if (env.COCOON_ENDPOINT) endpoint = parseEndpoint(env.COCOON_ENDPOINT, 'COCOON_ENDPOINT');
  else if (file.endpoint) endpoint = parseEndpoint(file.endpoint, `${configFile}: endpoint`);
  else endpoint = DEFAULT_ENDPOINT;

  let token: string | undefined;
  let tokenSource: Connection['tokenSource'] = 'none';
  if (flags.token !== undefined) [token, tokenSource] = [flags.token, 'flag'];
  else if (env.COCOON_TOKEN) [token, tokenSource] = [env.COCOON_TOKEN, 'env'];
  else if (file.token) [token, tokenSource] = [file.token, 'file'];
  if (token !== undefined && !/^[\x21-\x7e]+$/.test(token)) {
    throw new UsageError('the API token must be printable ASCII without spaces (check --token, COCOON_TOKEN or the settings file)');
  }

  const caFile = flags.ca ?? env.COCOON_CA ?? file.ca;
  let ca: string | undefined;
  if (caFile) {
    try {
      ca = readFileSync(caFile, 'utf8');
    } catch (err) {
      throw new UsageError(`--ca: cannot read ${caFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--ca: ${caFile} holds no PEM certificate`);
  }
  const insecure = flags.insecure ?? file.insecure ?? false;
  if (token && endpoint.startsWith('http:') && !isLoopback(new URL(endpoint).hostname)) {
    process.stderr.write(`cocoonctl: warning: the API token goes to ${endpoint} unencrypted (configure http.api.tls and use https://)\n`);
  }
  return { endpoint, token, ca, caFile, insecure, tokenSource, configFile };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
