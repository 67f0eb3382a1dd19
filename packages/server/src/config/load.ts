import { readFileSync } from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import { configValidator, describeSchemaError } from './schema.js';
import type { CocoonConfig, IpRange } from './types.js';
import { ipToInt, networkBounds } from '../util/ipv4.js';
import { normalizeMac } from '../util/mac.js';

/** A configuration that cannot be used; `problems` has one line per fault, each naming its path. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid configuration${source ? ` in ${source}` : ''}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Read, validate and complete a config file. `adjust` may change the parsed document before it is
 * validated (command-line overrides), so flag values are checked like file values.
 */
export function readConfigFile(file: string, adjust?: (doc: Record<string, unknown>) => void): CocoonConfig {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new ConfigError(abs, [`cannot read the file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  let doc: unknown;
  try {
    doc = yaml.load(text, { filename: abs });
  } catch (err) {
    const e = err as { mark?: { line: number; column: number }; reason?: string };
    const where = e.mark ? `line ${e.mark.line + 1}, column ${e.mark.column + 1}` : 'YAML';
    throw new ConfigError(abs, [`${where}: ${e.reason ?? String(err)}`]);
  }
  doc ??= {};
  if (adjust && typeof doc === 'object' && !Array.isArray(doc)) adjust(doc as Record<string, unknown>);
  return parseConfig(doc, abs);
}

/**
 * Validate a parsed document against the schema, fill defaults, check what a schema cannot say
 * (ranges, uniqueness, references) and resolve paths against the config file's folder.
 */
export function parseConfig(doc: unknown, source = ''): CocoonConfig {
  const copy: unknown = structuredClone(doc);
  const validate = configValidator();
  if (!validate(copy)) {
    const problems = [...new Set((validate.errors ?? []).map((e) => describeSchemaError(e, copy)))];
    throw new ConfigError(source, problems);
  }
  const cfg = copy as Omit<CocoonConfig, 'source'>;
  const problems = semanticProblems(cfg);
  if (problems.length) throw new ConfigError(source, problems);

  if (!cfg.profiles.some((p) => p.name === 'default')) {
    cfg.profiles.push({ name: 'default', tags: [], boot: 'install', template: 'default', config_format: 'ignition', templates_env: {} });
  }
  const base = source ? path.dirname(source) : process.cwd();
  const abs = (p: string): string => path.resolve(base, p);
  cfg.paths.cluster_dir = abs(cfg.paths.cluster_dir);
  cfg.paths.images_dir = abs(cfg.paths.images_dir);
  cfg.paths.tftp_root = abs(cfg.paths.tftp_root);
  cfg.paths.state_dir = abs(cfg.paths.state_dir);
  if (cfg.paths.templates_dir) cfg.paths.templates_dir = abs(cfg.paths.templates_dir);
  if (cfg.paths.agent_dir) cfg.paths.agent_dir = abs(cfg.paths.agent_dir);
  if (cfg.dnsmasq.template) cfg.dnsmasq.template = abs(cfg.dnsmasq.template);
  if (cfg.http.api.tls) {
    cfg.http.api.tls.cert = abs(cfg.http.api.tls.cert);
    cfg.http.api.tls.key = abs(cfg.http.api.tls.key);
  }
  if (!cfg.http.boot.public_url) cfg.http.boot.public_url = `http://${cfg.network.bind_addr}:${cfg.http.boot.port}`;
  cfg.http.boot.public_url = cfg.http.boot.public_url.replace(/\/+$/, '');
  for (const m of cfg.machines) m.mac = normalizeMac(m.mac) ?? m.mac;
  return { source, ...cfg };
}

function rangeProblems(where: string, r: IpRange): string[] {
  return ipToInt(r.start) > ipToInt(r.end) ? [`${where}: start ${r.start} is after end ${r.end}`] : [];
}

function semanticProblems(cfg: Omit<CocoonConfig, 'source'>): string[] {
  const out: string[] = [];
  const net = cfg.network;
  out.push(...rangeProblems('network.bootstrap_range', net.bootstrap_range));
  out.push(...rangeProblems('network.ip_range', net.ip_range));
  const { network, broadcast } = networkBounds(net.ip_range.start, net.subnet_size);
  if (ipToInt(net.ip_range.end) > broadcast) {
    out.push(`network.ip_range.end: ${net.ip_range.end} is outside the /${net.subnet_size} network of ip_range.start ${net.ip_range.start}`);
  }
  if (net.subnet_gateway && (ipToInt(net.subnet_gateway) < network || ipToInt(net.subnet_gateway) > broadcast)) {
    out.push(`network.subnet_gateway: ${net.subnet_gateway} is outside the node network of ip_range`);
  }

  const seen = new Set<string>();
  cfg.profiles.forEach((p, i) => {
    if (seen.has(p.name)) out.push(`profiles[${i}].name: profile ${JSON.stringify(p.name)} is defined twice`);
    seen.add(p.name);
    if (p.boot === 'install' && !p.os && !cfg.default_os) {
      out.push(`profiles[${i}].os: profile ${JSON.stringify(p.name)} installs an OS but names none and default_os is not set`);
    }
    if (p.boot === 'live' && !p.live && !p.os && !cfg.default_os) {
      out.push(`profiles[${i}]: live profile ${JSON.stringify(p.name)} needs live (kernel, initrds) or an os`);
    }
  });

  if (cfg.auth.mode === 'tokens' && cfg.auth.tokens.length === 0) {
    out.push('auth.tokens: at least one token is needed when auth.mode is "tokens" (or set auth.mode: none explicitly to run without authentication)');
  }
  const tokens = new Set<string>();
  cfg.auth.tokens.forEach((t, i) => {
    if (tokens.has(t.token)) out.push(`auth.tokens[${i}].token: the same token is configured twice`);
    tokens.add(t.token);
  });

  const macs = new Map<string, number>();
  const ips = new Map<string, number>();
  cfg.machines.forEach((m, i) => {
    const mac = normalizeMac(m.mac) ?? m.mac;
    const prev = macs.get(mac);
    if (prev !== undefined) out.push(`machines[${i}].mac: ${m.mac} is already declared by machines[${prev}]`);
    macs.set(mac, i);
    if (m.ip) {
      const prevIp = ips.get(m.ip);
      if (prevIp !== undefined) out.push(`machines[${i}].ip: ${m.ip} is already declared by machines[${prevIp}]`);
      ips.set(m.ip, i);
      const n = ipToInt(m.ip);
      if (n < ipToInt(net.ip_range.start) || n > ipToInt(net.ip_range.end)) {
        out.push(`machines[${i}].ip: ${m.ip} is outside network.ip_range ${net.ip_range.start}-${net.ip_range.end}`);
      }
    }
    if (m.profile && m.profile !== 'default' && !seen.has(m.profile)) {
      out.push(`machines[${i}].profile: no profile named ${JSON.stringify(m.profile)}; defined: ${[...seen].join(', ')}`);
    }
  });
  return out;
}
