import express, { type Express, type Response } from 'express';
import type { Logger } from 'winston';
import type { CocoonConfig } from '../config/types.js';
import type { EventBus } from '../events/index.js';
import type { MachineStore } from '../store/types.js';
import { notFound } from '../util/errors.js';
import type { Authenticator } from './auth.js';
import { compatBootRoutes } from './compat-mayu.js';
import { AGENT_FACTS_SCHEMA, reportFromAgentFacts, type AgentFactsBody } from './enroll-body.js';
import { requestObserver, type Metrics } from './metrics.js';
import type { Machine, ProvisionerPort } from './ports.js';
import { HttpError, problemHandler } from './problem.js';
import { mountRoutes, notFoundHandler, route, type Route, type RouteContext } from './routes.js';
import { sendFile } from './send-file.js';
import { normalizeSerialParam } from './validate.js';

/** A rendered artefact as served. */
export interface Rendered {
  contentType: string;
  body: string;
}

export interface BootQuery {
  serial?: string;
  uuid?: string;
  mac?: string;
  arch?: string;
  platform?: string;
}

export interface MachineScript {
  rendered: Rendered;
  serial: string;
  machine: Machine | undefined;
  /** The one-shot rescue script was rendered (clear the pending rescue). */
  rescue: boolean;
  /** Set when the machine's own script failed to render and the failsafe was served: the error. */
  failsafe?: string;
}

export interface ImageFile {
  path: string;
  size: number;
  sha256?: string;
}

/**
 * Everything the boot port serves that is computed elsewhere (renderer, images, agent files),
 * behind one narrow interface (implemented by artefacts.ts).
 */
export interface BootArtefacts {
  chain(q: BootQuery): Promise<Rendered>;
  /** The per-machine script; `serial` is the identity the script was rendered for. */
  machineScript(q: BootQuery): Promise<MachineScript>;
  firstStage(serial: string): Promise<Rendered>;
  firstStageIgnition(serial: string): Promise<Rendered>;
  finalConfig(machine: Machine): Promise<Rendered>;
  image(serial: string, file: string): Promise<ImageFile | undefined>;
  /** Absolute path of an agent artefact, or undefined when it is not built. */
  agentFile(name: 'cocoon-agent.js' | 'cocoon-agent.gz' | 'hostinfo-helper'): string | undefined;
}

export interface BootDeps {
  config: CocoonConfig;
  store: MachineStore;
  provisioner: ProvisionerPort;
  events: EventBus;
  artefacts: BootArtefacts;
  metrics: Metrics;
  auth: Authenticator;
  log: Logger;
}

const TEXT = { 'text/plain': { type: 'string' } };
const SERIAL = { serial: { kind: 'serial' as const } };
const NO_CONTENT = { '204': { description: 'recorded' } };

function send(res: Response, r: Rendered): void {
  res.setHeader('Cache-Control', 'no-store');
  res.status(200).type(r.contentType).send(r.body);
}

