import type { MachineState } from '../lifecycle/states.js';

/**
 * One machine's record, stored as `<serial>/conf.json` in the cluster directory.
 * PascalCase field names are mayu 0.11's; Cocoon's own additions use the same style.
 * Fields this version does not know are kept as they were read (see `extra` in the store).
 */
export interface MachineRecord {
  Serial: string;
  MacAddresses: string[];
  InternalAddr: string;
  Hostname: string;
  MachineID: string;
  ConnectedNIC: string;
  IPMIAddr: string;
  ProviderId: string;
  Cabinet: number;
  MachineOnCabinet: number;
  Profile: string;
  FleetMetadata: string[];
  FleetDisableEngine: boolean;
  EtcdClusterToken: string;
  Overrides: Record<string, unknown>;
  State: MachineState;
  /** RFC 3339; mayu wrote Go's zero time "0001-01-01T00:00:00Z" for never. */
  LastBoot: string;
  CoreOSVersion: string;
  DockerVersion?: string;
  EtcdVersion?: string;
  FleetVersion?: string;
  K8sVersion?: string;
  YochuVersion?: string;
  MayuVersion?: string;
  RktVersion?: string;
  // --- Cocoon additions ---
  /** Where the identity came from: product/chassis/board serial, uuid or mac. */
  IdentitySource?: 'product' | 'chassis' | 'board' | 'uuid' | 'mac' | 'declared' | 'mayu';
  SMBIOSUUID?: string;
  /** Operator-chosen OS for this machine (overrides the profile's). */
  OSName?: string;
  OSVersion?: string;
  /** Why the machine is `failed`, or the operator's reason for the last forced state. */
  StateReason?: string;
  /** Hardware facts as the agent reported them (validated at the HTTP boundary). */
  Hardware?: Record<string, unknown>;
  FirstSeen?: string;
  InstalledAt?: string;
  BootCount?: number;
  /** One-shot rescue boot requested. */
  RescuePending?: boolean;
  /** Its iPXE script failed to render and the failsafe was served: the render error (cleared once it renders). */
  Failsafe?: string;
  /** Declared before first boot (config or API). */
  Declared?: boolean;
  [unknownField: string]: unknown;
}

/** cluster.json: mayu keeps cluster-wide settings here; Cocoon keeps them and adds its own. */
export interface ClusterRecord {
  GitStore?: boolean;
  Config?: Record<string, unknown>;
  [unknownField: string]: unknown;
}

/** The audit context of a mutation: becomes the commit message `<serial>: <what>` and author. */
export interface Audit {
  /** What changed, e.g. "state installing -> installed". */
  what: string;
  /** Operator name (token name) when an operator did it. */
  operator?: string;
  /** Operator's reason; appended to the commit message. */
  reason?: string;
}

export interface MachineFilter {
  state?: MachineState;
  profile?: string;
  mac?: string;
}

/** One page of machines in the stable order. */
export interface MachinePage {
  /** Machines matching the filter, on every page. */
  total: number;
  /** The page's records as a JSON array text (what `JSON.stringify` of the records gives). */
  json: string;
}

export interface MachineCount {
  state: MachineState;
  profile: string;
  count: number;
}

/** Result of a mutation callback: the new record, or `undefined` to write nothing. */
export type Mutator = (current: Readonly<MachineRecord> | undefined) => MachineRecord | undefined | Promise<MachineRecord | undefined>;

export interface HistoryEntry {
  commit: string;
  author: string;
  date: string;
  message: string;
  /** Unified diff of the machine's conf.json in this commit (when asked for). */
  patch?: string;
}

/**
 * The narrow storage interface: everything above it (lifecycle, HTTP, dnsmasq host entries) uses
 * only this, so a distributed backend (etcd) can implement it for several provisioners later.
 * Reads come from memory and return frozen snapshots; mutations for one serial are serialized.
 */
export interface MachineStore {
  get(serial: string): Readonly<MachineRecord> | undefined;
  byMac(mac: string): Readonly<MachineRecord> | undefined;
  byIp(ip: string): Readonly<MachineRecord> | undefined;
  /**
   * The machines matching `filter` from `offset`, at most `limit` of them, in the stable order
   * (InternalAddr numerically, then serial). Costs the page, not the fleet: a state or profile
   * filter merges the in-memory lists of the matching state and profile pairs only as far as the
   * page reaches, and the page is joined from stored texts (no record is serialised).
   */
  page(filter: MachineFilter, offset: number, limit: number): MachinePage;
  /** Machines per state and profile (only pairs with at least one machine). */
  counts(): MachineCount[];
  /**
   * Every record once, in the stable order, as of the call (later changes are not seen). Each
   * record is parsed as it is reached: for start-up and rebuild paths, never per request.
   */
  records(): IterableIterator<Readonly<MachineRecord>>;
  /** Like records(), as each record's JSON text (`JSON.stringify` of it), for streaming them out. */
  recordTexts(): IterableIterator<string>;
  count(): number;
  /**
   * Read-modify-write one machine under its lock; the write is durable (fsync + rename) and
   * committed before the promise resolves. Returns the stored record (or the old one if unchanged).
   */
  mutate(serial: string, fn: Mutator, audit: Audit): Promise<Readonly<MachineRecord> | undefined>;
  /** Remove a machine (decommission) with an audit commit. */
  remove(serial: string, audit: Audit): Promise<boolean>;
  /** Run `fn` holding the store-wide allocation lock (IP and profile quota decisions). */
  withAllocationLock<T>(fn: () => Promise<T>): Promise<T>;
  history(serial: string, opts?: { patch?: boolean; limit?: number }): Promise<HistoryEntry[]>;
  /** Subscribe to every stored change (after it is durable). Returns an unsubscribe function. */
  onChange(listener: (serial: string, record: Readonly<MachineRecord> | undefined) => void): () => void;
  close(): Promise<void>;
}
