import { MACHINE_STATES, isMachineState, type MachineState } from '@cocoon/server/lifecycle/states';
import type { MachineRecord } from '@cocoon/server/store/types';
import { compareIp, isIPv4 } from '@cocoon/server/util/ipv4';
import { UsageError } from './errors.js';
import { cell, formatTime } from './output.js';

export type Machine = Readonly<MachineRecord>;

// ---------------------------------------------------------------- list columns

export interface Column {
  header: string;
  value(m: Machine): string;
}

/** mayuctl's list columns first (its default set), then extra ones for --fields. */
export const COLUMNS = {
  ip: { header: 'IP', value: (m) => cell(m.InternalAddr) },
  serial: { header: 'SERIAL', value: (m) => cell(m.Serial) },
  profile: { header: 'PROFILE', value: (m) => cell(m.Profile) },
  ipmi: { header: 'IPMI', value: (m) => cell(m.IPMIAddr) },
  providerid: { header: 'PROVIDER ID', value: (m) => cell(m.ProviderId) },
  etcdtoken: { header: 'ETCD TOKEN', value: (m) => cell(m.EtcdClusterToken) },
  metadata: { header: 'METADATA', value: (m) => cell(m.FleetMetadata) },
  os: { header: 'OS VERSION', value: (m) => cell(m.CoreOSVersion) },
  state: { header: 'STATE', value: (m) => cell(m.State) },
  lastboot: { header: 'LAST BOOT', value: (m) => formatTime(m.LastBoot) },
  hostname: { header: 'HOSTNAME', value: (m) => cell(m.Hostname) },
  macs: { header: 'MACS', value: (m) => cell(m.MacAddresses) },
  cabinet: { header: 'CABINET', value: (m) => (m.Cabinet || m.MachineOnCabinet ? `${m.Cabinet}/${m.MachineOnCabinet}` : '-') },
  bootcount: { header: 'BOOTS', value: (m) => cell(m.BootCount) },
  reason: { header: 'REASON', value: (m) => cell(m.StateReason) },
  machineid: { header: 'MACHINE ID', value: (m) => cell(m.MachineID) },
} satisfies Record<string, Column>;

export type ColumnName = keyof typeof COLUMNS;
export const COLUMN_NAMES = Object.keys(COLUMNS) as ColumnName[];
export const DEFAULT_COLUMNS: ColumnName[] = ['ip', 'serial', 'profile', 'ipmi', 'providerid', 'etcdtoken', 'metadata', 'os', 'state', 'lastboot'];

/** `--fields ip,serial,state` (repeatable, comma-separated) -> column names, rejecting unknown ones. */
export function parseFields(raw: string | string[] | undefined): ColumnName[] {
  if (raw === undefined) return DEFAULT_COLUMNS;
  const names = (Array.isArray(raw) ? raw : [raw]).flatMap((s) => s.split(',')).map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (!names.length) throw new UsageError(`--fields: name at least one of ${COLUMN_NAMES.join(', ')}`);
  for (const n of names) {
    if (!(COLUMN_NAMES as string[]).includes(n)) throw new UsageError(`--fields: unknown field ${JSON.stringify(n)}; allowed: ${COLUMN_NAMES.join(', ')}`);
  }
  return names as ColumnName[];
}

/** By IP numerically (machines without an address last), then serial: a stable order for scripts. */
export function compareMachines(a: Machine, b: Machine): number {
  const ipA = isIPv4(a.InternalAddr ?? '') ? a.InternalAddr : undefined;
  const ipB = isIPv4(b.InternalAddr ?? '') ? b.InternalAddr : undefined;
  if (ipA && ipB) {
    const d = compareIp(ipA, ipB);
    if (d !== 0) return d;
  } else if (ipA || ipB) {
    return ipA ? -1 : 1;
  }
  return a.Serial < b.Serial ? -1 : a.Serial > b.Serial ? 1 : 0;
}

// ---------------------------------------------------------------- set <serial> <field> <value>

/** What `set` sends: either a state transition or a PATCH of operator fields. */
export type SetRequest = { kind: 'state'; state: MachineState } | { kind: 'patch'; patch: Partial<MachineRecord> };

