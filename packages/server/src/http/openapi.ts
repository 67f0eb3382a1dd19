import type { Route, RouteSpec } from './routes.js';
import { PARAM_KINDS, type JsonSchema } from './validate.js';

/**
 * The OpenAPI 3.1 document, generated from the same route table that registers the handlers
 * (routes.ts), so the document cannot drift from what the server serves.
 */
export interface OpenApiOptions {
  title: string;
  version: string;
  apiUrl: string;
  bootUrl: string;
  components: Record<string, JsonSchema>;
}

function toOpenApiPath(path: string): string {
  return path.replace(/[:*]([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
}

function operationOf(spec: RouteSpec<unknown>): Record<string, unknown> {
  const parameters: Record<string, unknown>[] = [];
  for (const [name, p] of Object.entries(spec.params ?? {})) {
    const kind = PARAM_KINDS[p.kind];
    parameters.push({ name, in: 'path', required: true, description: p.description ?? kind.description, schema: { type: 'string', pattern: kind.pattern.source } });
  }
  for (const [name, q] of Object.entries(spec.query ?? {})) {
    parameters.push({ name, in: 'query', required: false, description: q.description, schema: q.schema });
  }
  const responses: Record<string, unknown> = {};
  for (const [status, r] of Object.entries(spec.responses)) {
    responses[status] = {
      description: r.description,
      ...(r.content ? { content: Object.fromEntries(Object.entries(r.content).map(([ct, schema]) => [ct, { schema }])) } : {}),
      ...(r.headers ? { headers: r.headers } : {}),
    };
  }
  const problemRef = { $ref: '#/components/schemas/Problem' };
  const errorContent = spec.errors === 'text' ? { 'text/plain': { schema: { type: 'string' } } } : { 'application/problem+json': { schema: problemRef } };
  responses['default'] ??= { description: 'error', content: errorContent };
  const security = spec.auth === 'public' ? [] : spec.auth === 'compat-admin' ? [{}, { bearer: [] }] : [{ bearer: [] }];
  return {
    operationId: spec.operationId,
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    tags: [spec.tag],
    ...(parameters.length ? { parameters } : {}),
    ...(spec.body
      ? {
          requestBody: {
            required: !spec.body.optional,
            ...(spec.body.description ? { description: spec.body.description } : {}),
            content: { 'application/json': { schema: spec.body.schema } },
          },
        }
      : {}),
    responses,
    security,
    ...(spec.auth === 'read' || spec.auth === 'admin' ? { 'x-cocoon-scope': spec.auth } : {}),
  };
}

/** Build the document. Boot-port routes carry their own `servers` (the boot port's public URL). */
export function openApiDocument(apiRoutes: Route[], bootRoutes: Route[], opts: OpenApiOptions): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const add = (routes: Route[], servers?: { url: string; description: string }[]): void => {
    for (const { spec } of routes) {
      const p = toOpenApiPath(spec.path);
      const item = (paths[p] ??= servers ? { servers } : {});
      item[spec.method] = operationOf(spec);
    }
  };
  add(apiRoutes);
  add(bootRoutes, [{ url: opts.bootUrl, description: 'boot port (plain HTTP, no authentication)' }]);
  return {
    openapi: '3.1.0',
    info: { title: opts.title, version: opts.version, description: 'Cocoon provisioner: REST API (API port) and boot routes (boot port).' },
    servers: [{ url: opts.apiUrl, description: 'API port' }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A token from auth.tokens in the configuration (scope read or admin).' } },
      schemas: opts.components,
    },
  };
}
