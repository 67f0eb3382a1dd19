import type { Audit, HistoryEntry, MachineFilter, MachineRecord, MachineStore, Mutator } from '../store/types.js';
import { normalizeMac } from '../util/mac.js';

/**
 * A MachineStore in memory, for tests of modules that only consume the store interface (the
 * durable one lives in store/). Same observable behaviour: frozen snapshots, per-call onChange
 * after the change, stable list order.
 */
export class MemoryStore implements MachineStore {
  private readonly records = new Map<string, Readonly<MachineRecord>>();
  private readonly listeners = new Set<(serial: string, record: Readonly<MachineRecord> | undefined) => void>();

  get(serial: string): Readonly<MachineRecord> | undefined {
    return this.records.get(serial);
  }

  byMac(mac: string): Readonly<MachineRecord> | undefined {
    const m = normalizeMac(mac);
    for (const r of this.records.values()) if (r.MacAddresses.some((x) => normalizeMac(x) === m)) return r;
    return undefined;
  }

  byIp(ip: string): Readonly<MachineRecord> | undefined {
    for (const r of this.records.values()) if (r.InternalAddr === ip) return r;
    return undefined;
  }

  list(filter: MachineFilter = {}): Readonly<MachineRecord>[] {
    return [...this.records.values()]
      .filter((r) => (!filter.state || r.State === filter.state) && (!filter.profile || r.Profile === filter.profile))
      .filter((r) => !filter.mac || r.MacAddresses.some((x) => normalizeMac(x) === normalizeMac(filter.mac!)))
      .sort((a, b) => a.Serial.localeCompare(b.Serial));
  }

  count(): number {
    return this.records.size;
  }

  async mutate(serial: string, fn: Mutator, _audit: Audit): Promise<Readonly<MachineRecord> | undefined> {
    const next = await fn(this.records.get(serial));
    if (!next) return this.records.get(serial);
    const frozen = Object.freeze({ ...next });
    this.records.set(serial, frozen);
    for (const l of this.listeners) l(serial, frozen);
    return frozen;
  }

  async remove(serial: string, _audit: Audit): Promise<boolean> {
    if (!this.records.delete(serial)) return false;
    for (const l of this.listeners) l(serial, undefined);
    return true;
  }

  withAllocationLock<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }

  async history(_serial: string): Promise<HistoryEntry[]> {
    return [];
  }

  onChange(listener: (serial: string, record: Readonly<MachineRecord> | undefined) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}

/** A complete record with mayu's defaults, for tests. */
export function testMachine(serial: string, fields: Partial<MachineRecord> = {}): MachineRecord {
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
    Profile: 'default',
    FleetMetadata: [],
    FleetDisableEngine: false,
    EtcdClusterToken: '',
    Overrides: {},
    State: 'unknown',
    LastBoot: '0001-01-01T00:00:00Z',
    CoreOSVersion: '',
    ...fields,
  };
}
