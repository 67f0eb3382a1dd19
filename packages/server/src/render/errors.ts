import { readFileSync } from 'node:fs';
import { CocoonError } from '../util/errors.js';

export interface RenderErrorDetails {
  /** Template name as the loader knows it, e.g. "ignition/default.yaml". */
  template: string;
  /** The file that failed (absolute; an operator override or a built-in template), when known. */
  file?: string;
  /** 1-based line in `file` (template errors) or in the rendered output (validation errors). */
  line?: number;
  column?: number;
  /** Where the line counts: the template source or the text the template rendered. */
  lineOf?: 'template' | 'output';
  /** What is wrong, in words an operator can act on. */
  reason: string;
  /** The profile being rendered, when the error came from a render for one. */
  profile?: string;
}

/**
 * A template could not be rendered, or rendered into something that must not be served.
 * It is a CocoonError of kind `internal` (HTTP 500) whose message names the file, line and reason.
 */
export class RenderError extends CocoonError {
  readonly template: string;
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly lineOf: 'template' | 'output' | undefined;
  readonly reason: string;
  readonly profile: string | undefined;

  constructor(details: RenderErrorDetails, options?: { cause?: unknown }) {
    super('internal', describe(details), undefined, options);
    this.name = 'RenderError';
    this.template = details.template;
    this.file = details.file;
    this.line = details.line;
    this.column = details.column;
    this.lineOf = details.lineOf;
    this.reason = details.reason;
    this.profile = details.profile;
  }

  /** The same error, told which profile was being rendered (self-test, previews). */
  forProfile(profile: string): RenderError {
    return new RenderError({ ...this.details(), profile }, { cause: this.cause });
  }

  details(): RenderErrorDetails {
    const d: RenderErrorDetails = { template: this.template, reason: this.reason };
    if (this.file !== undefined) d.file = this.file;
    if (this.line !== undefined) d.line = this.line;
    if (this.column !== undefined) d.column = this.column;
    if (this.lineOf !== undefined) d.lineOf = this.lineOf;
    if (this.profile !== undefined) d.profile = this.profile;
    return d;
  }
}

function describe(d: RenderErrorDetails): string {
  let where = d.file ?? d.template;
  if (d.line !== undefined) {
    where += d.lineOf === 'output' ? ` (rendered output, line ${d.line})` : ` line ${d.line}`;
    if (d.column !== undefined && d.lineOf !== 'output') where += `, column ${d.column}`;
  }
  const profile = d.profile ? ` [profile ${d.profile}]` : '';
  return `template ${where}${profile}: ${d.reason}`;
}

// nunjucks (dev mode) prefixes the message with one "(path)" line per template on the include
// stack; the file where it failed carries "[Line n, Column m]". A TemplateError wrapped again
// adds "Template render error: " in front of a frame.
const FRAME = /^\s*(?:Template render error: )*\((.*)\)(?: \[Line (\d+)(?:, Column (\d+))?\])?\s*$/;

const UNDEFINED_OUTPUT = 'attempted to output null or undefined value';

interface Frame {
  path: string;
  line?: number;
  column?: number;
}

/**
 * nunjucks runs the rest of a template inside the callback of an {% include %}, so an error after
 * an include is reported with the included file's path (but its own line and column). Take the
 * innermost file of the stack whose line is long enough to hold that column and has a tag on it.
 */
function locateFrame(frames: Frame[], readLine: (file: string, line: number) => string | undefined): Frame | undefined {
  const at = frames.find((f) => f.line !== undefined);
  if (!at || at.column === undefined || at.line === undefined) return at ?? frames[frames.length - 1];
  const paths = [...new Set(frames.map((f) => f.path).reverse())];
  for (const p of paths) {
    const text = readLine(p, at.line);
    if (text !== undefined && text.length >= at.column && /\{[{%]/.test(text)) return { ...at, path: p };
  }
  return at;
}

function fileLine(file: string, line: number): string | undefined {
  try {
    return readFileSync(file, 'utf8').split('\n')[line - 1];
  } catch {
    return undefined;
  }
}

/**
 * Turn what nunjucks threw into a RenderError for `template`. `failure` is what a filter or
 * helper threw during the render (nunjucks gives those no line; the undefined value they leave
 * behind is then reported at its line, and the filter's reason replaces nunjucks' generic one).
 */
export function fromNunjucksError(template: string, err: unknown, failure?: unknown): RenderError {
  if (failure instanceof RenderError) return failure;
  if (err instanceof RenderError) return err;
  const e = err as { message?: unknown; cause?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const frames: Frame[] = [];
  const reasonLines: string[] = [];
  for (const text of message.split('\n')) {
    const m = FRAME.exec(text);
    if (!m) {
      reasonLines.push(text.trim().replace(/^(?:Template render error: )+/, ''));
      continue;
    }
    const frame: Frame = { path: m[1] ?? '' };
    if (m[2] !== undefined) frame.line = Number(m[2]);
    if (m[3] !== undefined) frame.column = Number(m[3]);
    frames.push(frame);
  }
  const at = locateFrame(
    frames.filter((f) => f.path !== 'unknown path'),
    fileLine,
  );
  let reason = reasonLines.filter(Boolean).join(' ') || 'template error';
  reason = reason.replace(/^(Error|TypeError|RangeError): /, '');
  if (failure !== undefined) {
    reason = failure instanceof Error ? failure.message : String(failure);
  } else if (/^template not found: /.test(reason)) {
    reason = reason.replace(/^template not found: (.*)$/, 'template not found: $1 (looked in the operator templates_dir, then the built-in templates)');
  } else if (reason === UNDEFINED_OUTPUT) {
    reason = 'a variable or attribute is undefined (undefined values are errors; use `| default(...)` for optional ones)';
  }
  const details: RenderErrorDetails = { template, reason, lineOf: 'template' };
  if (at?.path) details.file = at.path;
  if (at?.line !== undefined && at.line > 0) details.line = at.line;
  if (at?.column !== undefined && at.column > 0) details.column = at.column;
  return new RenderError(details, { cause: failure ?? e?.cause ?? err });
}
