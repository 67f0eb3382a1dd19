import express, { type Request, type Response, type Router } from 'express';
import type { Authenticator, Principal, RouteAuth } from './auth.js';
import { HttpError, setErrorStyle, type ErrorStyle } from './problem.js';
import { bodyValidator, checkParam, type BodyValidator, type JsonSchema, type ParamKindName } from './validate.js';

/**
 * The route table: one definition per route registers the handler (with auth, parameter and body
 * validation) and produces that route's part of the OpenAPI document, so the two cannot drift.
 */
export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface QueryParam {
  description: string;
  /** JSON Schema of the value as the client means it; query strings are checked against `pattern`/`enum`. */
  schema: JsonSchema & { type: 'string' | 'integer' | 'boolean' };
}

export interface ResponseDoc {
  description: string;
  /** Content type -> schema ({} for "any"). Omitted: no body. */
  content?: Record<string, JsonSchema>;
  headers?: Record<string, { description: string; schema: JsonSchema }>;
}

export interface RouteContext<B> {
  req: Request;
  res: Response;
  /** The validated body (undefined when the route takes none). */
  body: B;
  /** Validated path parameters. */
  params: Record<string, string>;
  /** Declared query parameters (strings as sent; validated against their schema). */
  query: Record<string, string | undefined>;
  /** Who authenticated; undefined on public routes. */
  principal: Principal | undefined;
}

export interface RouteSpec<B> {
  method: Method;
  /** Express path syntax (":serial"); converted to "{serial}" in the document. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  auth: RouteAuth;
  params?: Record<string, { kind: ParamKindName; description?: string }>;
  query?: Record<string, QueryParam>;
  body?: {
    schema: JsonSchema;
    /** Missing body is treated as {} (reports whose body carries nothing required). */
    optional?: boolean;
    /** mayu clients do not always label JSON; compat routes parse whatever they get. */
    anyContentType?: boolean;
    /** mayu answers malformed or missing JSON with one fixed sentence per route; so do its compat routes. */
    invalidJsonMessage?: string;
    description?: string;
  };
  responses: Record<string, ResponseDoc>;
  /** Compat routes answer errors as mayu did: plain text. */
  errors?: ErrorStyle;
  handler: (ctx: RouteContext<B>) => Promise<void> | void;
}

/** A route with its body type erased, so tables of different routes fit one array. */
export interface Route {
  spec: RouteSpec<unknown>;
  validateBody?: BodyValidator<unknown>;
}

export function route<B = undefined>(spec: RouteSpec<B>): Route {
  const erased = spec as unknown as RouteSpec<unknown>;
  return { spec: erased, ...(spec.body ? { validateBody: bodyValidator<unknown>(spec.body.schema) } : {}) };
}

export interface MountOptions {
  auth: Authenticator;
  /** e.g. "1mb" */
  maxBody: string;
  /** Called once per finished request with the route template (for the latency histogram). */
  observe?: (route: string, method: string, status: number, seconds: number) => void;
}

const JSON_TYPES = ['application/json', 'application/*+json'];

function checkQuery(name: string, spec: QueryParam, raw: unknown): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw new HttpError(400, `${name}: must be given once as a plain value`, name);
  const s = spec.schema;
  const fail = (what: string): never => {
    throw new HttpError(400, `${name}: ${what} (got ${JSON.stringify(raw)})`, name);
  };
  if (s.type === 'integer') {
    if (!/^[0-9]{1,9}$/.test(raw)) fail('must be a non-negative integer');
    const n = Number(raw);
    if (typeof s['minimum'] === 'number' && n < s['minimum']) fail(`must be at least ${s['minimum']}`);
    if (typeof s['maximum'] === 'number' && n > s['maximum']) fail(`must be at most ${s['maximum']}`);
  } else if (s.type === 'boolean') {
    if (!['0', '1', 'true', 'false'].includes(raw)) fail('must be one of 0, 1, true, false');
  } else {
    const allowed = s['enum'] as string[] | undefined;
    if (allowed && !allowed.includes(raw)) fail(`must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`);
    const pattern = s['pattern'] as string | undefined;
    if (pattern && !new RegExp(pattern).test(raw)) fail(`must match ${pattern}`);
    const max = s['maxLength'] as number | undefined;
    if (max !== undefined && raw.length > max) fail(`must be at most ${max} characters`);
  }
  return raw;
}