interface SetField {
  describe: string;
  allowed: string;
  parse(value: string): SetRequest;
}

function nonNegativeInt(field: string, value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new UsageError(`set ${field}: ${JSON.stringify(value)} is not allowed; allowed: a whole number >= 0`);
  return Number(value);
}

function patch(p: Partial<MachineRecord>): SetRequest {
  return { kind: 'patch', patch: p };
}

export const PROFILE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const METADATA_ENTRY = /^[A-Za-z0-9_.-]+=[^,]*$/;

/** The fields mayuctl's `set` knows (same names), each checked here before anything is sent. */
export const SET_FIELDS: Record<string, SetField> = {
  state: {
    describe: 'lifecycle state (forced by the operator; --reason required)',
    allowed: MACHINE_STATES.join(', '),
    parse: (v) => {
      if (!isMachineState(v)) throw new UsageError(`set state: ${JSON.stringify(v)} is not a state; allowed: ${MACHINE_STATES.join(', ')}`);
      return { kind: 'state', state: v };
    },
  },
  profile: {
    describe: 'profile name (must exist in the server configuration)',
    allowed: 'a profile name: lower case letters, digits, - and _',
    parse: (v) => {
      if (!PROFILE_NAME.test(v)) throw new UsageError(`set profile: ${JSON.stringify(v)} is not a profile name; allowed: lower case letters, digits, - and _ (at most 63)`);
      return patch({ Profile: v });
    },
  },
  providerid: {
    describe: 'provider id (free text, "" to clear)',
    allowed: 'any text',
    parse: (v) => patch({ ProviderId: v }),
  },
  ipmiaddr: {
    describe: 'IPMI/BMC address (IPv4, "" to clear)',
    allowed: 'an IPv4 address or ""',
    parse: (v) => {
      if (v !== '' && !isIPv4(v)) throw new UsageError(`set ipmiaddr: ${JSON.stringify(v)} is not an IPv4 address; allowed: an IPv4 address, or "" to clear`);
      return patch({ IPMIAddr: v });
    },
  },
  metadata: {
    describe: 'fleet metadata, comma-separated key=value pairs ("" to clear)',
    allowed: 'key=value[,key=value...] or ""',
    parse: (v) => {
      const entries = v === '' ? [] : v.split(',').map((s) => s.trim());
      const bad = entries.find((e) => !METADATA_ENTRY.test(e));
      if (bad !== undefined) throw new UsageError(`set metadata: ${JSON.stringify(bad)} is not key=value; allowed: key=value[,key=value...] with keys of letters, digits, . _ -, or "" to clear`);
      return patch({ FleetMetadata: entries });
    },
  },
  cabinet: {
    describe: 'cabinet (rack) number',
    allowed: 'a whole number >= 0',
    parse: (v) => patch({ Cabinet: nonNegativeInt('cabinet', v) }),
  },
  machineoncabinet: {
    describe: 'position of the machine in its cabinet',
    allowed: 'a whole number >= 0',
    parse: (v) => patch({ MachineOnCabinet: nonNegativeInt('machineoncabinet', v) }),
  },
  etcdtoken: {
    describe: 'etcd cluster (discovery) token ("" to clear)',
    allowed: 'text without spaces',
    parse: (v) => {
      if (/\s/.test(v)) throw new UsageError(`set etcdtoken: ${JSON.stringify(v)} contains white space; allowed: text without spaces, or "" to clear`);
      return patch({ EtcdClusterToken: v });
    },
  },
};

export const SET_FIELD_NAMES = Object.keys(SET_FIELDS);

/** Serials are lower-case and path-safe on the server; refuse obvious junk before a round trip. */
export function checkSerial(serial: string): string {
  if (!serial || /[/\\\s]/.test(serial) || serial === '.' || serial === '..') {
    throw new UsageError(`serial ${JSON.stringify(serial)} is not valid: no slashes, white space, "." or ".."`);
  }
  return serial;
}

export function machinePath(serial: string, rest = ''): string {
  return `/api/v1/machines/${encodeURIComponent(checkSerial(serial))}${rest}`;
}
