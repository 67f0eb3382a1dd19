import { MACHINE_STATES, type MachineState } from '../lifecycle/states.js';
import { isIPv4, ipToInt } from '../util/ipv4.js';
import { lowerBound } from '../util/lower-bound.js';
import { normalizeMac } from '../util/mac.js';
import { deepFreeze } from './record.js';
import { RecordCodec } from './record-codec.js';
import { leanRecord, type HardwareSource } from './lean-record.js';
import type { MachineCount, MachineFilter, MachinePage, MachineRecord } from './types.js';

/**
 * One machine as memory keeps it: the record parsed and frozen except for its hardware facts
 * (leanRecord), the record's compact JSON text deflated (a few hundred bytes for the 2 KB a record
 * with the agent's facts takes; see RecordCodec) for the facts and for list pages, and what the
 * order and the indexes need. Entries are never changed, only replaced, so a reader holding one
 * (an iteration snapshot, a record handed out) sees one consistent version.
 */
class Entry implements HardwareSource {
  readonly record: Readonly<MachineRecord>;
  /** InternalAddr as a number; records without an IPv4 address sort last. */
  readonly ipKey: number;

  constructor(
    private readonly owner: MachineIndex,
    readonly serial: string,
    record: Readonly<MachineRecord>,
    /** `JSON.stringify` of the stored record, deflated (RecordCodec). */
    readonly packed: string,
    /** Normalized MACs, as keys of the MAC index. */
    readonly macs: readonly string[],
  ) {
    this.record = leanRecord(record, this);
    this.ipKey = isIPv4(this.ip) ? ipToInt(this.ip) : Number.MAX_SAFE_INTEGER;
  }

  get ip(): string {
    return this.record.InternalAddr;
  }

  get state(): MachineState {
    return this.record.State;
  }

  get profile(): string {
    return this.record.Profile;
  }

  hardware(): Readonly<Record<string, unknown>> | undefined {
    return this.owner.hardwareOf(this);
  }
}

function compareEntries(a: Entry, b: Entry): number {
  return a.ipKey - b.ipKey || (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0);
}

/** Where `e` is, or would go, in a list kept in the stable order. */
function positionIn(list: Entry[], e: Entry): number {
  return lowerBound(list.length, (i) => compareEntries(list[i] as Entry, e) < 0);
}

function insertSorted(list: Entry[], e: Entry): void {
  list.splice(positionIn(list, e), 0, e);
}

function removeSorted(list: Entry[], e: Entry): void {
  const at = positionIn(list, e);
  // Entries never change, so binary search finds it; the scan only guards the invariant.
  const i = list[at] === e ? at : list.indexOf(e);
  if (i >= 0) list.splice(i, 1);
}

/** The machines of one state and profile, in the stable order. */
interface Group {
  readonly state: MachineState;
  readonly profile: string;
  readonly entries: Entry[];
}

/** Hardware facts kept parsed: the machines of a boot storm being enrolled and configured. */
export const HARDWARE_CACHE_SIZE = 128;

export interface IndexWarnings {
  sharedMac(mac: string, serials: string[]): void;
  sharedIp(ip: string, serials: string[]): void;
}

/**
 * The store's in-memory side: records by serial (case-insensitively for mayu's upper-case
 * directories), MAC and address; the stable order (InternalAddr numerically, then serial) kept
 * sorted by binary-search insert and remove, also per state and profile pair (filtered pages and
 * counts); and a bounded LRU cache of parsed hardware facts.
 */
export class MachineIndex {
  private readonly entries = new Map<string, Entry>();
  private readonly lowerSerial = new Map<string, string>();
  private readonly macIndex = new Map<string, string>();
  private readonly ipIndex = new Map<string, string>();
  private readonly sorted: Entry[] = [];
  /** The machines of each state and profile pair, each list in the stable order: filters and counts. */
  private readonly groups = new Map<string, Group>();
  /** Parsed hardware facts by the entry they belong to (a replaced entry is dropped: no stale reads). */
  private readonly hardwareCache = new Map<Entry, Readonly<Record<string, unknown>> | undefined>();
  private readonly codec = new RecordCodec();

