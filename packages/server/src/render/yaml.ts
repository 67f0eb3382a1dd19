import yaml from 'js-yaml';

/**
 * The YAML dialect of rendered configs: YAML 1.2 core types (no timestamps or binary that JSON
 * cannot carry), plus YAML 1.1's leading-zero octal so `mode: 0644` means what operators used to
 * Butane and cloud-init mean by it (js-yaml's core schema would read it as decimal 644).
 */
// js-yaml exports its built-in types at run time; @types/js-yaml does not declare them.
const builtin = (yaml as unknown as { types: Record<'null' | 'bool' | 'int' | 'float', yaml.Type> }).types;
const coreInt = builtin.int;
const OCTAL_11 = /^[-+]?0[0-7]+$/;
// One type per tag: js-yaml keeps only the last implicit type of a tag, so this wraps core int.
const int11 = new yaml.Type('tag:yaml.org,2002:int', {
  kind: 'scalar',
  resolve: (data: unknown) => (typeof data === 'string' && OCTAL_11.test(data)) || coreInt.resolve(data),
  construct: (data: string) => {
    if (!OCTAL_11.test(data)) return coreInt.construct(data) as unknown;
    const sign = data.startsWith('-') ? -1 : 1;
    return sign * parseInt(data.replace(/^[-+]/, ''), 8);
  },
  ...(coreInt.predicate ? { predicate: coreInt.predicate } : {}),
  ...(coreInt.represent ? { represent: coreInt.represent } : {}),
  ...(coreInt.defaultStyle ? { defaultStyle: coreInt.defaultStyle } : {}),
});

export const CONFIG_YAML_SCHEMA = yaml.FAILSAFE_SCHEMA.extend({
  implicit: [builtin.null, builtin.bool, int11, builtin.float],
});

export class YamlSyntaxError extends Error {
  constructor(
    readonly line: number | undefined,
    readonly reason: string,
  ) {
    super(line !== undefined ? `line ${line}: ${reason}` : reason);
    this.name = 'YamlSyntaxError';
  }
}

/** Parse rendered YAML; a syntax error carries its 1-based line. */
export function parseConfigYaml(text: string): unknown {
  try {
    return yaml.load(text, { schema: CONFIG_YAML_SCHEMA });
  } catch (err) {
    const e = err as { mark?: { line: number }; reason?: string; message?: string };
    throw new YamlSyntaxError(e.mark ? e.mark.line + 1 : undefined, `YAML syntax: ${e.reason ?? e.message ?? String(err)}`);
  }
}
