import { MACHINE_STATES } from '../lifecycle/states.js';
import type { JsonSchema } from './validate.js';

/** Schemas shared by the route table (bodies) and the OpenAPI document (components). */

export const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

const reason = { type: 'string', minLength: 1, maxLength: 1000, description: 'Why; recorded in the audit commit.' };

export const COMPONENTS: Record<string, JsonSchema> = {
  Problem: {
    type: 'object',
    description: 'RFC 9457 problem details.',
    required: ['type', 'title', 'status', 'detail'],
    properties: {
      type: { type: 'string' },
      title: { type: 'string' },
      status: { type: 'integer' },
      detail: { type: 'string' },
      field: { type: 'string', description: 'The input at fault.' },
      instance: { type: 'string' },
    },
  },
  Machine: {
    type: 'object',
    description: 'A machine record (conf.json; mayu 0.11 field names plus Cocoon additions).',
    required: ['Serial', 'MacAddresses', 'InternalAddr', 'State', 'Profile'],
    properties: {
      Serial: { type: 'string' },
      MacAddresses: { type: 'array', items: { type: 'string' } },
      InternalAddr: { type: 'string' },
      Hostname: { type: 'string' },
      MachineID: { type: 'string' },
      ConnectedNIC: { type: 'string' },
      IPMIAddr: { type: 'string' },
      ProviderId: { type: 'string' },
      Cabinet: { type: 'integer' },
      MachineOnCabinet: { type: 'integer' },
      Profile: { type: 'string' },
      FleetMetadata: { type: 'array', items: { type: 'string' } },
      EtcdClusterToken: { type: 'string' },
      Overrides: { type: 'object' },
      State: { type: 'string', enum: [...MACHINE_STATES] },
      StateReason: { type: 'string' },
      LastBoot: { type: 'string' },
      CoreOSVersion: { type: 'string' },
      Hardware: { type: 'object' },
    },
  },
  MachineList: {
    type: 'object',
    required: ['total', 'offset', 'limit', 'machines'],
    properties: {
      total: { type: 'integer', description: 'Machines matching the filter.' },
      offset: { type: 'integer' },
      limit: { type: 'integer' },
      machines: { type: 'array', items: ref('Machine') },
    },
  },
  HistoryEntry: {
    type: 'object',
    required: ['commit', 'author', 'date', 'message'],
    properties: { commit: { type: 'string' }, author: { type: 'string' }, date: { type: 'string' }, message: { type: 'string' }, patch: { type: 'string' } },
  },
  Event: {
    type: 'object',
    required: ['id', 'time', 'source', 'type', 'message'],
    properties: {
      id: { type: 'integer' },
      time: { type: 'string' },
      source: { type: 'string', enum: ['dnsmasq', 'server', 'agent'] },
      type: { type: 'string' },
      mac: { type: 'string' },
      serial: { type: 'string' },
      ip: { type: 'string' },
      message: { type: 'string' },
      data: { type: 'object' },
    },
  },
};

export const STATE_BODY: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['state', 'reason'],
  properties: { state: { type: 'string', enum: [...MACHINE_STATES] }, reason },
};

export const PATCH_BODY: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    ProviderId: { type: 'string', maxLength: 256 },
    IPMIAddr: { type: 'string', maxLength: 256 },
    FleetMetadata: { type: 'array', items: { type: 'string', maxLength: 1024 }, maxItems: 256 },
    Cabinet: { type: 'integer', minimum: 0 },
    MachineOnCabinet: { type: 'integer', minimum: 0 },
    EtcdClusterToken: { type: 'string', maxLength: 1024 },
    Profile: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' },
    Hostname: { type: 'string', pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' },
    InternalAddr: { type: 'string', format: 'ipv4' },
    OSName: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$', maxLength: 64 },
    OSVersion: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._+-]*$', maxLength: 64 },
    reason,
  },
};

export const OVERRIDE_BODY: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['value'],
  properties: { value: { description: 'Any JSON value; merged over templates_env for this machine only.' }, reason },
};

export const REASON_BODY: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['reason'],
  properties: { reason },
};

export const DECLARE_BODY: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['mac'],
  properties: {
    mac: { type: 'string', pattern: '^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$' },
    serial: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$' },
    hostname: { type: 'string', pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' },
    ip: { type: 'string', format: 'ipv4' },
    profile: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' },
    reason,
  },
};
