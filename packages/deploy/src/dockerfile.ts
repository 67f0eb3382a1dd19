/**
 * A small Dockerfile reader: enough to check our own Dockerfile's instructions without a Docker
 * engine (none runs in CI). It joins continuation lines, drops comments and parser directives,
 * splits the file into stages and decodes exec-form (JSON array) arguments.
 */

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, ENV, ... */
  keyword: string;
  /** Everything after the keyword, continuation lines joined with a space. */
  args: string;
  /** 1-based line of the keyword. */
  line: number;
}

export interface Stage {
  /** The image as written (ARGs not substituted) and with global ARG defaults substituted. */
  from: string;
  image: string;
  name?: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  globalArgs: Record<string, string>;
  stages: Stage[];
}

export class DockerfileError extends Error {
  constructor(line: number, message: string) {
    super(`Dockerfile line ${line}: ${message}`);
    this.name = 'DockerfileError';
  }
}

export function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  let pending: { parts: string[]; line: number } | undefined;
  lines.forEach((raw, i) => {
    const trimmed = raw.trim();
    // Comments inside a continued instruction are dropped by Docker too.
    if (trimmed.startsWith('#') || (trimmed === '' && !pending)) return;
    const continued = trimmed.endsWith('\\');
    const body = continued ? trimmed.slice(0, -1).trim() : trimmed;
    if (pending) pending.parts.push(body);
    else pending = { parts: [body], line: i + 1 };
    if (continued) return;
    const joined = pending.parts.filter(Boolean).join(' ');
    const m = /^([A-Za-z]+)\s*(.*)$/.exec(joined);
    if (!m || !m[1]) throw new DockerfileError(pending.line, `cannot read instruction ${JSON.stringify(joined)}`);
    out.push({ keyword: m[1].toUpperCase(), args: m[2] ?? '', line: pending.line });
    pending = undefined;
  });
  if (pending) throw new DockerfileError(pending.line, 'the file ends inside a continued instruction');
  return out;
}

/** `${NAME}`, `${NAME:-default}` and `$NAME` substitution with the given values. */
export function substitute(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_m, a: string, def: string | undefined, b: string) => {
    const name = a ?? b;
    return vars[name] ?? def ?? '';
  });
}

export function parseDockerfile(text: string): Dockerfile {
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const ins of instructions(text)) {
    if (ins.keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m || !m[1]) throw new DockerfileError(ins.line, `cannot read FROM ${JSON.stringify(ins.args)}`);
      const stage: Stage = { from: m[1], image: substitute(m[1], globalArgs), instructions: [] };
      if (m[2]) stage.name = m[2];
      stages.push(stage);
      continue;
    }
    const current = stages.at(-1);
    if (!current) {
      if (ins.keyword !== 'ARG') throw new DockerfileError(ins.line, `${ins.keyword} before the first FROM`);
      const [name, ...rest] = ins.args.split('=');
      if (name) globalArgs[name.trim()] = rest.join('=').trim();
      continue;
    }
    current.instructions.push(ins);
  }
  return { globalArgs, stages };
}

/** Decodes an exec-form argument list (`["a", "b"]`); undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  const t = args.trim();
  if (!t.startsWith('[')) return undefined;
  const parsed: unknown = JSON.parse(t);
  if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) {
    throw new Error(`not a JSON array of strings: ${t}`);
  }
  return parsed;
}

/** ENV instructions of a stage as one map (`ENV A=1 B=2` and the legacy `ENV A 1` form). */
export function stageEnv(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const ins of stage.instructions) {
    if (ins.keyword !== 'ENV') continue;
    if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(ins.args)) {
      const [name, ...value] = ins.args.split(/\s+/);
      if (name) env[name] = value.join(' ');
      continue;
    }
    for (const m of ins.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
      const raw = m[2] ?? '';
      env[m[1] as string] = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    }
  }
  return env;
}

/** The last instruction with this keyword in the stage (Docker uses the last CMD/ENTRYPOINT/USER). */
export function last(stage: Stage, keyword: string): Instruction | undefined {
  return stage.instructions.filter((i) => i.keyword === keyword).at(-1);
}
