import express, { type Express } from 'express';
import type { Logger } from 'winston';
import type { CocoonConfig } from '../config/types.js';
import { parseEventFilter, streamEvents, type EventBus } from '../events/index.js';
import type { MachineState } from '../lifecycle/states.js';
import type { MachineFilter, MachineStore } from '../store/types.js';
import { normalizeMac } from '../util/mac.js';
import { notFound } from '../util/errors.js';
import type { Authenticator } from './auth.js';
import { compatAdminRoutes } from './compat-mayu.js';
import { requestObserver, type Metrics } from './metrics.js';
import { HttpError, problemHandler } from './problem.js';
import type { DnsmasqHealth, Machine, OperatorAudit, OperatorPatch, ProvisionerPort } from './ports.js';
import { openApiDocument } from './openapi.js';
import { mountRoutes, notFoundHandler, queryFlag, route, type Route, type RouteContext } from './routes.js';
import { COMPONENTS, DECLARE_BODY, OVERRIDE_BODY, PATCH_BODY, REASON_BODY, STATE_BODY, ref } from './schemas.js';
import { normalizeSerialParam } from './validate.js';

export type PreviewKind = 'ipxe' | 'first-stage' | 'ignition' | 'config';

export interface Previewer {
  preview(kind: PreviewKind, machine: Machine): Promise<{ contentType: string; body: string }>;
}

export interface ApiDeps {
  config: CocoonConfig;
  store: MachineStore;
  provisioner: ProvisionerPort;
  events: EventBus;
  previewer: Previewer;
  metrics: Metrics;
  auth: Authenticator;
  log: Logger;
  version: string;
  startedAt: Date;
  dnsmasqHealth?: () => DnsmasqHealth | undefined;
  /** The boot routes, so the OpenAPI document covers both ports. */
  bootRoutes: Route[];
  /** Open SSE streams register their stop function here so shutdown can end them. */
  streams: Set<() => void>;
}

const SERIAL = { serial: { kind: 'serial' as const } };
const JSON_MACHINE = { 'application/json': ref('Machine') };
const MAX_LIST = 10_000;

function audit(ctx: RouteContext<unknown>, reason?: string): OperatorAudit {
  return { operator: ctx.principal?.name ?? 'anonymous', ...(reason ? { reason } : {}) };
}

function serialOf(ctx: RouteContext<unknown>): string {
  return normalizeSerialParam(ctx.params['serial'] ?? '');
}

/** A machine by its path serial, or a 404 that names it. */
function machineOf(store: MachineStore, ctx: RouteContext<unknown>): Machine {
  const serial = serialOf(ctx);
  const m = store.get(serial);
  if (!m) throw notFound('machine', serial);
  return m;
}