export function queryFlag(value: string | undefined): boolean {
  return value === '1' || value === 'true';
}

/** Register every route, then a 405 (with Allow) for other methods on the same paths. */
export function mountRoutes(router: Router, routes: Route[], opts: MountOptions): void {
  const strictJson = express.json({ limit: opts.maxBody, type: JSON_TYPES, strict: true });
  const anyJson = express.json({ limit: opts.maxBody, type: () => true, strict: false });
  const methodsByPath = new Map<string, Set<string>>();

  for (const { spec, validateBody } of routes) {
    if (spec.auth === 'compat-admin' && !opts.auth.compatAdminEnabled) continue;
    const allowed = methodsByPath.get(spec.path) ?? new Set<string>();
    allowed.add(spec.method.toUpperCase());
    if (spec.method === 'get') allowed.add('HEAD');
    methodsByPath.set(spec.path, allowed);

    const begin = (req: Request, res: Response, next: (err?: unknown) => void): void => {
      setErrorStyle(res, spec.errors ?? 'problem');
      if (opts.observe) {
        const started = process.hrtime.bigint();
        res.once('finish', () => opts.observe?.(spec.path, req.method, res.statusCode, Number(process.hrtime.bigint() - started) / 1e9));
      }
      // Authenticate before reading a body: an unauthenticated client cannot make us parse 1 MB.
      try {
        res.locals['principal'] = opts.auth.authorize(req, spec.auth);
        const checked: Record<string, string> = {};
        for (const [name, p] of Object.entries(spec.params ?? {})) checked[name] = checkParam(name, p.kind, req.params[name] as string | string[] | undefined);
        res.locals['params'] = checked;
      } catch (err) {
        next(err);
        return;
      }
      next();
    };

    const handlers: express.RequestHandler[] = [begin];
    if (spec.body) {
      if (!spec.body.anyContentType) {
        handlers.push((req, _res, next) => {
          const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
          if (hasBody && !req.is(JSON_TYPES)) {
            next(new HttpError(415, `request body must be JSON (Content-Type: application/json), got ${JSON.stringify(req.headers['content-type'] ?? '')}`, 'Content-Type'));
            return;
          }
          next();
        });
      }
      const parser = spec.body.anyContentType ? anyJson : strictJson;
      const message = spec.body.invalidJsonMessage;
      handlers.push(
        message
          ? (req, res, next) =>
              parser(req, res, (err?: unknown) => next((err as { type?: string } | undefined)?.type === 'entity.parse.failed' ? new HttpError(400, message) : err))
          : parser,
      );
    }
    handlers.push(async (req, res) => {
      const query: Record<string, string | undefined> = {};
      for (const [name, q] of Object.entries(spec.query ?? {})) query[name] = checkQuery(name, q, (req.query as Record<string, unknown>)[name]);
      let body: unknown = undefined;
      if (spec.body && validateBody) {
        // An empty body parses to nothing (or {} with some parsers): it is a missing body either way.
        const empty = req.headers['transfer-encoding'] === undefined && Number(req.headers['content-length'] ?? 0) === 0;
        const missing = empty || req.body === undefined;
        if (missing && !spec.body.optional && spec.body.invalidJsonMessage) throw new HttpError(400, spec.body.invalidJsonMessage);
        const raw: unknown = missing ? (spec.body.optional ? {} : undefined) : (req.body as unknown);
        body = validateBody(raw);
      }
      const params = (res.locals['params'] ?? {}) as Record<string, string>;
      await spec.handler({ req, res, body, params, query, principal: res.locals['principal'] as Principal | undefined });
    });
    router[spec.method](spec.path, ...handlers);
  }

  for (const [path, methods] of methodsByPath) {
    const allow = [...methods].sort().join(', ');
    router.all(path, (req, res, next) => {
      if (req.method === 'OPTIONS') {
        res.setHeader('Allow', `${allow}, OPTIONS`);
        res.status(204).end();
        return;
      }
      next(new HttpError(405, `${req.method} is not allowed on ${req.path}; allowed: ${allow}`, undefined, { Allow: allow }));
    });
  }
}

/** Unknown paths: a problem, never express's HTML page. */
export function notFoundHandler(): express.RequestHandler {
  return (req, _res, next) => next(new HttpError(404, `no route ${req.method} ${req.path}`));
}
