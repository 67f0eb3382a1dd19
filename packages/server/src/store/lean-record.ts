import { Interner } from '../util/intern.js';
import { deepFreeze } from './record.js';
import type { MachineRecord } from './types.js';

/** Where a lean record's hardware facts come from when someone reads them. */
export interface HardwareSource {
  hardware(): Readonly<Record<string, unknown>> | undefined;
}

const SOURCE = Symbol('cocoon.hardware-source');

/** One getter for every record: V8 then gives all records one shape (fast properties). */
function readHardware(this: { [SOURCE]: HardwareSource }): Readonly<Record<string, unknown>> | undefined {
  return this[SOURCE].hardware();
}

/**
 * Values that repeat across a fleet (states, profile names, NIC names, OS versions, mayu's zero
 * time) are kept once. Bounded, so a fleet of unusual values cannot grow it without end.
 */
const INTERNED_FIELDS: ReadonlySet<string> = new Set(['State', 'Profile', 'IdentitySource', 'ConnectedNIC', 'OSName', 'OSVersion', 'CoreOSVersion', 'LastBoot']);
const interned = new Interner(4096);

/**
 * The record every machine keeps parsed in memory: all of its fields, frozen, except that
 * `Hardware` (the agent's facts, most of a record's size and of its parsing time) is read through
 * `source` when it is read at all. Per-machine reads on the boot path (the iPXE script) then cost
 * no parsing, for about 800 bytes a machine instead of 5 KB with the facts parsed.
 *
 * To every reader it is the full record: `Hardware` is an enumerable own property in its place,
 * so `JSON.stringify`, `structuredClone` and spreading see the facts and the field order of the
 * file. A record without facts becomes a frozen copy. Either way the record's nested values are
 * shared with the result, frozen, not copied.
 */
export function leanRecord(record: Readonly<MachineRecord>, source: HardwareSource): Readonly<MachineRecord> {
  if (record.Hardware === undefined) {
    // Spread first, then overwrite: the copy keeps the record's fast shape, which stores of new
    // keys one by one would not.
    const copy: Record<string, unknown> = { ...record };
    for (const key of Object.keys(copy)) copy[key] = field(record, key);
    return deepFreeze(copy as MachineRecord);
  }
  const fields: PropertyDescriptorMap & { [SOURCE]?: PropertyDescriptor } = {};
  for (const key of Object.keys(record)) {
    fields[key] = key === 'Hardware' ? { get: readHardware, enumerable: true } : { value: field(record, key), enumerable: true };
  }
  fields[SOURCE] = { value: source };
  // defineProperties keeps fast properties (one shape for the fleet); ~30 keyed stores would not.
  return Object.freeze(Object.defineProperties({}, fields) as MachineRecord);
}

/** A field's value, frozen; repeated strings point at one copy. */
function field(record: Readonly<MachineRecord>, key: string): unknown {
  const v = record[key];
  if (typeof v === 'string') {
    if (INTERNED_FIELDS.has(key)) return interned.intern(v);
    if (key === 'Hostname' && v === record.Serial) return record.Serial;
    return v;
  }
  return deepFreeze(v);
}
