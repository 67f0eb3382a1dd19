import type { Response } from 'express';
import { isMachineState, MACHINE_STATES } from '../lifecycle/states.js';
import type { MachineStore } from '../store/types.js';
import { CocoonError } from '../util/errors.js';
import { MAYU_COMPAT_OPERATOR } from './auth.js';
import type { BootArtefacts, Rendered } from './boot-app.js';
import { INFOPUSHER_SCHEMA, reportFromInfopusher, type InfopusherBody } from './enroll-body.js';
import { HttpError } from './problem.js';
import { sendFile } from './send-file.js';
import type { OperatorAudit, OperatorPatch, ProvisionerPort } from './ports.js';
import { route, type Route, type RouteContext } from './routes.js';
import { normalizeSerialParam, type JsonSchema } from './validate.js';

/**
 * mayu 0.11 wire compatibility, admin side (API port): `GET /admin/hosts` and
 * `PUT /admin/host/{serial}/<action>` with mayu's bodies (a host record of which the named field
 * counts), 202 with an empty body on success, 400 with a plain-text reason otherwise. Mapped onto
 * the same Provisioner as /api/v1, minus mayu's bugs: set_state stores what it is told (mayu
 * turned "running" into "configured"), unknown states are refused, the list order is stable.
 */

type HostBody = Record<string, unknown>;

interface CompatDeps {
  store: MachineStore;
  provisioner: ProvisionerPort;
}

const HOST_DOESNT_EXIST = "host doesn't exist";

function compatAudit(ctx: RouteContext<unknown>, action: string): OperatorAudit {
  const operator = ctx.principal?.name ?? MAYU_COMPAT_OPERATOR;
  return { operator, reason: `mayu ${action}` };
}

/** Resolves when `res` can take more data, or is gone. */
function drained(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Bytes of JSON text gathered before one write: large enough to be cheap, small enough to stay light. */
const CHUNK_CHARS = 64 * 1024;

/**
 * Sends `[text,text,…]` + newline (what `JSON.stringify` of the records gives) a chunk at a time,
 * waiting for the socket to drain, so a fleet's host list (megabytes) never sits in memory whole.
 */
async function streamJsonArray(res: Response, texts: Iterable<string>): Promise<void> {
  res.status(200).setHeader('Content-Type', 'application/json; charset=utf-8');
  let chunk = '[';
  let first = true;
  for (const text of texts) {
    chunk += first ? text : `,${text}`;
    first = false;
    if (chunk.length < CHUNK_CHARS) continue;
    if (!res.write(chunk)) await drained(res);
    chunk = '';
    if (res.destroyed) return;
  }
  res.end(`${chunk}]\n`);
}

/** Service errors in mayu's terms: an unknown host is a 400 like any other refusal. */
async function asMayu<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CocoonError && err.kind === 'not-found') throw new HttpError(400, HOST_DOESNT_EXIST);
    if (err instanceof CocoonError && err.kind !== 'internal' && err.kind !== 'unavailable') throw new HttpError(400, err.message, err.field);
    throw err;
  }
}

const VERSION_FIELDS = ['CoreOSVersion', 'DockerVersion', 'EtcdVersion', 'FleetVersion', 'K8sVersion', 'YochuVersion', 'MayuVersion', 'RktVersion'];

interface ActionDef {
  action: string;
  summary: string;
  /** The field(s) that count, as a JSON Schema fragment of the host record. */
  properties: Record<string, JsonSchema>;
  required: string[];
  /** mark_fresh and set_installed read no body (mayu did not either). */
  noBody?: boolean;
  apply: (serial: string, body: HostBody, audit: OperatorAudit) => Promise<unknown>;
}

