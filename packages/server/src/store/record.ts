import { isMachineState, type MachineState } from '../lifecycle/states.js';
import { CocoonError } from '../util/errors.js';
import type { MachineRecord } from './types.js';

/** Go's zero time.Time as mayu marshalled it: the "never booted" LastBoot. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';
export const CONF_FILE = 'conf.json';
export const CLUSTER_FILE = 'cluster.json';

/**
 * Serials become directory names. Letters, digits, dot, dash and underscore only, starting with a
 * letter or digit (so never ".", ".." or a hidden name); mayu directories may be upper case.
 */
const STORABLE_SERIAL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function isStorableSerial(serial: string): boolean {
  return STORABLE_SERIAL.test(serial) && serial !== CLUSTER_FILE;
}

export function assertStorableSerial(serial: unknown, field = 'serial'): asserts serial is string {
  if (typeof serial !== 'string' || !isStorableSerial(serial)) {
    throw new CocoonError(
      'invalid',
      `${field}: ${JSON.stringify(serial)} is not a valid machine serial (allowed: 1-128 of a-z 0-9 . _ -, starting with a letter or digit)`,
      field,
    );
  }
}

/** mayu's defaults for every field it always wrote, in mayu's field order (keeps diffs readable). */
export function emptyRecord(serial: string): MachineRecord {
  return {
    Serial: serial,
    MacAddresses: [],
    InternalAddr: '',
    Hostname: '',
    MachineID: '',
    ConnectedNIC: '',
    IPMIAddr: '',
    ProviderId: '',
    Cabinet: 0,
    MachineOnCabinet: 0,
    Profile: '',
    FleetMetadata: [],
    FleetDisableEngine: false,
    EtcdClusterToken: '',
    Overrides: {},
    State: 'unknown',
    LastBoot: ZERO_TIME,
    CoreOSVersion: '',
  };
}

/** Some mayu builds stored the state as its Go enum number. */
const NUMERIC_STATES: readonly MachineState[] = ['unknown', 'configured', 'installing', 'installed', 'running'];

function normalizeState(value: unknown): MachineState {
  if (isMachineState(value)) return value;
  if (typeof value === 'number' && NUMERIC_STATES[value]) return NUMERIC_STATES[value];
  if (typeof value === 'string' && isMachineState(value.toLowerCase())) return value.toLowerCase() as MachineState;
  return 'unknown';
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : value === null || value === undefined ? '' : String(value);
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/**
 * Turns a parsed conf.json (mayu's or ours) into a full MachineRecord. Known fields get their
 * type (null -> "" as Go's nil net.IP marshals); unknown fields stay, in their original order.
 */
export function normalizeRecord(raw: Record<string, unknown>, serialFromPath: string): MachineRecord {
  // The file's own field order first (diffs stay small), then whatever it lacks in mayu's order.
  const out: Record<string, unknown> = { ...raw };
  for (const [k, v] of Object.entries(emptyRecord(serialFromPath))) if (!(k in out)) out[k] = v;
  out.Serial = typeof raw.Serial === 'string' && raw.Serial !== '' ? raw.Serial : serialFromPath;
  out.MacAddresses = strings(raw.MacAddresses);
  out.InternalAddr = str(raw.InternalAddr);
  out.IPMIAddr = str(raw.IPMIAddr);
  for (const k of ['Hostname', 'MachineID', 'ConnectedNIC', 'ProviderId', 'Profile', 'EtcdClusterToken', 'CoreOSVersion'] as const) {
    out[k] = str(raw[k]);
  }
  out.Cabinet = num(raw.Cabinet);
  out.MachineOnCabinet = num(raw.MachineOnCabinet);
  out.FleetMetadata = strings(raw.FleetMetadata);
  out.FleetDisableEngine = raw.FleetDisableEngine === true;
  out.Overrides = raw.Overrides && typeof raw.Overrides === 'object' && !Array.isArray(raw.Overrides) ? raw.Overrides : {};
  out.State = normalizeState(raw.State);
  out.LastBoot = typeof raw.LastBoot === 'string' && raw.LastBoot !== '' ? raw.LastBoot : ZERO_TIME;
  return out as MachineRecord;
}

export function serializeRecord(record: MachineRecord): string {
  return `${JSON.stringify(record, null, 2)}\n`;
}

export function parseRecordText(text: string, serialFromPath: string): MachineRecord {
  const raw: unknown = JSON.parse(text);
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('conf.json is not a JSON object');
  return normalizeRecord(raw as Record<string, unknown>, serialFromPath);
}

export function deepFreeze<T>(value: T): Readonly<T> {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  Object.freeze(value);
  // Index and key loops: this runs for every record read from the store (no Object.values arrays).
  if (Array.isArray(value)) for (let i = 0; i < value.length; i++) deepFreeze(value[i] as unknown);
  else for (const k in value) deepFreeze((value as Record<string, unknown>)[k]);
  return value;
}

/** A mutable deep copy for a mutator to edit (records handed out by the store are frozen). */
export function editableRecord(record: Readonly<MachineRecord>): MachineRecord {
  return structuredClone(record) as MachineRecord;
}
