import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import nunjucks from 'nunjucks';

/**
 * Template filters and file helpers. Every filter refuses values it cannot represent faithfully
 * (undefined, objects where text is expected) instead of printing "undefined" or "[object Object]"
 * into a script a machine will run.
 */

export function scalarText(filter: string, value: unknown): string {
  if (typeof value === 'string') return value;
  // Macro calls and {% set %} blocks hand their output over as SafeString.
  if (value instanceof nunjucks.runtime.SafeString) return value.toString();
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return String(value);
  throw new Error(`${filter}: expected a string or number, got ${describeValue(value)}`);
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

/** POSIX shell single-quoting: the result is one word whatever the value holds. */
export function shquote(value: unknown): string {
  return `'${scalarText('shquote', value).replace(/'/g, `'\\''`)}'`;
}

/**
 * iPXE has no quoting: a command line is split at whitespace and `${...}` is expanded anywhere.
 * A value placed into an iPXE command must therefore contain neither; anything else passes as is.
 */
export function ipxearg(value: unknown): string {
  const text = scalarText('ipxearg', value);
  if (text === '') throw new Error('ipxearg: empty value (iPXE would drop the argument)');
  // eslint-disable-next-line no-control-regex
  if (/[\s\x00-\x1f\x7f]/.test(text)) throw new Error(`ipxearg: ${JSON.stringify(text)} contains whitespace or control characters, which iPXE cannot quote`);
  if (text.includes('${')) throw new Error(`ipxearg: ${JSON.stringify(text)} contains "\${", which iPXE would expand`);
  return text;
}

export function base64(value: unknown): string {
  if (Buffer.isBuffer(value)) return value.toString('base64');
  return Buffer.from(scalarText('base64', value), 'utf8').toString('base64');
}

/** JSON text of a value; also a safe YAML scalar (JSON is YAML's flow subset). */
export function json(value: unknown): string {
  if (value === undefined) throw new Error('json: value is undefined');
  const text = JSON.stringify(value instanceof nunjucks.runtime.SafeString ? value.toString() : value);
  if (text === undefined) throw new Error(`json: ${describeValue(value)} has no JSON form`);
  return text;
}

/** RFC 2397 data URL with base64 payload and no media type, the form Ignition accepts for contents. */
export function dataurl(value: unknown): string {
  return `data:;base64,${base64(value)}`;
}

/** Largest file the file helpers will inline; configs are fetched whole by the machine. */
export const MAX_INLINE_FILE = 4 * 1024 * 1024;

/**
 * Files under `files/` of the operator's templates dir, then of the built-in templates, for
 * `b64file("files/x")` and `datafile("files/x")`. Read once and kept, like compiled templates.
 */
export class TemplateFiles {
  private readonly cache = new Map<string, Buffer>();
  private readonly roots: string[];

  constructor(templateDirs: string[]) {
    this.roots = templateDirs.map((d) => path.join(d, 'files'));
  }

  read(name: unknown): Buffer {
    if (typeof name !== 'string' || name === '') throw new Error(`file helper: expected a path under files/, got ${describeValue(name)}`);
    const rel = name.startsWith('files/') ? name.slice('files/'.length) : name;
    const parts = rel.split('/');
    if (rel === '' || path.isAbsolute(rel) || rel.includes('\\') || rel.includes('\0') || parts.some((p) => p === '..' || p === '.' || p === '')) {
      throw new Error(`file helper: ${JSON.stringify(name)} is not a plain relative path under files/`);
    }
    const hit = this.cache.get(rel);
    if (hit) return hit;
    for (const root of this.roots) {
      const file = path.join(root, ...parts);
      let size: number;
      try {
        const st = statSync(file);
        if (!st.isFile()) continue;
        size = st.size;
      } catch {
        continue;
      }
      if (size > MAX_INLINE_FILE) throw new Error(`file helper: files/${rel} is ${size} bytes; at most ${MAX_INLINE_FILE} can be inlined into a config (serve it as an image asset instead)`);
      const data = readFileSync(file);
      this.cache.set(rel, data);
      return data;
    }
    throw new Error(`file helper: files/${rel} not found (looked in ${this.roots.join(', ')})`);
  }

  base64(name: unknown): string {
    return this.read(name).toString('base64');
  }

  dataUrl(name: unknown): string {
    return `data:;base64,${this.base64(name)}`;
  }
}
