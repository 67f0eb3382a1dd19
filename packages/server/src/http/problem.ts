import type { ErrorRequestHandler, Request, Response } from 'express';
import { CocoonError, type ErrorKind } from '../util/errors.js';

/**
 * RFC 9457 problem details. Every error the HTTP layer sends is one of these (or, on mayu compat
 * routes, mayu's plain-text equivalent), so clients never see HTML or a stack trace.
 */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** The input at fault: a body field ("State"), a path parameter ("serial") or a query parameter. */
  field?: string;
  instance?: string;
  /** For 405: the methods the resource does support. */
  allow?: string[];
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

const KIND_STATUS: Record<ErrorKind, number> = {
  'not-found': 404,
  invalid: 400,
  conflict: 409,
  exhausted: 409,
  forbidden: 403,
  unavailable: 503,
  internal: 500,
};

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  411: 'Length Required',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** An error raised inside the HTTP layer itself (auth, validation, routing). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export function statusOfKind(kind: ErrorKind): number {
  return KIND_STATUS[kind];
}

export function titleOf(status: number): string {
  return TITLES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error');
}

/** Body-parser and other http-errors style errors carry `status` + `type`; translate their wording. */
interface HttpErrorLike {
  status?: number;
  statusCode?: number;
  type?: string;
  expose?: boolean;
  message?: string;
  limit?: number;
}

function bodyParserDetail(e: HttpErrorLike): string | undefined {
  switch (e.type) {
    case 'entity.too.large':
      return `request body is larger than the limit of ${e.limit ?? '?'} bytes`;
    case 'entity.parse.failed':
      return `request body is not valid JSON: ${e.message ?? 'parse error'}`;
    case 'encoding.unsupported':
      return `unsupported content encoding: ${e.message ?? ''}`.trim();
    case 'charset.unsupported':
      return e.message ?? 'unsupported charset';
    case 'request.aborted':
      return 'request aborted by the client';
    case 'request.size.invalid':
      return 'request body size did not match Content-Length';
    case 'stream.encoding.set':
      return 'internal stream error';
    default:
      return undefined;
  }
}

/** Map anything thrown by a handler to a problem; unknown errors become a generic 500. */
export function toProblem(err: unknown, instance?: string): Problem {
  const base = (status: number, detail: string, field?: string): Problem => ({
    type: 'about:blank',
    title: titleOf(status),
    status,
    detail,
    ...(field ? { field } : {}),
    ...(instance ? { instance } : {}),
  });
  if (err instanceof HttpError) return base(err.status, err.message, err.field);
  // Render errors name template, line and reason; operators need them in the body (issue 3).
  if (err instanceof Error && err.name === 'RenderError') return base(500, err.message);
  if (err instanceof CocoonError) {
    const status = statusOfKind(err.kind);
    // Internal errors may carry paths or library messages: keep them in the log only.
    return base(status, status >= 500 ? 'internal error; see the server log' : err.message, err.field);
  }
  if (err && typeof err === 'object') {
    const e = err as HttpErrorLike;
    const status = e.status ?? e.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 600) {
      const detail = bodyParserDetail(e) ?? (e.expose && e.message ? e.message : titleOf(status));
      return base(status, status >= 500 ? 'internal error; see the server log' : detail);
    }
  }
  return base(500, 'internal error; see the server log');
}

export function sendProblem(res: Response, problem: Problem, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.status(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
}

/** The style of error a route answers with: problem+json, or mayu's plain text on compat routes. */
export type ErrorStyle = 'problem' | 'text';

export function setErrorStyle(res: Response, style: ErrorStyle): void {
  res.locals['errorStyle'] = style;
}

export interface ErrorLog {
  warn(message: string, meta: Record<string, unknown>): void;
  error(message: string, meta: Record<string, unknown>): void;
}

/** The final express error handler: logs server faults with their stack, answers without one. */
export function problemHandler(log: ErrorLog): ErrorRequestHandler {
  return (err: unknown, req: Request, res: Response, _next) => {
    const problem = toProblem(err, req.originalUrl);
    const meta = { method: req.method, url: req.originalUrl, status: problem.status };
    if (problem.status >= 500) log.error('request failed', { ...meta, err: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    else log.warn('request rejected', { ...meta, detail: problem.detail });
    const headers = err instanceof HttpError ? err.headers : {};
    if (res.locals['errorStyle'] === 'text') {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
      res.status(problem.status).type('text/plain').send(problem.detail);
      return;
    }
    sendProblem(res, problem, headers);
  };
}
