import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

/** The JSON Schema ships beside dist/ so editors and `cocoonctl config validate` use the same file. */
export const CONFIG_SCHEMA_PATH = fileURLToPath(new URL('../../schema/config.schema.json', import.meta.url));

let compiled: ValidateFunction | undefined;

export function loadConfigSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(CONFIG_SCHEMA_PATH, 'utf8')) as Record<string, unknown>;
}

// ajv-formats is CommonJS with a default export; under NodeNext the callable sits on .default.
const addFormats = addFormatsModule.default;

export function configValidator(): ValidateFunction {
  if (!compiled) {
    const ajv = new Ajv({ allErrors: true, verbose: true, useDefaults: true, strict: true, allowUnionTypes: true });
    addFormats(ajv, ['ipv4', 'uri']);
    compiled = ajv.compile(loadConfigSchema());
  }
  return compiled;
}

/** One line per problem: where, what was there, what is allowed. */
export function describeSchemaError(e: ErrorObject, root: unknown): string {
  const where = pointerToPath(e.instancePath);
  const value = valueAt(root, e.instancePath);
  const shown = value === undefined ? '' : ` (got ${JSON.stringify(value)})`;
  switch (e.keyword) {
    case 'required':
      return `${joinPath(where, String(e.params['missingProperty']))}: is required`;
    case 'additionalProperties':
      return `${joinPath(where, String(e.params['additionalProperty']))}: unknown key; allowed here: ${allowedKeys(e).join(', ')}`;
    case 'enum':
      return `${where || '(top)'}: must be one of ${(e.params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}${shown}`;
    case 'format':
      return `${where}: must be a valid ${String(e.params['format'])}${shown}`;
    case 'type':
      return `${where || '(top)'}: must be ${String(e.params['type'])}${shown}`;
    case 'pattern':
      return `${where}: must match ${String(e.params['pattern'])}${shown}`;
    default:
      return `${where || '(top)'}: ${e.message ?? e.keyword}${shown}`;
  }
}

function allowedKeys(e: ErrorObject): string[] {
  const props = (e.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties;
  return props ? Object.keys(props) : [];
}

function pointerToPath(pointer: string): string {
  if (!pointer) return '';
  return pointer
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^[0-9]+$/.test(seg) ? `${acc}[${seg}]` : joinPath(acc, seg)), '');
}

function joinPath(base: string, key: string): string {
  return base ? `${base}.${key}` : key;
}

function valueAt(root: unknown, pointer: string): unknown {
  let cur: unknown = root;
  for (const seg of pointer.split('/').slice(1)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return cur;
}