export function compatAdminRoutes({ store, provisioner }: CompatDeps): Route[] {
  const patchOf = (fields: OperatorPatch) => (serial: string, _b: HostBody, audit: OperatorAudit) => provisioner.patch(serial, fields, audit);
  const actions: ActionDef[] = [
    {
      action: 'set_installed',
      summary: 'The first stage finished installing (state installed)',
      properties: {},
      required: [],
      noBody: true,
      apply: (serial) => provisioner.reportInstalled(serial),
    },
    {
      action: 'boot_complete',
      summary: 'The installed OS booted (state running, LastBoot, versions from the body)',
      properties: Object.fromEntries(VERSION_FIELDS.map((f) => [f, { type: 'string', maxLength: 256 }])),
      required: [],
      apply: (serial, body) => {
        const versions: Record<string, string> = {};
        for (const f of VERSION_FIELDS) if (typeof body[f] === 'string' && body[f] !== '') versions[f] = body[f];
        return provisioner.bootComplete(serial, versions);
      },
    },
    {
      action: 'set_state',
      summary: `Set State (one of ${MACHINE_STATES.join(', ')}); stored as given`,
      properties: { State: { type: 'string', enum: [...MACHINE_STATES] } },
      required: ['State'],
      apply: (serial, body, audit) => {
        const state = body['State'];
        if (!isMachineState(state)) throw new HttpError(400, `unknown state ${JSON.stringify(state)}; allowed: ${MACHINE_STATES.join(', ')}`);
        return provisioner.setState(serial, state, audit);
      },
    },
    {
      action: 'set_metadata',
      summary: 'Set FleetMetadata',
      properties: { FleetMetadata: { type: 'array', items: { type: 'string', maxLength: 1024 }, maxItems: 256 } },
      required: ['FleetMetadata'],
      apply: (serial, body, audit) => patchOf({ FleetMetadata: body['FleetMetadata'] as string[] })(serial, body, audit),
    },
    {
      action: 'set_provider_id',
      summary: 'Set ProviderId',
      properties: { ProviderId: { type: 'string', maxLength: 256 } },
      required: ['ProviderId'],
      apply: (serial, body, audit) => patchOf({ ProviderId: body['ProviderId'] as string })(serial, body, audit),
    },
    {
      action: 'set_ipmi_addr',
      summary: 'Set IPMIAddr',
      properties: { IPMIAddr: { type: 'string', maxLength: 256 } },
      required: ['IPMIAddr'],
      apply: (serial, body, audit) => patchOf({ IPMIAddr: body['IPMIAddr'] as string })(serial, body, audit),
    },
    {
      action: 'set_cabinet',
      summary: 'Set Cabinet (and MachineOnCabinet when given)',
      properties: { Cabinet: { type: 'integer', minimum: 0 }, MachineOnCabinet: { type: 'integer', minimum: 0 } },
      required: ['Cabinet'],
      apply: (serial, body, audit) => {
        const fields: OperatorPatch = { Cabinet: body['Cabinet'] as number };
        if (typeof body['MachineOnCabinet'] === 'number') fields.MachineOnCabinet = body['MachineOnCabinet'];
        return provisioner.patch(serial, fields, audit);
      },
    },
    {
      action: 'set_etcd_cluster_token',
      summary: 'Set EtcdClusterToken',
      properties: { EtcdClusterToken: { type: 'string', maxLength: 1024 } },
      required: ['EtcdClusterToken'],
      apply: (serial, body, audit) => patchOf({ EtcdClusterToken: body['EtcdClusterToken'] as string })(serial, body, audit),
    },
    {
      action: 'override',
      summary: 'Merge Overrides into the machine\'s overrides (this machine only)',
      properties: { Overrides: { type: 'object', propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_.-]{0,127}$' } } },
      required: ['Overrides'],
      apply: async (serial, body, audit) => {
        const overrides = body['Overrides'] as Record<string, unknown>;
        const keys = Object.keys(overrides);
        if (keys.length === 0) throw new HttpError(400, 'nothing to override');
        for (const k of keys) await provisioner.setOverride(serial, k, overrides[k], audit);
      },
    },
    {
      action: 'mark_fresh',
      summary: 'Reinstall on the next boot (state configured)',
      properties: {},
      required: [],
      noBody: true,
      apply: (serial, _b, audit) => provisioner.setState(serial, 'configured', audit),
    },
  ];

  const list = route({
    method: 'get',
    path: '/admin/hosts',
    operationId: 'mayuHosts',
    summary: 'mayu: every host record (conf.json), in a stable order',
    tag: 'mayu',
    auth: 'compat-admin',
    errors: 'text',
    responses: { '200': { description: 'JSON array of host records', content: { 'application/json': { type: 'array', items: { $ref: '#/components/schemas/Machine' } } } } },
    handler: async ({ res }) => {
      await streamJsonArray(res, store.recordTexts());
    },
  });

  const puts = actions.map((a) =>
    route<HostBody>({
      method: 'put',
      path: `/admin/host/:serial/${a.action}`,
      operationId: `mayu_${a.action}`,
      summary: `mayu: ${a.summary}`,
      description: 'Body: a mayu host record (JSON) of which only the named fields count. 202 with an empty body on success; 400 with a plain-text reason for an unknown host or a bad body.',
      tag: 'mayu',
      auth: 'compat-admin',
      errors: 'text',
      params: { serial: { kind: 'serial' } },
      body: {
        schema: { type: 'object', required: a.required, properties: a.properties },
        anyContentType: true,
        optional: a.noBody === true,
        invalidJsonMessage: `unable to parse json data in ${a.action} request`,
      },
      responses: { '202': { description: 'done (empty body)' } },
      handler: async (ctx) => {
        const serial = normalizeSerialParam(ctx.params['serial'] ?? '');
        if (!store.get(serial)) throw new HttpError(400, HOST_DOESNT_EXIST);
        await asMayu(() => a.apply(serial, ctx.body, compatAudit(ctx, a.action)));
        ctx.res.status(202).end();
      },
    }),
  );
  return [list, ...puts];
}

// ---------------------------------------------------------------------------------------------
// Boot side (boot port): what mayu's iPXE script, first-stage script and infopusher fetch.

interface CompatBootDeps {
  store: MachineStore;
  provisioner: ProvisionerPort;
  artefacts: BootArtefacts;
  send: (res: Response, r: Rendered) => void;
  seen: (serial: string | undefined, message: string) => void;
}

export function compatBootRoutes({ provisioner, artefacts, send, seen }: CompatBootDeps): Route[] {
  const finalConfigRoute = (path: string, format: 'ignition' | 'cloud-config', contentType: string): Route =>
    route<InfopusherBody>({
      method: 'post',
      path,
      operationId: format === 'ignition' ? 'mayuFinalIgnition' : 'mayuFinalCloudConfig',
      summary: `mayu: infopusher's facts -> enrollment -> the final ${format === 'ignition' ? 'Ignition config' : 'cloud-config'}`,
      description: 'Body: {"Serial":"…","NetDevs":[{"Name":"eth0","MacAddress":"…"}],"IPMIAddress":"…","ConnectedNIC":"eth0"}. A machine whose profile renders the other format gets a 409 naming the route to use.',
      tag: 'mayu',
      auth: 'public',
      errors: 'text',
      body: { schema: INFOPUSHER_SCHEMA, anyContentType: true, invalidJsonMessage: 'unable to parse json data in final config request' },
      responses: { '200': { description: 'the final config', content: { [contentType]: format === 'ignition' ? { type: 'object' } : { type: 'string' } } } },
      handler: async ({ res, body }) => {
        const machine = await provisioner.enroll(reportFromInfopusher(body));
        const config = await artefacts.finalConfig(machine);
        const isJson = /json/.test(config.contentType);
        if (isJson !== (format === 'ignition')) {
          const other = isJson ? '/final-ignition-config.json' : '/final-cloud-config.yaml';
          throw new HttpError(409, `profile ${JSON.stringify(machine.Profile)} renders ${isJson ? 'Ignition' : 'cloud-config'}; fetch ${other}`);
        }
        res.setHeader('Cocoon-Serial', machine.Serial);
        send(res, config);
      },
    });

  return [
    route({
      method: 'get',
      path: '/ipxebootscript',
      operationId: 'mayuIpxeBootScript',
      summary: "mayu: the iPXE boot script (Cocoon's chain script)",
      tag: 'mayu',
      auth: 'public',
      errors: 'text',
      responses: { '200': { description: 'iPXE script', content: { 'text/plain': { type: 'string' } } } },
      handler: async ({ res }) => {
        send(res, await artefacts.chain({}));
      },
    }),
    route({
      method: 'get',
      path: '/first-stage-script/:serial',
      operationId: 'mayuFirstStageScript',
      summary: 'mayu: the first-stage script of the machine',
      tag: 'mayu',
      auth: 'public',
      errors: 'text',
      params: { serial: { kind: 'serial' } },
      responses: { '200': { description: 'shell script', content: { 'text/x-shellscript': { type: 'string' } } } },
      handler: async (ctx) => {
        const serial = normalizeSerialParam(ctx.params['serial'] ?? '');
        seen(serial, 'first-stage script (mayu route)');
        send(ctx.res, await artefacts.firstStage(serial));
      },
    }),
    route({
      method: 'get',
      path: '/hostinfo-helper',
      operationId: 'mayuHostinfoHelper',
      summary: "mayu: the hardware-facts helper the first-stage script runs (Cocoon's agent)",
      tag: 'mayu',
      auth: 'public',
      errors: 'text',
      responses: { '200': { description: 'the agent', content: { 'application/octet-stream': {} } } },
      handler: async ({ req, res }) => {
        const file = artefacts.agentFile('hostinfo-helper');
        if (!file) throw new HttpError(404, 'the hardware agent is not built on this server');
        await sendFile(req, res, file, {});
      },
    }),
    finalConfigRoute('/final-ignition-config.json', 'ignition', 'application/json'),
    finalConfigRoute('/final-cloud-config.yaml', 'cloud-config', 'text/cloud-config'),
  ];
}
