import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Ajv04Module from 'ajv-draft-04';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { describeSchemaError } from '../config/schema.js';
import { parseConfigYaml, YamlSyntaxError } from './yaml.js';
import { yamlLineOf } from './yaml-lines.js';

/** The official Ignition schemas vendored beside the config schema (see schema/ignition/README.md). */
export const IGNITION_SCHEMA_DIR = fileURLToPath(new URL('../../schema/ignition/', import.meta.url));

/** Spec version (the config's ignition.version) -> vendored schema file. */
export const IGNITION_SCHEMAS: Readonly<Record<string, string>> = Object.freeze({
  '3.4.0': 'v3_4.schema.json',
  '3.5.0': 'v3_5.schema.json',
});

// ajv-draft-04 is CommonJS with a default export; under NodeNext the class sits on .default.
const Ajv04 = Ajv04Module.default;

const validators = new Map<string, ValidateFunction>();

/**
 * The official schema says nothing about keys it does not know, and Ignition only warns about
 * them; a misspelt key in a template would silently do nothing. Every object that lists its
 * properties is closed here, so a typo is an error at render time. allOf (file = node + more) is
 * flattened first, since closing each branch alone would reject the other branch's keys.
 */
function closeObjects(node: unknown, root: Record<string, unknown>): unknown {
  if (Array.isArray(node)) return node.map((n) => closeObjects(n, root));
  if (node === null || typeof node !== 'object') return node;
  const src = flattenAllOf(node as Record<string, unknown>, root);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(src)) {
    if (k === 'properties' && v && typeof v === 'object') {
      out[k] = Object.fromEntries(Object.entries(v).map(([name, sub]) => [name, closeObjects(sub, root)]));
    } else {
      out[k] = closeObjects(v, root);
    }
  }
  if (out['properties'] && out['additionalProperties'] === undefined) out['additionalProperties'] = false;
  return out;
}

function resolveLocalRef(ref: string, root: Record<string, unknown>): Record<string, unknown> {
  let cur: unknown = root;
  for (const seg of ref.replace(/^#\//, '').split('/')) cur = (cur as Record<string, unknown>)[seg];
  if (!cur || typeof cur !== 'object') throw new Error(`unresolvable $ref ${ref} in a vendored Ignition schema`);
  return cur as Record<string, unknown>;
}

function flattenAllOf(node: Record<string, unknown>, root: Record<string, unknown>): Record<string, unknown> {
  const branches = node['allOf'];
  if (!Array.isArray(branches)) return node;
  const properties: Record<string, unknown> = {};
  const required = new Set<string>();
  for (const b of branches as Record<string, unknown>[]) {
    const branch = flattenAllOf(typeof b['$ref'] === 'string' ? resolveLocalRef(b['$ref'], root) : b, root);
    Object.assign(properties, branch['properties'] ?? {});
    for (const r of (branch['required'] as string[] | undefined) ?? []) required.add(r);
  }
  const { allOf: _allOf, ...rest } = node;
  return { ...rest, type: 'object', properties, ...(required.size ? { required: [...required] } : {}) };
}

function validatorFor(version: string): ValidateFunction | undefined {
  if (!Object.hasOwn(IGNITION_SCHEMAS, version)) return undefined;
  const file = IGNITION_SCHEMAS[version] as string;
  const cached = validators.get(version);
  if (cached) return cached;
  const official = JSON.parse(readFileSync(IGNITION_SCHEMA_DIR + file, 'utf8')) as Record<string, unknown>;
  const schema = closeObjects(official, official) as Record<string, unknown>;
  const ajv = new Ajv04({ allErrors: true, verbose: true, strict: false });
  const v = ajv.compile(schema);
  validators.set(version, v);
  return v;
}

/** Where and why a rendered config is invalid; `line` counts in the rendered YAML. */
export interface ConfigProblem {
  line?: number;
  /** JSON path of the bad value, e.g. "storage.files[0].mode". */
  path: string;
  reason: string;
}

export class InvalidConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map((p) => p.reason).join('; '));
    this.name = 'InvalidConfigError';
  }
}

