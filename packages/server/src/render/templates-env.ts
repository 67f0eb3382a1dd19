/**
 * `env` for one render: config.templates_env, then the profile's, then the machine's Overrides,
 * deep-merged into a NEW object. Nothing of the result is shared with its inputs, so a template
 * (or a later render) can never see another machine's overrides through a shared nested object.
 */
export function mergeTemplatesEnv(...layers: (Readonly<Record<string, unknown>> | undefined)[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const layer of layers) if (layer) mergeInto(out, layer);
  return out;
}

const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function mergeInto(target: Record<string, unknown>, source: Readonly<Record<string, unknown>>): void {
  for (const [key, value] of Object.entries(source)) {
    if (UNSAFE_KEYS.has(key)) continue;
    const current = target[key];
    if (isPlainObject(value) && isPlainObject(current)) {
      mergeInto(current, value);
    } else {
      // Objects are merged key by key; arrays and scalars replace what was there.
      target[key] = copy(value);
    }
  }
}

function copy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(copy);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    mergeInto(out, value);
    return out;
  }
  return value;
}
