import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import nunjucks from 'nunjucks';
import { base64, dataurl, ipxearg, json, scalarText, shquote, TemplateFiles } from './filters.js';

/** The repository's templates/ (the package ships it beside packages/server, like the schema). */
export const BUILTIN_TEMPLATES_DIR = fileURLToPath(new URL('../../../../templates/', import.meta.url)).replace(/\/$/, '');

/** iPXE arguments: each whitespace-separated word must be iPXE-safe; joined by one space. */
function ipxeargs(value: unknown): string {
  if (value === '' || value === null || value === undefined) return '';
  return scalarText('ipxeargs', value)
    .split(/\s+/)
    .filter(Boolean)
    .map((w) => ipxearg(w))
    .join(' ');
}

/**
 * What a filter or helper threw during the current render. nunjucks attaches no line to those,
 * so the guarded filters record the error and return undefined instead: nunjucks then reports
 * that undefined value at its line and column, and the renderer shows the recorded reason. A
 * failure that never reaches an output still fails the render. Renders are synchronous, so one
 * slot per environment is enough.
 */
export class RenderFailures {
  first: unknown = undefined;
  reset(): void {
    this.first = undefined;
  }
  record(err: unknown): void {
    if (this.first === undefined) this.first = err;
  }
}

function guarded(failures: RenderFailures, fn: (...args: unknown[]) => unknown): (...args: unknown[]) => unknown {
  return function (this: unknown, ...args: unknown[]): unknown {
    try {
      return fn.apply(this, args);
    } catch (err) {
      failures.record(err);
      return undefined;
    }
  };
}

export interface TemplateEnvironment {
  env: nunjucks.Environment;
  files: TemplateFiles;
  failures: RenderFailures;
  /** The folders searched, operator's first. */
  searchPaths: string[];
}

/**
 * nunjucks for scripts and configs: no HTML escaping, undefined output is an error, block tags
 * leave no blank lines. Templates are looked up in the operator's templates_dir first, then in
 * the built-in templates; both are compiled once and cached for the life of the process.
 */
export function createTemplateEnvironment(builtinDir: string, overrideDir?: string): TemplateEnvironment {
  if (!existsSync(builtinDir) || !statSync(builtinDir).isDirectory()) {
    throw new Error(`built-in templates not found at ${builtinDir}`);
  }
  const searchPaths = overrideDir ? [overrideDir, builtinDir] : [builtinDir];
  const loader = new nunjucks.FileSystemLoader(searchPaths, { noCache: false, watch: false });
  // nunjucks caches the templates it found but looks again, on disk, for a missing one on every
  // render ({% include ... ignore missing %}, e.g. ipxe/args/<os>-install.args): remember misses
  // too, like hits, for the life of the process.
  const findSource = loader.getSource.bind(loader);
  const missing = new Set<string>();
  loader.getSource = (name: string): nunjucks.LoaderSource => {
    if (missing.has(name)) return null as unknown as nunjucks.LoaderSource;
    const found = findSource(name) as nunjucks.LoaderSource | null;
    if (!found) missing.add(name);
    return found as nunjucks.LoaderSource;
  };
  const env = new nunjucks.Environment(loader, {
    autoescape: false,
    throwOnUndefined: true,
    trimBlocks: true,
    lstripBlocks: true,
    // dev keeps nunjucks' TemplateError (with its file and line) instead of a bare Error.
    dev: true,
  });
  const files = new TemplateFiles(searchPaths);
  const failures = new RenderFailures();
  const filters: Record<string, (...args: unknown[]) => unknown> = {
    shquote: (v) => shquote(v),
    ipxearg: (v) => ipxearg(v),
    ipxeargs: (v) => ipxeargs(v),
    base64: (v) => base64(v),
    json: (v) => json(v),
    dataurl: (v) => dataurl(v),
  };
  for (const [name, fn] of Object.entries(filters)) env.addFilter(name, guarded(failures, fn));
  env.addGlobal('b64file', guarded(failures, (name) => files.base64(name)));
  env.addGlobal('datafile', guarded(failures, (name) => files.dataUrl(name)));
  env.addGlobal(
    'fail',
    guarded(failures, (message) => {
      throw new Error(typeof message === 'string' ? message : 'the template called fail()');
    }),
  );
  return { env, files, failures, searchPaths };
}

/** Absolute file a template name resolves to (operator's or built-in), for error messages. */
export function templateFile(t: TemplateEnvironment, name: string): string | undefined {
  for (const dir of t.searchPaths) {
    const file = `${dir}/${name}`;
    if (existsSync(file)) return file;
  }
  return undefined;
}