function pointerSegments(pointer: string): string[] {
  return pointer === '' ? [] : pointer.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function displayPath(segments: readonly string[]): string {
  return segments.reduce((acc, s) => (/^[0-9]+$/.test(s) ? `${acc}[${s}]` : acc ? `${acc}.${s}` : s), '');
}

// allErrors reports the failing branches of every allOf/anyOf too; the deepest errors are the useful ones.
function usefulErrors(errors: ErrorObject[]): ErrorObject[] {
  const concrete = errors.filter((e) => !['anyOf', 'oneOf', 'allOf', 'if'].includes(e.keyword));
  return concrete.length ? concrete : errors;
}

/** Checks Ignition applies itself (and fails the boot on) that a JSON schema cannot express. */
function semanticProblems(doc: Record<string, unknown>): { segments: string[]; reason: string }[] {
  const out: { segments: string[]; reason: string }[] = [];
  const storage = doc['storage'] as Record<string, unknown> | undefined;
  const seenPaths = new Map<string, string>();
  for (const kind of ['files', 'directories', 'links']) {
    const list = storage?.[kind];
    if (!Array.isArray(list)) continue;
    list.forEach((entry: unknown, i) => {
      const p = (entry as { path?: unknown } | null)?.path;
      if (typeof p !== 'string') return;
      const segs = ['storage', kind, String(i), 'path'];
      if (!p.startsWith('/')) out.push({ segments: segs, reason: `${displayPath(segs)}: must be an absolute path (got ${JSON.stringify(p)})` });
      const prev = seenPaths.get(p);
      if (prev) out.push({ segments: segs, reason: `${displayPath(segs)}: ${JSON.stringify(p)} is already configured by ${prev}` });
      else seenPaths.set(p, displayPath(segs.slice(0, 3)));
    });
  }
  const files = storage?.['files'];
  if (Array.isArray(files)) {
    files.forEach((entry: unknown, i) => {
      const f = entry as { contents?: { source?: unknown }; append?: { source?: unknown }[] } | null;
      const sources: [string[], unknown][] = [[['storage', 'files', String(i), 'contents', 'source'], f?.contents?.source]];
      if (Array.isArray(f?.append)) f.append.forEach((a, j) => sources.push([['storage', 'files', String(i), 'append', String(j), 'source'], a?.source]));
      for (const [segs, src] of sources) {
        const problem = typeof src === 'string' ? sourceProblem(src) : undefined;
        if (problem) out.push({ segments: segs, reason: `${displayPath(segs)}: ${problem}` });
      }
    });
  }
  const units = (doc['systemd'] as { units?: unknown } | undefined)?.units;
  if (Array.isArray(units)) {
    const seen = new Map<string, number>();
    units.forEach((u: unknown, i) => {
      const name = (u as { name?: unknown } | null)?.name;
      if (typeof name !== 'string') return;
      const segs = ['systemd', 'units', String(i), 'name'];
      const prev = seen.get(name);
      if (prev !== undefined) out.push({ segments: segs, reason: `${displayPath(segs)}: unit ${JSON.stringify(name)} is already configured by systemd.units[${prev}]` });
      else seen.set(name, i);
    });
  }
  return out;
}

// The URL schemes Ignition 3 fetches from; anything else fails the machine's first boot.
const SOURCE_SCHEMES = ['http', 'https', 'tftp', 's3', 'gs', 'arn', 'data'];

function sourceProblem(src: string): string | undefined {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(src);
  if (!m) return `must be a URL (data:, http:, https:, tftp:, s3:, gs:, arn:), got ${JSON.stringify(src.slice(0, 60))}`;
  const scheme = (m[1] as string).toLowerCase();
  if (!SOURCE_SCHEMES.includes(scheme)) return `Ignition cannot fetch ${scheme}: URLs (allowed: ${SOURCE_SCHEMES.join(', ')})`;
  if (scheme === 'data' && !src.includes(',')) return 'a data URL needs a comma before its payload (data:;base64,... or data:,text)';
  return undefined;
}

/**
 * Rendered Ignition YAML -> the Ignition JSON to serve. Throws YamlSyntaxError or
 * InvalidConfigError (with rendered-output lines); never returns a config that failed a check.
 */
export function ignitionFromYaml(text: string): string {
  const doc = parseConfigYaml(text);
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new InvalidConfigError([{ path: '', reason: 'an Ignition config must be a YAML mapping with an "ignition" section' }]);
  }
  const root = doc as Record<string, unknown>;
  const version = (root['ignition'] as { version?: unknown } | undefined)?.version;
  const validate = typeof version === 'string' ? validatorFor(version) : undefined;
  if (!validate) {
    const line = yamlLineOf(text, ['ignition', 'version'])?.line ?? yamlLineOf(text, ['ignition'])?.line;
    throw new InvalidConfigError([
      {
        path: 'ignition.version',
        ...(line !== undefined ? { line } : {}),
        reason: `ignition.version: must be one of ${Object.keys(IGNITION_SCHEMAS).map((v) => JSON.stringify(v)).join(', ')} (got ${JSON.stringify(version)})`,
      },
    ]);
  }
  const problems: ConfigProblem[] = [];
  const locate = (segments: string[]): number | undefined => yamlLineOf(text, segments)?.line;
  if (!validate(root)) {
    for (const e of usefulErrors(validate.errors ?? [])) {
      const segs = pointerSegments(e.instancePath);
      if (e.keyword === 'additionalProperties') segs.push(String(e.params['additionalProperty']));
      const line = locate(segs);
      problems.push({ path: displayPath(segs), reason: describeSchemaError(e, root), ...(line !== undefined ? { line } : {}) });
    }
  }
  for (const p of semanticProblems(root)) {
    const line = locate(p.segments);
    problems.push({ path: displayPath(p.segments), reason: p.reason, ...(line !== undefined ? { line } : {}) });
  }
  if (problems.length) {
    const unique = [...new Map(problems.map((p) => [p.reason, p])).values()];
    throw new InvalidConfigError(unique);
  }
  return JSON.stringify(root);
}

export { YamlSyntaxError };
