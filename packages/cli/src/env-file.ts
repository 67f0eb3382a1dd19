import { readFileSync } from 'node:fs';
import { UsageError } from './errors.js';

/**
 * KEY=VALUE files as os-release(5) and systemd EnvironmentFile= write them: comments, blank lines,
 * values optionally in single or double quotes (double quotes with backslash escapes).
 */
export function parseEnvText(text: string, source: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m?.[1]) throw new UsageError(`${source} line ${i + 1}: expected KEY=VALUE, got ${JSON.stringify(line.slice(0, 80))}`);
    out[m[1]] = unquote(m[2] ?? '', `${source} line ${i + 1}`);
  });
  return out;
}

function unquote(value: string, where: string): string {
  const v = value.trim();
  if (v.startsWith('"')) {
    if (!v.endsWith('"') || v.length < 2) throw new UsageError(`${where}: unterminated double quote`);
    return v.slice(1, -1).replace(/\\([\\"$`])/g, '$1');
  }
  if (v.startsWith("'")) {
    if (!v.endsWith("'") || v.length < 2) throw new UsageError(`${where}: unterminated single quote`);
    return v.slice(1, -1);
  }
  return v;
}

export function readEnvFile(file: string, what: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read the ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return parseEnvText(text, file);
}
