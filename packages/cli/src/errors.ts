/**
 * The three ways a cocoonctl run can fail, each with its exit code: the user asked for something
 * malformed (2), the server refused or failed the request (1), or the server could not be reached (1).
 */

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Bad command line, bad value or bad client configuration: nothing was sent to the server. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** An RFC 9457 problem document as the Cocoon API sends it (extra members are kept). */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  instance?: string;
  field?: string;
  [member: string]: unknown;
}

/** The server answered with an error status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
    readonly method: string,
    readonly url: string,
  ) {
    super(describeProblem(status, problem));
    this.name = 'ApiError';
  }
}

/** No HTTP answer at all: refused, DNS, TLS, timeout. `endpoint` is what the user should check. */
export class ReachError extends Error {
  constructor(
    readonly endpoint: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot reach ${endpoint}: ${reason}`, options);
    this.name = 'ReachError';
  }
}

/** A failure that is neither usage nor HTTP, e.g. an invalid configuration file in `config validate`. */
export class CommandFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandFailed';
  }
}

function describeProblem(status: number, p: Problem): string {
  const title = p.title?.trim() || `HTTP ${status}`;
  const head = p.title ? `${title} (HTTP ${status})` : title;
  const detail = p.detail?.trim();
  return detail && detail !== title ? `${head}: ${oneLine(detail)}` : head;
}

/** Problem details may span lines (e.g. a render error); stderr gets one line per failure. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' | ').trim();
}

export function exitCodeOf(err: unknown): number {
  return err instanceof UsageError ? EXIT_USAGE : EXIT_FAILED;
}