export function apiRoutes(d: ApiDeps): Route[] {
  const { store, provisioner } = d;
  let document: Record<string, unknown> | undefined;
  const routes: Route[] = [
    route({
      method: 'get',
      path: '/healthz',
      operationId: 'health',
      summary: 'Liveness: the server answers and its store is open; whether dnsmasq runs (details in /api/v1/status)',
      tag: 'server',
      auth: 'public',
      responses: { '200': { description: 'healthy', content: { 'application/json': { type: 'object' } } } },
      handler: ({ res }) => {
        // Public: dnsmasq's up/down and restart count only, no PIDs or exit reasons. A dnsmasq
        // that is down does not make the server unhealthy: it is being restarted.
        const dnsmasq = d.config.dnsmasq.enabled ? d.dnsmasqHealth?.() : undefined;
        res.json({ status: 'ok', machines: store.count(), ...(dnsmasq && { dnsmasq: { running: dnsmasq.running, restarts: dnsmasq.restarts } }) });
      },
    }),
    route({
      method: 'get',
      path: '/metrics',
      operationId: 'metrics',
      summary: 'Prometheus metrics',
      tag: 'server',
      auth: 'read',
      responses: { '200': { description: 'text exposition format', content: { 'text/plain': { type: 'string' } } } },
      handler: async ({ res }) => {
        const body = await d.metrics.registry.metrics();
        res.type(d.metrics.registry.contentType).send(body);
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/openapi.json',
      operationId: 'openapi',
      summary: 'This document',
      tag: 'server',
      auth: 'public',
      responses: { '200': { description: 'OpenAPI 3.1', content: { 'application/json': { type: 'object' } } } },
      handler: ({ res }) => {
        res.json(openApi());
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/status',
      operationId: 'status',
      summary: 'Server and dnsmasq health, versions, machine counts',
      tag: 'server',
      auth: 'read',
      responses: { '200': { description: 'status', content: { 'application/json': { type: 'object' } } } },
      handler: ({ res }) => {
        const byState: Record<string, number> = {};
        for (const c of store.counts()) byState[c.state] = (byState[c.state] ?? 0) + c.count;
        res.json({
          version: d.version,
          node: process.version,
          startedAt: d.startedAt.toISOString(),
          uptimeSeconds: Math.round((Date.now() - d.startedAt.getTime()) / 1000),
          machines: { total: store.count(), byState },
          git: d.config.git.enabled,
          dnsmasq: d.config.dnsmasq.enabled ? (d.dnsmasqHealth?.() ?? { running: false, restarts: 0 }) : { enabled: false },
          bootUrl: d.config.http.boot.public_url,
        });
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/machines',
      operationId: 'listMachines',
      summary: 'List machines (stable order: InternalAddr, then serial)',
      tag: 'machines',
      auth: 'read',
      query: {
        state: { description: 'only machines in this state', schema: { type: 'string', enum: ['unknown', 'configured', 'installing', 'installed', 'running', 'failed'] } },
        profile: { description: 'only machines of this profile', schema: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' } },
        mac: { description: 'only the machine with this MAC', schema: { type: 'string', pattern: '^([0-9A-Fa-f]{2}[:-]?){5}[0-9A-Fa-f]{2}$' } },
        limit: { description: `page size (default 1000, at most ${MAX_LIST})`, schema: { type: 'integer', minimum: 1, maximum: MAX_LIST } },
        offset: { description: 'machines to skip', schema: { type: 'integer', minimum: 0 } },
      },
      responses: { '200': { description: 'a page of machines', content: { 'application/json': ref('MachineList') } } },
      handler: ({ res, query }) => {
        const filter: MachineFilter = {};
        if (query['state']) filter.state = query['state'] as MachineState;
        if (query['profile']) filter.profile = query['profile'];
        if (query['mac']) filter.mac = normalizeMac(query['mac']) ?? query['mac'];
        const offset = Number(query['offset'] ?? 0);
        const limit = Number(query['limit'] ?? 1000);
        // The page arrives as JSON text joined from the stored records: no record is parsed or
        // serialised per request, whatever the fleet size.
        const page = store.page(filter, offset, limit);
        res.type('application/json').send(`{"total":${page.total},"offset":${JSON.stringify(offset)},"limit":${JSON.stringify(limit)},"machines":${page.json}}`);
      },
    }),
    route<{ mac: string; serial?: string; hostname?: string; ip?: string; profile?: string; reason?: string }>({
      method: 'post',
      path: '/api/v1/machines',
      operationId: 'declareMachine',
      summary: 'Declare a machine before its first boot (MAC, and optionally serial, hostname, address, profile)',
      tag: 'machines',
      auth: 'admin',
      body: { schema: DECLARE_BODY },
      responses: { '201': { description: 'declared', content: JSON_MACHINE } },
      handler: async (ctx) => {
        const { reason, ...decl } = ctx.body;
        const m = await provisioner.declare({ ...decl, mac: normalizeMac(decl.mac) ?? decl.mac }, audit(ctx, reason));
        ctx.res.status(201).location(`/api/v1/machines/${encodeURIComponent(m.Serial)}`).json(m);
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/machines/:serial',
      operationId: 'getMachine',
      summary: 'One machine',
      tag: 'machines',
      auth: 'read',
      params: SERIAL,
      responses: { '200': { description: 'the record', content: JSON_MACHINE } },
      handler: (ctx) => {
        ctx.res.json(machineOf(store, ctx));
      },
    }),
    route<OperatorPatch & { reason?: string }>({
      method: 'patch',
      path: '/api/v1/machines/:serial',
      operationId: 'patchMachine',
      summary: 'Change operator fields (ProviderId, IPMIAddr, FleetMetadata, Cabinet, MachineOnCabinet, EtcdClusterToken, Profile)',
      tag: 'machines',
      auth: 'admin',
      params: SERIAL,
      body: { schema: PATCH_BODY },
      responses: { '200': { description: 'the updated record', content: JSON_MACHINE } },
      handler: async (ctx) => {
        const { reason, ...fields } = ctx.body;
        if (Object.keys(fields).length === 0) throw new HttpError(400, 'body: name at least one field to change besides reason');
        ctx.res.json(await provisioner.patch(serialOf(ctx), fields, audit(ctx, reason)));
      },
    }),
    route<{ state: MachineState; reason: string }>({
      method: 'put',
      path: '/api/v1/machines/:serial/state',
      operationId: 'setState',
      summary: 'Force a state with a reason (configured = reinstall on next boot)',
      tag: 'machines',
      auth: 'admin',
      params: SERIAL,
      body: { schema: STATE_BODY },
      responses: { '200': { description: 'the updated record', content: JSON_MACHINE } },
      handler: async (ctx) => {
        ctx.res.json(await provisioner.setState(serialOf(ctx), ctx.body.state, audit(ctx, ctx.body.reason)));
      },
    }),
    route<{ value: unknown; reason?: string }>({
      method: 'put',
      path: '/api/v1/machines/:serial/overrides/:key',
      operationId: 'setOverride',
      summary: "Set one of the machine's template overrides",
      tag: 'machines',
      auth: 'admin',
      params: { ...SERIAL, key: { kind: 'key' } },
      body: { schema: OVERRIDE_BODY },
      responses: { '200': { description: 'the updated record', content: JSON_MACHINE } },
      handler: async (ctx) => {
        ctx.res.json(await provisioner.setOverride(serialOf(ctx), ctx.params['key'] ?? '', ctx.body.value, audit(ctx, ctx.body.reason)));
      },
    }),
    route({
      method: 'delete',
      path: '/api/v1/machines/:serial/overrides/:key',
      operationId: 'unsetOverride',
      summary: "Remove one of the machine's template overrides",
      tag: 'machines',
      auth: 'admin',
      params: { ...SERIAL, key: { kind: 'key' } },
      query: { reason: { description: 'why (audit commit)', schema: { type: 'string', maxLength: 1000 } } },
      responses: { '200': { description: 'the updated record', content: JSON_MACHINE } },
      handler: async (ctx) => {
        ctx.res.json(await provisioner.setOverride(serialOf(ctx), ctx.params['key'] ?? '', undefined, audit(ctx, ctx.query['reason'])));
      },
    }),
    route<{ reason: string }>({
      method: 'post',
      path: '/api/v1/machines/:serial/rescue',
      operationId: 'requestRescue',
      summary: 'Boot the rescue image once on the next PXE boot',
      tag: 'machines',
      auth: 'admin',
      params: SERIAL,
      body: { schema: REASON_BODY },
      responses: { '200': { description: 'the updated record', content: JSON_MACHINE } },
      handler: async (ctx) => {
        ctx.res.json(await provisioner.requestRescue(serialOf(ctx), audit(ctx, ctx.body.reason)));
      },
    }),
    route({
      method: 'delete',
      path: '/api/v1/machines/:serial',
      operationId: 'decommission',
      summary: 'Decommission: remove the record (the removal is an audit commit; history keeps it)',
      tag: 'machines',
      auth: 'admin',
      params: SERIAL,
      query: { reason: { description: 'why (required; audit commit)', schema: { type: 'string', maxLength: 1000 } } },
      responses: { '204': { description: 'removed' } },
      handler: async (ctx) => {
        const reason = ctx.query['reason'];
        if (!reason) throw new HttpError(400, 'reason: a reason is required to decommission a machine (?reason=...)', 'reason');
        await provisioner.decommission(serialOf(ctx), audit(ctx, reason));
        ctx.res.status(204).end();
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/machines/:serial/history',
      operationId: 'history',
      summary: "The machine's audit history (git log of its record), newest first",
      tag: 'machines',
      auth: 'read',
      params: SERIAL,
      query: {
        patch: { description: 'include the diff of each commit', schema: { type: 'boolean' } },
        limit: { description: 'at most this many entries (default 100)', schema: { type: 'integer', minimum: 1, maximum: 10_000 } },
      },
      responses: { '200': { description: 'history', content: { 'application/json': { type: 'object', properties: { serial: { type: 'string' }, history: { type: 'array', items: ref('HistoryEntry') } } } } } },
      handler: async (ctx) => {
        const serial = serialOf(ctx);
        const history = await store.history(serial, { patch: queryFlag(ctx.query['patch']), limit: Number(ctx.query['limit'] ?? 100) });
        if (history.length === 0 && !store.get(serial)) throw notFound('machine', serial);
        ctx.res.json({ serial, history });
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/machines/:serial/render/:kind',
      operationId: 'preview',
      summary: 'Preview a rendered artefact for the machine (nothing is recorded)',
      tag: 'machines',
      auth: 'read',
      params: { ...SERIAL, kind: { kind: 'kind' } },
      responses: { '200': { description: 'the artefact as the machine would get it', content: { 'text/plain': { type: 'string' }, 'application/json': { type: 'object' } } } },
      handler: async (ctx) => {
        const out = await d.previewer.preview(ctx.params['kind'] as PreviewKind, machineOf(store, ctx));
        ctx.res.type(out.contentType).send(out.body);
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/machines/:serial/timeline',
      operationId: 'timeline',
      summary: "The machine's boot timeline (dnsmasq, server and agent events); ?follow=1 or Accept: text/event-stream streams it",
      tag: 'events',
      auth: 'read',
      params: SERIAL,
      query: {
        limit: { description: 'at most this many events', schema: { type: 'integer', minimum: 1, maximum: 10_000 } },
        follow: { description: 'stream new events (SSE) after the timeline', schema: { type: 'boolean' } },
      },
      responses: {
        '200': {
          description: 'events, oldest first',
          content: { 'application/json': { type: 'object', properties: { serial: { type: 'string' }, events: { type: 'array', items: ref('Event') } } }, 'text/event-stream': { type: 'string' } },
        },
      },
      handler: (ctx) => {
        const serial = serialOf(ctx);
        const limit = ctx.query['limit'] ? Number(ctx.query['limit']) : undefined;
        if (queryFlag(ctx.query['follow']) || ctx.req.accepts(['application/json', 'text/event-stream']) === 'text/event-stream') {
          stream(ctx, { serial });
          return;
        }
        ctx.res.json({ serial, events: d.events.timeline(serial, limit) });
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/events',
      operationId: 'events',
      summary: 'Live event stream (SSE; Last-Event-ID replays recent events)',
      tag: 'events',
      auth: 'read',
      query: {
        mac: { description: 'only events of this MAC', schema: { type: 'string', maxLength: 64 } },
        serial: { description: 'only events of this machine', schema: { type: 'string', maxLength: 128 } },
        type: { description: 'comma-separated event types', schema: { type: 'string', maxLength: 1000 } },
        source: { description: 'dnsmasq, server or agent', schema: { type: 'string', enum: ['dnsmasq', 'server', 'agent'] } },
        limit: { description: 'with Accept: application/json, at most this many recent events', schema: { type: 'integer', minimum: 1, maximum: 10_000 } },
      },
      responses: {
        '200': {
          description: 'text/event-stream of Event; with Accept: application/json the recent events as JSON',
          content: { 'text/event-stream': ref('Event'), 'application/json': { type: 'object', properties: { events: { type: 'array', items: ref('Event') } } } },
        },
      },
      handler: (ctx) => {
        const { limit, ...rest } = ctx.query;
        const filter = parseEventFilter(rest);
        if (ctx.req.accepts(['text/event-stream', 'application/json']) === 'application/json') {
          const recent = d.events.recent(filter);
          ctx.res.json({ events: recent.slice(Math.max(0, recent.length - Number(limit ?? 100))) });
          return;
        }
        stream(ctx, filter);
      },
    }),
    ...compatAdminRoutes({ store, provisioner }),
  ];
  return routes;

  function stream(ctx: RouteContext<unknown>, filter: ReturnType<typeof parseEventFilter>): void {
    // HEAD gets the stream's headers, not a stream that never ends.
    if (ctx.req.method === 'HEAD') {
      ctx.res.status(200).type('text/event-stream').end();
      return;
    }
    const stop = streamEvents(d.events, filter, ctx.req, ctx.res);
    d.streams.add(stop);
    ctx.res.once('close', () => d.streams.delete(stop));
  }

  function openApi(): Record<string, unknown> {
    return (document ??= openApiDocument(routes, d.bootRoutes, {
      title: 'Cocoon',
      version: d.version,
      apiUrl: `${d.config.http.api.tls ? 'https' : 'http'}://${d.config.http.api.listen}:${d.config.http.api.port}`,
      bootUrl: d.config.http.boot.public_url,
      components: COMPONENTS,
    }));
  }
}

/** The API port application: /api/v1, /healthz, /metrics and mayu's /admin routes. */
export function createApiApp(d: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const router = express.Router({ caseSensitive: true, strict: false });
  mountRoutes(router, apiRoutes(d), { auth: d.auth, maxBody: d.config.http.api.max_body, observe: requestObserver(d.metrics, d.log) });
  app.use(router);
  app.use(notFoundHandler());
  app.use(problemHandler(d.log));
  return app;
}