export function bootRoutes(d: BootDeps): Route[] {
  const { store, provisioner, artefacts, events } = d;
  const serialOf = (ctx: RouteContext<unknown>): string => normalizeSerialParam(ctx.params['serial'] ?? '');
  const seen = (serial: string | undefined, message: string, mac?: string): void => {
    events.publish({ source: 'server', type: 'http-boot', message, ...(serial ? { serial } : {}), ...(mac ? { mac } : {}) });
  };
  const bootQuery = {
    serial: { description: 'iPXE ${serial} (DMI product serial)', schema: { type: 'string' as const, maxLength: 256 } },
    uuid: { description: 'iPXE ${uuid} (SMBIOS UUID)', schema: { type: 'string' as const, maxLength: 64 } },
    mac: { description: 'iPXE ${net0/mac} or ${mac}', schema: { type: 'string' as const, maxLength: 64 } },
    arch: { description: 'iPXE ${buildarch}', schema: { type: 'string' as const, pattern: '^[A-Za-z0-9_]{0,32}$' } },
    platform: { description: 'iPXE ${platform}', schema: { type: 'string' as const, pattern: '^[A-Za-z0-9_]{0,32}$' } },
  };
  const agentRoute = (name: 'cocoon-agent.js' | 'cocoon-agent.gz', contentType: string): Route =>
    route({
      method: 'get',
      path: `/agent/${name}`,
      operationId: name === 'cocoon-agent.js' ? 'agentJs' : 'agentGz',
      summary: name === 'cocoon-agent.js' ? 'The hardware agent as one JavaScript bundle' : 'The hardware agent as a gzip-compressed executable',
      tag: 'boot',
      auth: 'public',
      responses: { '200': { description: 'the file (Range, ETag, HEAD)', content: { [contentType]: {} } } },
      handler: async ({ req, res }) => {
        const file = artefacts.agentFile(name);
        if (!file) throw new HttpError(404, `${name} is not built on this server (pnpm build in packages/first-stage)`);
        await sendFile(req, res, file, { contentType, onAbort: (err) => d.log.debug('agent download aborted', { err: String(err) }) });
      },
    });

  return [
    route({
      method: 'get',
      path: '/ipxe',
      operationId: 'ipxeChain',
      summary: "Generic iPXE script: chains to the per-machine script with the machine's identity",
      tag: 'boot',
      auth: 'public',
      responses: { '200': { description: 'iPXE script', content: TEXT } },
      handler: async ({ res }) => {
        send(res, await artefacts.chain({}));
      },
    }),
    route({
      method: 'get',
      path: '/ipxe/machine',
      operationId: 'ipxeMachine',
      summary: 'Per-machine iPXE script (by state and profile: first stage, live boot, local disk)',
      tag: 'boot',
      auth: 'public',
      query: bootQuery,
      responses: { '200': { description: 'iPXE script', content: TEXT } },
      handler: async ({ res, query }) => {
        const q: Record<string, string> = {};
        for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q[k] = v;
        const out = await artefacts.machineScript(q);
        if (out.failsafe !== undefined) {
          d.log.warn('per-machine iPXE script failed to render; serving the failsafe script', { serial: out.serial, err: out.failsafe });
          // Recorded on the machine (history once per distinct error, timeline every time);
          // a failing write must not cost the machine its script.
          await provisioner.failsafeServed(out.serial, out.failsafe, q['mac']).catch((err: unknown) => d.log.error('recording the failsafe boot failed', { serial: out.serial, err: String(err) }));
        } else {
          // Rescue is one-shot: cleared once its script is handed out, so the next boot is normal.
          if (out.rescue) await provisioner.rescueServed(out.serial);
          else if (out.machine?.Failsafe !== undefined) await provisioner.failsafeCleared(out.serial);
        }
        seen(out.serial, `iPXE script (${out.failsafe !== undefined ? 'failsafe' : out.rescue ? 'rescue' : (out.machine?.State ?? 'unknown')})`, q['mac']);
        send(res, out.rendered);
      },
    }),
    route({
      method: 'get',
      path: '/first-stage/:serial',
      operationId: 'firstStage',
      summary: 'First-stage script (POSIX sh) for the machine',
      tag: 'boot',
      auth: 'public',
      params: SERIAL,
      responses: { '200': { description: 'shell script', content: { 'text/x-shellscript': { type: 'string' } } } },
      handler: async (ctx) => {
        const serial = serialOf(ctx);
        seen(serial, 'first-stage script');
        send(ctx.res, await artefacts.firstStage(serial));
      },
    }),
    route({
      method: 'get',
      path: '/first-stage/:serial/ignition.json',
      operationId: 'firstStageIgnition',
      summary: 'Ignition for a PXE-booted OS environment that runs the first stage',
      tag: 'boot',
      auth: 'public',
      params: SERIAL,
      responses: { '200': { description: 'Ignition JSON', content: { 'application/json': { type: 'object' } } } },
      handler: async (ctx) => {
        send(ctx.res, await artefacts.firstStageIgnition(serialOf(ctx)));
      },
    }),
    agentRoute('cocoon-agent.js', 'text/javascript'),
    agentRoute('cocoon-agent.gz', 'application/gzip'),
    route<AgentFactsBody>({
      method: 'post',
      path: '/enroll',
      operationId: 'enroll',
      summary: "The agent's hardware facts: enrolls the machine (state installing) and answers with its final config",
      tag: 'boot',
      auth: 'public',
      body: { schema: AGENT_FACTS_SCHEMA, description: 'AgentFacts (packages/first-stage facts.ts)' },
      responses: {
        '200': {
          description: 'the final config (Ignition JSON or cloud-config)',
          content: { 'application/json': { type: 'object' }, 'text/cloud-config': { type: 'string' } },
          headers: { 'Cocoon-Serial': { description: 'the serial the machine was filed under', schema: { type: 'string' } } },
        },
      },
      handler: async ({ res, body }) => {
        const machine = await provisioner.enroll(reportFromAgentFacts(body));
        const config = await artefacts.finalConfig(machine);
        res.setHeader('Cocoon-Serial', machine.Serial);
        send(res, config);
      },
    }),
    route({
      method: 'get',
      path: '/config/:serial',
      operationId: 'finalConfig',
      summary: "The machine's final config again (live boots fetch it on every boot)",
      tag: 'boot',
      auth: 'public',
      params: SERIAL,
      responses: { '200': { description: 'Ignition JSON or cloud-config', content: { 'application/json': { type: 'object' }, 'text/cloud-config': { type: 'string' } } } },
      handler: async (ctx) => {
        const serial = serialOf(ctx);
        const machine = store.get(serial);
        if (!machine) throw notFound('machine', serial);
        seen(serial, 'final config');
        send(ctx.res, await artefacts.finalConfig(machine));
      },
    }),
    route<{ message: string }>({
      method: 'post',
      path: '/machines/:serial/progress',
      operationId: 'reportProgress',
      summary: 'First-stage progress line (becomes a timeline event, also before the machine is enrolled)',
      tag: 'reports',
      auth: 'public',
      params: SERIAL,
      body: { schema: { type: 'object', required: ['message'], properties: { message: { type: 'string', minLength: 1, maxLength: 2000 } } } },
      responses: NO_CONTENT,
      handler: (ctx) => {
        const serial = serialOf(ctx);
        // The first stage reports before it has enrolled: those lines still belong on the
        // machine's timeline (bounded per machine; nothing is stored).
        if (store.get(serial)) provisioner.reportProgress(serial, ctx.body.message);
        else events.publish({ source: 'agent', type: 'progress', serial, message: ctx.body.message });
        ctx.res.status(204).end();
      },
    }),
    route<Record<string, unknown>>({
      method: 'post',
      path: '/machines/:serial/installed',
      operationId: 'reportInstalled',
      summary: 'The first stage wrote the OS and config (state installed)',
      tag: 'reports',
      auth: 'public',
      params: SERIAL,
      body: { schema: { type: 'object' }, optional: true },
      responses: NO_CONTENT,
      handler: async (ctx) => {
        await provisioner.reportInstalled(serialOf(ctx), ctx.body);
        ctx.res.status(204).end();
      },
    }),
    route<{ reason: string }>({
      method: 'post',
      path: '/machines/:serial/failed',
      operationId: 'reportFailed',
      summary: 'An install step failed (state failed, with the reason)',
      tag: 'reports',
      auth: 'public',
      params: SERIAL,
      body: { schema: { type: 'object', required: ['reason'], properties: { reason: { type: 'string', minLength: 1, maxLength: 4000 } } } },
      responses: NO_CONTENT,
      handler: async (ctx) => {
        await provisioner.reportFailed(serialOf(ctx), ctx.body.reason);
        ctx.res.status(204).end();
      },
    }),
    route<{ versions?: Record<string, string> }>({
      method: 'post',
      path: '/machines/:serial/boot-complete',
      operationId: 'reportBootComplete',
      summary: 'The installed OS booted (state running, LastBoot, BootCount, versions)',
      tag: 'reports',
      auth: 'public',
      params: SERIAL,
      body: {
        schema: { type: 'object', properties: { versions: { type: 'object', maxProperties: 64, additionalProperties: { type: 'string', maxLength: 256 } } } },
        optional: true,
      },
      responses: NO_CONTENT,
      handler: async (ctx) => {
        await provisioner.bootComplete(serialOf(ctx), ctx.body.versions ?? {});
        ctx.res.status(204).end();
      },
    }),
    route({
      method: 'get',
      path: '/images/:serial/*file',
      operationId: 'image',
      summary: "A file of the machine's OS version (override > machine > profile > default); Range, ETag, HEAD",
      tag: 'boot',
      auth: 'public',
      params: { serial: { kind: 'serial' }, file: { kind: 'image' } },
      responses: {
        '200': { description: 'the file', content: { 'application/octet-stream': {} } },
        '206': { description: 'one range of the file', content: { 'application/octet-stream': {} } },
        '304': { description: 'not modified (If-None-Match)' },
        '416': { description: 'range not satisfiable' },
      },
      handler: async (ctx) => {
        const serial = serialOf(ctx);
        const file = ctx.params['file'] ?? '';
        const image = await artefacts.image(serial, file);
        if (!image) throw new HttpError(404, `no image file ${JSON.stringify(file)} for machine ${JSON.stringify(serial)}`, 'file');
        if (ctx.req.method === 'GET' && !ctx.req.headers.range) seen(serial, `image ${file}`);
        await sendFile(ctx.req, ctx.res, image.path, {
          ...(image.sha256 ? { sha256: image.sha256 } : {}),
          onAbort: (err) => d.log.debug('image download aborted', { serial, file, err: String(err) }),
        });
      },
    }),
    ...compatBootRoutes({ store, provisioner, artefacts, send, seen }),
  ];
}

/** The boot port application: firmware, iPXE, first stage, agent reports, images. No auth. */
export function createBootApp(d: BootDeps, routes = bootRoutes(d)): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const router = express.Router({ caseSensitive: true, strict: false });
  mountRoutes(router, routes, {
    auth: d.auth,
    maxBody: d.config.http.api.max_body,
    observe: requestObserver(d.metrics, d.log),
  });
  app.use(router);
  app.use(notFoundHandler());
  app.use(problemHandler(d.log));
  return app;
}

