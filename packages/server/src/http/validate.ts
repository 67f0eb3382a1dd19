import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { describeSchemaError } from '../config/schema.js';
import { HttpError } from './problem.js';

/** A JSON Schema object as it appears in route definitions and in the OpenAPI document. */
export type JsonSchema = Record<string, unknown>;

const addFormats = addFormatsModule.default;

// One instance for every request-body schema: compiled once at start-up, never per request.
const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true, coerceTypes: false });
addFormats(ajv, ['ipv4', 'date-time', 'uri']);
// OpenAPI keywords that ajv does not know; allowed so one schema serves both purposes.
ajv.addKeyword('example');

export type BodyValidator<T> = (body: unknown) => T;

/**
 * Compile a body schema. The validator throws a 400 HttpError whose message lists every problem
 * as "field: what is wrong (got value)" and whose `field` is the first field at fault.
 */
export function bodyValidator<T>(schema: JsonSchema): BodyValidator<T> {
  const validate: ValidateFunction = ajv.compile(schema);
  return (body: unknown): T => {
    if (validate(body)) return body as T;
    const errors = validate.errors ?? [];
    const lines = [...new Set(errors.map((e) => describeSchemaError(e, body).replace(/^\(top\)/, 'body')))];
    const first = lines[0]?.split(':')[0];
    throw new HttpError(400, lines.join('; '), first && first !== 'body' ? first : undefined);
  };
}

/** Path parameters: each kind has one fixed pattern, checked before any lookup or file access. */
export interface ParamKind {
  pattern: RegExp;
  description: string;
}

// Dots are allowed inside names (versions, file names) but never two in a row, so ".." and
// anything that decodes to a path separator are rejected before they reach a lookup.
export const PARAM_KINDS = {
  serial: {
    pattern: /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/,
    description: 'machine serial: letters, digits, "_", "." and "-" (no "..", at most 128 characters)',
  },
  image: {
    pattern: /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$/,
    description: 'image file: up to 8 "/"-separated names of letters, digits, "_", ".", "+" and "-" (no "..", no empty or encoded separators)',
  },
  key: {
    pattern: /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/,
    description: 'override key: a letter or "_" then letters, digits, "_", "." and "-"',
  },
  kind: {
    pattern: /^(ipxe|first-stage|ignition|config)$/,
    description: 'one of ipxe, first-stage, ignition, config',
  },
} satisfies Record<string, ParamKind>;

export type ParamKindName = keyof typeof PARAM_KINDS;

/** Wildcard parameters ("*file") arrive as decoded segments: each is checked, then joined. */
const MAX_SEGMENTS = 8;

export function checkParam(name: string, kind: ParamKindName, value: string | string[] | undefined): string {
  const spec = PARAM_KINDS[kind];
  const segments = Array.isArray(value) ? value : [value];
  const ok = segments.length > 0 && segments.length <= MAX_SEGMENTS && segments.every((s) => s !== undefined && spec.pattern.test(s));
  if (!ok) {
    const shown = Array.isArray(value) ? value.join('/') : (value ?? '');
    throw new HttpError(400, `${name}: must be a ${spec.description} (got ${JSON.stringify(shown)})`, name);
  }
  return segments.join('/');
}

/** Serials are stored lower case (design: identity normalisation); lookups use the same form. */
export function normalizeSerialParam(value: string): string {
  return value.toLowerCase();
}