  constructor(
    private readonly warn: IndexWarnings,
    private readonly cacheSize = HARDWARE_CACHE_SIZE,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The stored key for `serial` (directories taken over from mayu may be upper case). */
  key(serial: string): string | undefined {
    return this.entries.has(serial) ? serial : this.lowerSerial.get(serial.toLowerCase());
  }

  has(serial: string): boolean {
    return this.entries.has(serial);
  }

  /**
   * Stores `record` under `serial`, replacing what was there, and returns the record every read
   * hands out from now on. `cached`: the caller is about to use the hardware facts (a mutation's
   * result), so the cache starts with them. `json`: the record's `JSON.stringify`, when the caller
   * has it already.
   */
  set(key: string, record: Readonly<MachineRecord>, opts: { cached?: boolean; json?: string } = {}): Readonly<MachineRecord> {
    // The record's own string as the key when they are equal: one copy of each serial in memory.
    const serial = record.Serial === key ? record.Serial : key;
    const macs: string[] = [];
    for (const m of record.MacAddresses) {
      const mac = normalizeMac(m);
      // normalizeMac returns the record's own string when it is normal: one copy of each MAC.
      if (mac && !macs.includes(mac)) macs.push(mac);
    }
    // An exact-size copy: an array grown by push keeps room for 17, which at 10 000 machines is a megabyte.
    const entry = new Entry(this, serial, record, this.codec.encode(opts.json ?? JSON.stringify(record)), macs.slice());
    this.delete(serial);
    this.entries.set(serial, entry);
    this.lowerSerial.set(serial.toLowerCase(), serial);
    for (const mac of macs) {
      const other = this.macIndex.get(mac);
      if (other !== undefined && other !== serial) this.warn.sharedMac(mac, [other, serial]);
      this.macIndex.set(mac, serial);
    }
    if (entry.ip) {
      const other = this.ipIndex.get(entry.ip);
      if (other !== undefined && other !== serial) this.warn.sharedIp(entry.ip, [other, serial]);
      this.ipIndex.set(entry.ip, serial);
    }
    insertSorted(this.sorted, entry);
    this.group(entry, true);
    if (opts.cached && record.Hardware !== undefined) this.remember(entry, deepFreeze(record.Hardware));
    return entry.record;
  }

  delete(serial: string): boolean {
    const old = this.entries.get(serial);
    if (!old) return false;
    this.entries.delete(serial);
    this.hardwareCache.delete(old);
    if (this.lowerSerial.get(serial.toLowerCase()) === serial) this.lowerSerial.delete(serial.toLowerCase());
    for (const mac of old.macs) if (this.macIndex.get(mac) === serial) this.macIndex.delete(mac);
    if (old.ip && this.ipIndex.get(old.ip) === serial) this.ipIndex.delete(old.ip);
    removeSorted(this.sorted, old);
    this.group(old, false);
    return true;
  }

  get(serial: string): Readonly<MachineRecord> | undefined {
    return this.entries.get(serial)?.record;
  }

  /** The hardware facts of `entry`'s record, parsed from its stored text on a cache miss. */
  hardwareOf(entry: Entry): Readonly<Record<string, unknown>> | undefined {
    if (this.hardwareCache.has(entry)) {
      const hit = this.hardwareCache.get(entry);
      this.remember(entry, hit);
      return hit;
    }
    const full = JSON.parse(this.text(entry)) as MachineRecord;
    const hardware = deepFreeze(full.Hardware);
    // A record replaced or removed since it was handed out still answers, but is not cached.
    if (this.entries.get(entry.serial) === entry) this.remember(entry, hardware);
    return hardware;
  }

  serialByMac(mac: string): string | undefined {
    const m = normalizeMac(mac);
    return m ? this.macIndex.get(m) : undefined;
  }

  serialByIp(ip: string): string | undefined {
    return this.ipIndex.get(ip);
  }

  /** One page in the stable order, as the JSON array text of the stored records. */
  page(filter: MachineFilter, offset: number, limit: number): MachinePage {
    const from = Math.max(0, Math.floor(offset) || 0);
    const to = from + Math.max(0, Math.floor(limit) || 0);
    const texts: string[] = [];
    let total = 0;
    if (filter.mac !== undefined) {
      const serial = this.serialByMac(filter.mac);
      const e = serial === undefined ? undefined : this.entries.get(serial);
      if (e && matches(e, filter)) {
        total = 1;
        if (from === 0 && to > 0) texts.push(this.text(e));
      }
    } else if (!filter.state && !filter.profile) {
      total = this.sorted.length;
      for (let i = from; i < Math.min(to, total); i++) texts.push(this.text(this.sorted[i] as Entry));
    } else {
      // The matching state/profile lists, merged in the stable order as far as the page reaches:
      // the cost is the page's offset and size, not the fleet's.
      const lists: Entry[][] = [];
      for (const g of this.groups.values()) {
        if (matches(g, filter)) {
          lists.push(g.entries);
          total += g.entries.length;
        }
      }
      const heads = lists.map(() => 0);
      for (let i = 0; i < Math.min(to, total); i++) {
        let best = -1;
        for (let k = 0; k < lists.length; k++) {
          const e = (lists[k] as Entry[])[heads[k] as number];
          if (e && (best < 0 || compareEntries(e, (lists[best] as Entry[])[heads[best] as number] as Entry) < 0)) best = k;
        }
        const e = (lists[best] as Entry[])[heads[best] as number] as Entry;
        heads[best] = (heads[best] as number) + 1;
        if (i >= from) texts.push(this.text(e));
      }
    }
    return { total, json: `[${texts.join(',')}]` };
  }

  /** Machines per state and profile, in the lifecycle's state order, then by profile. */
  counts(): MachineCount[] {
    const order = (s: MachineState): number => MACHINE_STATES.indexOf(s);
    return [...this.groups.values()]
      .map((g) => ({ state: g.state, profile: g.profile, count: g.entries.length }))
      .sort((a, b) => order(a.state) - order(b.state) || (a.profile < b.profile ? -1 : a.profile > b.profile ? 1 : 0));
  }

  /** Every record once, in the stable order as of the call (the snapshot is taken now, not at the first step). */
  records(): IterableIterator<Readonly<MachineRecord>> {
    const snapshot = this.sorted.slice();
    return (function* () {
      for (const e of snapshot) yield e.record;
    })();
  }

  /** Every record's JSON text once, in the stable order as of the call (inflated one at a time). */
  texts(): IterableIterator<string> {
    const snapshot = this.sorted.slice();
    const text = (e: Entry): string => this.text(e);
    return (function* () {
      for (const e of snapshot) yield text(e);
    })();
  }

  private text(e: Entry): string {
    return this.codec.decode(e.packed);
  }

  /** Most recently used goes last; the first in the map is the one to evict. */
  private remember(entry: Entry, hardware: Readonly<Record<string, unknown>> | undefined): void {
    this.hardwareCache.delete(entry);
    this.hardwareCache.set(entry, hardware);
    while (this.hardwareCache.size > this.cacheSize) {
      const oldest = this.hardwareCache.keys().next().value as Entry;
      this.hardwareCache.delete(oldest);
    }
  }

  private group(e: Entry, add: boolean): void {
    const key = `${e.state}\u0000${e.profile}`;
    const g = this.groups.get(key);
    if (add) {
      const list = g?.entries ?? [];
      if (!g) this.groups.set(key, { state: e.state, profile: e.profile, entries: list });
      insertSorted(list, e);
    } else if (g) {
      removeSorted(g.entries, e);
      if (g.entries.length === 0) this.groups.delete(key);
    }
  }
}

/** Whether a machine (or a state/profile group) passes the filter's state and profile. */
function matches(e: { readonly state: MachineState; readonly profile: string }, filter: MachineFilter): boolean {
  return (!filter.state || e.state === filter.state) && (!filter.profile || e.profile === filter.profile);
}
