import type { CocoonConfig, DeclaredMachine } from '../config/types.js';
import { editableRecord, emptyRecord } from '../store/record.js';
import type { Audit, MachineRecord, MachineStore } from '../store/types.js';
import { CocoonError, notFound } from '../util/errors.js';
import { ipToInt, isIPv4 } from '../util/ipv4.js';
import { normalizeMac } from '../util/mac.js';
import { type EnrollmentReport, primaryMac, validateEnrollmentReport } from './enrollment-report.js';
import { type EventSink, type EventTarget, type LifecycleEvent, toSink } from './events.js';
import { isValidIdentity, macIdentity, resolveIdentity } from './identity.js';
import { IpAllocator } from './ip-allocator.js';
import { hostnameFromMachineId, isValidHostname, newMachineId } from './machine-id.js';
import { ProfileQuota } from './profile-quota.js';
import { canTransition, isMachineState, MACHINE_STATES, type MachineState } from './states.js';

/** Fields an operator may change with `patch` (PATCH /api/v1/machines/:serial). */
export interface OperatorPatch {
  ProviderId?: string;
  IPMIAddr?: string;
  FleetMetadata?: string[];
  Cabinet?: number;
  MachineOnCabinet?: number;
  EtcdClusterToken?: string;
  Profile?: string;
  Hostname?: string;
  InternalAddr?: string;
  OSName?: string;
  OSVersion?: string;
}

export const OPERATOR_PATCH_FIELDS = [
  'ProviderId',
  'IPMIAddr',
  'FleetMetadata',
  'Cabinet',
  'MachineOnCabinet',
  'EtcdClusterToken',
  'Profile',
  'Hostname',
  'InternalAddr',
  'OSName',
  'OSVersion',
] as const;

/** Who did it and why; `reason` is required where the doc says so (forced states). */
export interface OperatorAudit {
  operator?: string;
  reason?: string;
}

/** mayu's version field names, by the short keys an agent or OS reports. */
const VERSION_FIELDS: Record<string, string> = {
  coreos: 'CoreOSVersion',
  flatcar: 'CoreOSVersion',
  os: 'CoreOSVersion',
  docker: 'DockerVersion',
  etcd: 'EtcdVersion',
  fleet: 'FleetVersion',
  k8s: 'K8sVersion',
  kubernetes: 'K8sVersion',
  yochu: 'YochuVersion',
  mayu: 'MayuVersion',
  rkt: 'RktVersion',
};

/** Record fields an OS report may set; everything else it reports goes to `Versions`. */
const REPORTED_VERSION_FIELDS: ReadonlySet<string> = new Set(Object.values(VERSION_FIELDS));

const OVERRIDE_KEY = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const MAX_REASON = 2000;

function nowIso(): string {
  return new Date().toISOString();
}

function text(field: string, value: unknown, max: number, required: boolean): string | undefined {
  if (value === undefined || value === null || value === '') {
    if (required) throw new CocoonError('invalid', `${field}: a non-empty text is required`, field);
    return undefined;
  }
  if (typeof value !== 'string' || value.length > max) {
    throw new CocoonError('invalid', `${field}: ${JSON.stringify(value)} must be a string of at most ${max} characters`, field);
  }
  return value;
}

function inRange(ip: string, start: string, end: string): boolean {
  const n = ipToInt(ip);
  return n >= ipToInt(start) && n <= ipToInt(end);
}

function operatorAudit(what: string, audit: OperatorAudit | undefined): Audit {
  const out: Audit = { what };
  if (audit?.operator) out.operator = audit.operator;
  if (audit?.reason) out.reason = audit.reason;
  return out;
}

/**
 * The machine lifecycle: enrollment (identity, address, profile, machine-id, hostname) and every
 * state change, each one a store mutation with its audit commit. IP and profile decisions are
 * taken under the store's allocation lock and reserved in memory by serial before the record is
 * written, so concurrent enrollments never share an address or overfill a profile.
 */
export class Provisioner {
  private readonly ips: IpAllocator;
  private readonly quota: ProfileQuota;
  private readonly hostnames = new Map<string, string>();
  private readonly hostnameOf = new Map<string, string>();
  private readonly declaredByMac = new Map<string, DeclaredMachine>();
  private readonly publish: EventSink;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: MachineStore,
    private readonly config: CocoonConfig,
    events?: EventTarget,
  ) {
    this.publish = toSink(events);
    const net = config.network;
    this.ips = new IpAllocator({
      range: net.ip_range,
      prefix: net.subnet_size,
      reserved: [net.subnet_gateway, net.router, net.bind_addr, ...net.dns, ...net.ntp],
    });
    this.quota = new ProfileQuota(config.profiles);
    for (const r of store.records()) this.sync(r.Serial, r);
    for (const d of config.machines) {
      const mac = normalizeMac(d.mac);
      if (!mac) continue;
      this.declaredByMac.set(mac, d);
      // A declared address is kept free for its machine until it enrolls.
      if (d.ip && !store.byMac(mac) && this.ips.ownerOf(d.ip) === undefined && !this.ips.isReserved(d.ip)) {
        this.ips.assign(this.declaredHolder(mac), d.ip, 'machines[].ip');
      }
    }
    this.unsubscribe = store.onChange((serial, record) => this.sync(serial, record));
  }

  /** Stops following store changes. */
  close(): void {
    this.unsubscribe();
  }

  private declaredHolder(mac: string): string {
    return `declared:${mac}`;
  }

  /** Keeps address, quota and hostname bookkeeping equal to what the store holds. */
  private sync(serial: string, record: Readonly<MachineRecord> | undefined): void {
    this.ips.sync(serial, record?.InternalAddr || undefined);
    this.quota.sync(serial, record?.Profile || undefined);
    const oldName = this.hostnameOf.get(serial);
    if (oldName !== undefined && oldName !== record?.Hostname) {
      if (this.hostnames.get(oldName) === serial) this.hostnames.delete(oldName);
      this.hostnameOf.delete(serial);
    }
    if (record?.Hostname) {
      this.hostnames.set(record.Hostname, serial);
      this.hostnameOf.set(serial, record.Hostname);
    }
  }

  /** After a failed write, forget reservations the store does not hold. */
  private resync(serial: string): void {
    const r = this.store.get(serial);
    this.ips.release(serial);
    this.quota.release(serial);
    this.sync(serial, r);
  }

  private emit(type: string, record: Readonly<MachineRecord> | undefined, serial: string, message: string, data?: Record<string, unknown>): void {
    const e: LifecycleEvent = { source: 'server', type, time: nowIso(), serial, message };
    const mac = record?.MacAddresses[0];
    if (mac) e.mac = normalizeMac(mac) ?? mac;
    if (record?.InternalAddr) e.ip = record.InternalAddr;
    if (data) e.data = data;
    try {
      this.publish(e);
    } catch {
      // events are best effort: never fail a state change because a subscriber did
    }
  }

  private require(serial: string): Readonly<MachineRecord> {
    if (typeof serial !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(serial)) {
      throw new CocoonError('invalid', `serial: ${JSON.stringify(serial)} is not a valid machine serial`, 'serial');
    }
    const r = this.store.get(serial);
    if (!r) throw notFound('machine', serial);
    return r;
  }

  private uniqueHostname(serial: string, preferredMachineId?: string): { machineId: string; hostname: string } {
    let machineId = preferredMachineId || newMachineId();
    for (let i = 0; i < 100; i++) {
      const hostname = hostnameFromMachineId(machineId);
      const holder = this.hostnames.get(hostname);
      if (holder === undefined || holder === serial) return { machineId, hostname };
      machineId = newMachineId();
    }
    throw new CocoonError('internal', 'could not find a free hostname');
  }

  private claimHostname(serial: string, hostname: string, field: string): void {
    if (!isValidHostname(hostname)) throw new CocoonError('invalid', `${field}: ${JSON.stringify(hostname)} is not a valid hostname`, field);
    const holder = this.hostnames.get(hostname);
    if (holder !== undefined && holder !== serial) throw new CocoonError('conflict', `${field}: hostname ${hostname} is already used by machine ${JSON.stringify(holder)}`, field);
    this.hostnames.set(hostname, serial);
    this.hostnameOf.set(serial, hostname);
  }

  // ---- enrollment ------------------------------------------------------------------------------

  /** Agent POST: identify the machine, give it address/profile/ids on first sight, state -> installing. */
  async enroll(input: EnrollmentReport | Record<string, unknown>): Promise<Readonly<MachineRecord>> {
    const report = validateEnrollmentReport(input);
    const mac = primaryMac(report);
    const identity = resolveIdentity({ ...report.serial, uuid: report.uuid, mac });
    const serial = identity.serial;
    const macs = report.macs.map((m) => m.mac);
    const configDecl = macs.map((m) => this.declaredByMac.get(m)).find((d) => d !== undefined);

    // A machine declared by MAC only (API) sits under a placeholder serial until it enrolls.
    let placeholder: Readonly<MachineRecord> | undefined;
    if (!this.store.get(serial)) {
      for (const m of macs) {
        const other = this.store.byMac(m);
        if (!other || other.Serial === serial) continue;
        if (!other.Declared || other.IdentitySource !== 'mac') {
          throw new CocoonError('conflict', `macs: ${m} belongs to machine ${JSON.stringify(other.Serial)}, not to ${JSON.stringify(serial)}; decommission the old machine first`, 'macs');
        }
        placeholder = other;
        break;
      }
    }

    const decided = await this.store.withAllocationLock(async () => {
      const existing = this.store.get(serial);
      const base = existing ?? placeholder;
      if (placeholder && !existing) {
        // Hand the placeholder's address and profile over to the real serial.
        this.ips.release(placeholder.Serial);
        this.quota.release(placeholder.Serial);
      }
      let ip = base?.InternalAddr;
      if (!ip && configDecl?.ip) {
        const holder = this.declaredHolder(normalizeMac(configDecl.mac) as string);
        if (this.ips.ownerOf(configDecl.ip) === holder) this.ips.release(holder);
        this.ips.assign(serial, configDecl.ip, 'machines[].ip');
        ip = configDecl.ip;
      } else if (ip) {
        this.ips.sync(serial, ip);
      } else {
        ip = this.ips.allocate(serial);
      }
      let profile = base?.Profile;
      if (profile) this.quota.sync(serial, profile);
      else if (configDecl?.profile) {
        this.quota.assign(serial, configDecl.profile, false, 'machines[].profile');
        profile = configDecl.profile;
      } else profile = this.quota.choose(serial);
      let machineId = base?.MachineID;
      let hostname = base?.Hostname;
      if (!hostname && configDecl?.hostname) {
        this.claimHostname(serial, configDecl.hostname, 'machines[].hostname');
        hostname = configDecl.hostname;
      }
      if (!machineId || !hostname) {
        const fresh = this.uniqueHostname(serial, machineId);
        machineId = fresh.machineId;
        if (!hostname) {
          hostname = fresh.hostname;
          this.claimHostname(serial, hostname, 'Hostname');
        }
      }
      return { ip, profile, machineId, hostname };
    });

    const audit: Audit = { what: 'enrolled' };
    let stored: Readonly<MachineRecord> | undefined;
    try {
      stored = await this.store.mutate(
        serial,
        (cur) => {
          if (cur && !canTransition(cur.State, 'installing')) {
            throw new CocoonError('conflict', `machine ${serial} is ${cur.State} and cannot start installing; an operator can set its state`, 'State');
          }
          const rec: MachineRecord = cur ? editableRecord(cur) : placeholder ? { ...editableRecord(placeholder), Serial: serial } : emptyRecord(serial);
          const now = nowIso();
          rec.MacAddresses = macs;
          if (report.connectedNic) rec.ConnectedNIC = report.connectedNic;
          if (report.ipmiAddr) rec.IPMIAddr = report.ipmiAddr;
          rec.InternalAddr = cur?.InternalAddr || decided.ip;
          rec.Profile = cur?.Profile || decided.profile;
          rec.MachineID = cur?.MachineID || decided.machineId;
          rec.Hostname = cur?.Hostname || decided.hostname;
          rec.IdentitySource = identity.source;
          if (report.uuid) rec.SMBIOSUUID = report.uuid.trim().toLowerCase();
          if (report.hardware) rec.Hardware = report.hardware;
          rec.FirstSeen ??= now;
          rec.State = 'installing';
          delete rec.StateReason;
          delete rec.Declared;
          audit.what = cur
            ? `enrolled again (state ${cur.State} -> installing)`
            : `enrolled: ip ${rec.InternalAddr}, profile ${rec.Profile}, hostname ${rec.Hostname}, identity from ${identity.source}${placeholder ? ` (declared as ${placeholder.Serial})` : ''}`;
          return rec;
        },
        audit,
      );
    } catch (err) {
      this.resync(serial);
      if (placeholder) this.sync(placeholder.Serial, this.store.get(placeholder.Serial));
      throw err;
    }
    if (!stored) throw new CocoonError('internal', `enrollment of ${serial} stored nothing`);
    if (placeholder) {
      await this.store.remove(placeholder.Serial, { what: `declared machine enrolled as ${serial}` });
    }
    this.emit('enrolled', stored, serial, audit.what, { profile: stored.Profile, hostname: stored.Hostname, identitySource: identity.source });
    return stored;
  }

  /** First-stage progress: an event only, nothing is stored. */
  reportProgress(serial: string, message: string): void {
    const r = this.require(serial);
    const msg = text('message', message, MAX_REASON, true) as string;
    this.emit('progress', r, r.Serial, msg);
  }

  private async transition(
    serial: string,
    to: MachineState,
    edit: (rec: MachineRecord, cur: Readonly<MachineRecord>) => void,
    audit: Audit,
    opts: { force?: boolean; idempotent?: boolean; allowed?: (cur: Readonly<MachineRecord>) => boolean } = {},
  ): Promise<Readonly<MachineRecord>> {
    const key = this.require(serial).Serial;
    const base = audit.what;
    const stored = await this.store.mutate(
      key,
      (cur) => {
        if (!cur) throw notFound('machine', key);
        if (opts.idempotent && cur.State === to) return undefined;
        const ok = opts.force || canTransition(cur.State, to) || opts.allowed?.(cur) === true;
        if (!ok) throw new CocoonError('conflict', `machine ${key} is ${cur.State}; it cannot go to ${to} (an operator can force the state with a reason)`, 'State');
        const rec = editableRecord(cur);
        rec.State = to;
        edit(rec, cur);
        audit.what = `state ${cur.State} -> ${to}${base ? `: ${base}` : ''}`;
        return rec;
      },
      audit,
    );
    if (!stored) throw notFound('machine', key);
    return stored;
  }

  /** The install finished: installing -> installed. */
  async reportInstalled(serial: string, info?: { message?: string }): Promise<Readonly<MachineRecord>> {
    const msg = text('message', info?.message, MAX_REASON, false);
    const r = await this.transition(
      serial,
      'installed',
      (rec) => {
        rec.InstalledAt = nowIso();
        delete rec.StateReason;
      },
      { what: msg ?? 'install finished' },
      { idempotent: true },
    );
    this.emit('installed', r, r.Serial, msg ?? 'install finished');
    return r;
  }

  /** An install step failed: -> failed, with the reason. */
  async reportFailed(serial: string, reason: string): Promise<Readonly<MachineRecord>> {
    const why = text('reason', reason, MAX_REASON, true) as string;
    const r = await this.transition(
      serial,
      'failed',
      (rec) => {
        rec.StateReason = why;
      },
      { what: why },
      // a repeated report (the agent retrying after a lost answer) updates the reason, no conflict
      { allowed: (cur) => cur.State === 'failed' },
    );
    this.emit('failed', r, r.Serial, why);
    return r;
  }

  /** The installed (or live) OS is up: -> running, LastBoot, BootCount, reported versions. */
  async bootComplete(serial: string, versions: Record<string, string> = {}): Promise<Readonly<MachineRecord>> {
    if (typeof versions !== 'object' || versions === null || Array.isArray(versions)) {
      throw new CocoonError('invalid', `versions: ${JSON.stringify(versions)} must be an object of name -> version`, 'versions');
    }
    const fields: Record<string, string> = {};
    const other: Record<string, string> = {};
    for (const [k, v] of Object.entries(versions)) {
      if (typeof v !== 'string' || v.length > 128) throw new CocoonError('invalid', `versions.${k}: ${JSON.stringify(v)} must be a string of at most 128 characters`, `versions.${k}`);
      // Only mayu's reported-version fields go into the record by name: a key like "OSVersion"
      // must not replace the operator's OS choice (a reinstall would then ask for that image).
      const field = REPORTED_VERSION_FIELDS.has(k) ? k : VERSION_FIELDS[k.toLowerCase()];
      if (field) fields[field] = v;
      else if (/^[A-Za-z0-9_.-]{1,64}$/.test(k)) other[k] = v;
      else throw new CocoonError('invalid', `versions: key ${JSON.stringify(k)} is not a valid name`, 'versions');
    }
    const liveProfile = (profile: string): boolean => this.config.profiles.some((p) => p.name === profile && p.boot === 'live');
    const r = await this.transition(
      serial,
      'running',
      (rec) => {
        rec.LastBoot = nowIso();
        rec.BootCount = (rec.BootCount ?? 0) + 1;
        Object.assign(rec, fields);
        if (Object.keys(other).length) rec.Versions = { ...((rec.Versions as Record<string, string> | undefined) ?? {}), ...other };
        delete rec.StateReason;
      },
      { what: 'boot complete' },
      { allowed: (cur) => (cur.State === 'installing' || cur.State === 'unknown') && liveProfile(cur.Profile) },
    );
    this.emit('boot-complete', r, r.Serial, 'boot complete', { versions });
    return r;
  }

  // ---- operator actions ------------------------------------------------------------------------

  /** Force a state (any transition) with the operator's reason. */
  async setState(serial: string, state: MachineState, audit: OperatorAudit): Promise<Readonly<MachineRecord>> {
    if (!isMachineState(state)) throw new CocoonError('invalid', `state: ${JSON.stringify(state)} is not one of ${MACHINE_STATES.join(', ')}`, 'state');
    const reason = text('reason', audit?.reason, MAX_REASON, true) as string;
    const a = operatorAudit('forced by operator', { ...audit, reason });
    const r = await this.transition(
      serial,
      state,
      (rec) => {
        rec.StateReason = reason;
        if (state === 'configured') delete rec.RescuePending;
      },
      a,
      { force: true },
    );
    this.emit('state-change', r, r.Serial, a.what, { state, reason, operator: audit.operator });
    return r;
  }

  /** Operator fields (PATCH). Unknown fields are refused, naming them. */
  async patch(serial: string, fields: OperatorPatch, audit: OperatorAudit): Promise<Readonly<MachineRecord>> {
    if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
      throw new CocoonError('invalid', `(body): ${JSON.stringify(fields)} must be an object of fields`, '(body)');
    }
    const key = this.require(serial).Serial;
    const input = fields as Record<string, unknown>;
    for (const k of Object.keys(input)) {
      if (!(OPERATOR_PATCH_FIELDS as readonly string[]).includes(k)) {
        throw new CocoonError('invalid', `${k}: this field cannot be changed (allowed: ${OPERATOR_PATCH_FIELDS.join(', ')})`, k);
      }
    }
    const clean: Record<string, unknown> = {};
    for (const k of ['ProviderId', 'EtcdClusterToken', 'OSName', 'OSVersion'] as const) {
      if (k in input) clean[k] = text(k, input[k], 256, false) ?? '';
    }
    if ('IPMIAddr' in input) {
      const v = input.IPMIAddr;
      if (typeof v !== 'string' || (v !== '' && !isIPv4(v))) throw new CocoonError('invalid', `IPMIAddr: ${JSON.stringify(v)} must be an IPv4 address or ""`, 'IPMIAddr');
      clean.IPMIAddr = v;
    }
    if ('FleetMetadata' in input) {
      const v = input.FleetMetadata;
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x.length > 256) || v.length > 64) {
        throw new CocoonError('invalid', `FleetMetadata: ${JSON.stringify(v)} must be a list of at most 64 strings`, 'FleetMetadata');
      }
      clean.FleetMetadata = [...(v as string[])];
    }
    for (const k of ['Cabinet', 'MachineOnCabinet'] as const) {
      if (!(k in input)) continue;
      const v = input[k];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 1_000_000) throw new CocoonError('invalid', `${k}: ${JSON.stringify(v)} must be a whole number >= 0`, k);
      clean[k] = v;
    }
    if ('Hostname' in input) {
      const v = input.Hostname;
      if (typeof v !== 'string' || !isValidHostname(v)) throw new CocoonError('invalid', `Hostname: ${JSON.stringify(v)} is not a valid hostname`, 'Hostname');
      clean.Hostname = v;
    }
    if ('Profile' in input && typeof input.Profile !== 'string') throw new CocoonError('invalid', `Profile: ${JSON.stringify(input.Profile)} must be a profile name`, 'Profile');
    if ('InternalAddr' in input && (typeof input.InternalAddr !== 'string' || !isIPv4(input.InternalAddr))) {
      throw new CocoonError('invalid', `InternalAddr: ${JSON.stringify(input.InternalAddr)} must be an IPv4 address`, 'InternalAddr');
    }

    const needsLock = 'Profile' in input || 'InternalAddr' in input || 'Hostname' in input;
    const reserve = async (): Promise<void> => {
      const cur = this.store.get(key);
      if (typeof input.Profile === 'string' && input.Profile !== cur?.Profile) this.quota.assign(key, input.Profile, true);
      if (typeof input.InternalAddr === 'string' && input.InternalAddr !== cur?.InternalAddr) this.ips.assign(key, input.InternalAddr);
      if (typeof clean.Hostname === 'string' && clean.Hostname !== cur?.Hostname) this.claimHostname(key, clean.Hostname, 'Hostname');
      if ('Profile' in input) clean.Profile = input.Profile;
      if ('InternalAddr' in input) clean.InternalAddr = input.InternalAddr;
    };
    if (needsLock) await this.store.withAllocationLock(reserve);
    const changed = Object.keys(clean);
    const a = operatorAudit(`set ${changed.join(', ')}`, audit);
    let r: Readonly<MachineRecord> | undefined;
    try {
      r = await this.store.mutate(
        key,
        (cur) => {
          if (!cur) throw notFound('machine', key);
          const rec = editableRecord(cur);
          const what: string[] = [];
          for (const [k, v] of Object.entries(clean)) {
            if (JSON.stringify(rec[k]) !== JSON.stringify(v)) what.push(`${k} ${JSON.stringify(rec[k] ?? '')} -> ${JSON.stringify(v)}`);
            rec[k] = v;
          }
          if (what.length === 0) return undefined;
          a.what = `set ${what.join(', ')}`;
          return rec;
        },
        a,
      );
    } catch (err) {
      this.resync(key);
      throw err;
    }
    if (!r) throw notFound('machine', key);
    this.resync(key);
    return r;
  }

  /** Sets (value) or removes (undefined) one template override for the machine. */
  async setOverride(serial: string, name: string, value: unknown, audit: OperatorAudit): Promise<Readonly<MachineRecord>> {
    if (typeof name !== 'string' || !OVERRIDE_KEY.test(name)) {
      throw new CocoonError('invalid', `key: ${JSON.stringify(name)} is not a valid override name (1-128 of A-Z a-z 0-9 _ . -, not starting with . or -)`, 'key');
    }
    if (value !== undefined) {
      const size = JSON.stringify(value)?.length ?? 0;
      if (size > 64 * 1024) throw new CocoonError('invalid', `value: the override is ${size} bytes; at most 65536 are allowed`, 'value');
    }
    const key = this.require(serial).Serial;
    const a = operatorAudit(value === undefined ? `override ${name} removed` : `override ${name} = ${JSON.stringify(value)}`, audit);
    const r = await this.store.mutate(
      key,
      (cur) => {
        if (!cur) throw notFound('machine', key);
        const rec = editableRecord(cur);
        const overrides = { ...rec.Overrides };
        if (value === undefined) {
          if (!(name in overrides)) return undefined;
          delete overrides[name];
        } else overrides[name] = structuredClone(value);
        rec.Overrides = overrides;
        return rec;
      },
      a,
    );
    if (!r) throw notFound('machine', key);
    return r;
  }

  /** Removes the machine's record; its address, profile place and hostname become free. */
  async decommission(serial: string, audit: OperatorAudit): Promise<void> {
    const r = this.require(serial);
    const ok = await this.store.remove(r.Serial, operatorAudit('decommissioned', audit));
    if (!ok) throw notFound('machine', serial);
    this.emit('decommissioned', r, r.Serial, `decommissioned${audit?.reason ? `: ${audit.reason}` : ''}`);
  }

  /**
   * Declares a machine before its first boot (by MAC; serial optional). It gets its address now;
   * the profile is taken now when given, else at enrollment by quota.
   */
  async declare(decl: DeclaredMachine, audit: OperatorAudit): Promise<Readonly<MachineRecord>> {
    return this.declareMachine(decl, audit, false);
  }

  /**
   * Files a record for every machine the config declares whose MAC (and serial) the store does
   * not hold yet, each an audited commit (operator "config"). Idempotent: run at every start.
   * A declaration that cannot be filed (its hostname or address taken meanwhile) is reported and
   * skipped; the machine still gets its declaration at enrollment where possible.
   */
  async applyConfigDeclarations(): Promise<{ added: number; errors: { mac: string; message: string }[] }> {
    let added = 0;
    const errors: { mac: string; message: string }[] = [];
    for (const [mac, d] of this.declaredByMac) {
      if (this.store.byMac(mac)) continue;
      if (d.serial !== undefined && this.store.get(d.serial.trim().toLowerCase())) continue;
      try {
        await this.declareMachine({ ...d, mac }, { operator: 'config', reason: 'declared in the config (machines[])' }, true);
        added++;
      } catch (err) {
        // Keep holding the declared address for the machine's enrollment.
        if (d.ip && this.ips.ownerOf(d.ip) === undefined && !this.ips.isReserved(d.ip)) this.ips.assign(this.declaredHolder(mac), d.ip, 'machines[].ip');
        errors.push({ mac, message: err instanceof Error ? err.message : String(err) });
      }
    }
    return { added, errors };
  }

  private async declareMachine(decl: DeclaredMachine, audit: OperatorAudit, fromConfig: boolean): Promise<Readonly<MachineRecord>> {
    if (typeof decl !== 'object' || decl === null) throw new CocoonError('invalid', '(body): a machine declaration {mac, serial?, hostname?, ip?, profile?} is required', '(body)');
    const mac = typeof decl.mac === 'string' ? normalizeMac(decl.mac) : undefined;
    if (!mac) throw new CocoonError('invalid', `mac: ${JSON.stringify(decl.mac)} is not a MAC address`, 'mac');
    let serial: string;
    if (decl.serial !== undefined) {
      const s = typeof decl.serial === 'string' ? decl.serial.trim().toLowerCase() : '';
      if (!isValidIdentity(s)) throw new CocoonError('invalid', `serial: ${JSON.stringify(decl.serial)} is not a valid machine serial (a-z 0-9 . _ -, starting with a letter or digit)`, 'serial');
      serial = s;
    } else serial = macIdentity(mac) as string;
    if (decl.hostname !== undefined && (typeof decl.hostname !== 'string' || !isValidHostname(decl.hostname))) {
      throw new CocoonError('invalid', `hostname: ${JSON.stringify(decl.hostname)} is not a valid hostname`, 'hostname');
    }
    if (decl.ip !== undefined && (typeof decl.ip !== 'string' || !isIPv4(decl.ip))) throw new CocoonError('invalid', `ip: ${JSON.stringify(decl.ip)} is not an IPv4 address`, 'ip');
    if (decl.ip !== undefined) {
      const { start, end } = this.config.network.ip_range;
      if (!inRange(decl.ip, start, end)) throw new CocoonError('invalid', `ip: ${decl.ip} is outside network.ip_range ${start}-${end}`, 'ip');
    }
    if (decl.profile !== undefined && typeof decl.profile !== 'string') throw new CocoonError('invalid', `profile: ${JSON.stringify(decl.profile)} must be a profile name`, 'profile');
    // The MAC first: declaring the same MAC twice is the operator's likelier mistake.
    const holder = this.store.byMac(mac);
    if (holder) throw new CocoonError('conflict', `mac: ${mac} already belongs to machine ${JSON.stringify(holder.Serial)}`, 'mac');
    const inConfig = this.declaredByMac.get(mac);
    if (inConfig && !fromConfig) throw new CocoonError('conflict', `mac: ${mac} is already declared in the config (machines[] ${inConfig.hostname ?? inConfig.serial ?? mac})`, 'mac');
    if (this.store.get(serial)) throw new CocoonError('conflict', `serial: machine ${serial} already exists`, 'serial');

    let decided: { ip: string; hostname: string; machineId: string };
    try {
      decided = await this.store.withAllocationLock(async () => {
        // The address held for a config declaration goes to its record.
        if (fromConfig && decl.ip && this.ips.ownerOf(decl.ip) === this.declaredHolder(mac)) this.ips.release(this.declaredHolder(mac));
        const ip = decl.ip ?? this.ips.allocate(serial);
        if (decl.ip) this.ips.assign(serial, decl.ip, 'ip');
        if (decl.profile) this.quota.assign(serial, decl.profile, !fromConfig, 'profile');
        const ids = this.uniqueHostname(serial);
        const hostname = decl.hostname ?? ids.hostname;
        this.claimHostname(serial, hostname, 'hostname');
        return { ip, hostname, machineId: ids.machineId };
      });
    } catch (err) {
      // A refused declaration keeps nothing: its address and profile place stay free.
      this.resync(serial);
      throw err;
    }
    const a = operatorAudit(`declared (mac ${mac}, ip ${decided.ip}${decl.profile ? `, profile ${decl.profile}` : ''})`, audit);
    let r: Readonly<MachineRecord> | undefined;
    try {
      r = await this.store.mutate(
        serial,
        (cur) => {
          if (cur) throw new CocoonError('conflict', `serial: machine ${serial} already exists`, 'serial');
          const rec = emptyRecord(serial);
          rec.MacAddresses = [mac];
          rec.InternalAddr = decided.ip;
          rec.Hostname = decided.hostname;
          rec.MachineID = decided.machineId;
          rec.Profile = decl.profile ?? '';
          rec.Declared = true;
          rec.IdentitySource = decl.serial !== undefined ? 'declared' : 'mac';
          rec.FirstSeen = nowIso();
          return rec;
        },
        a,
      );
    } catch (err) {
      this.resync(serial);
      throw err;
    }
    if (!r) throw new CocoonError('internal', `declaring ${serial} stored nothing`);
    this.emit('declared', r, serial, a.what);
    return r;
  }

  /** One-shot rescue boot: the boot server serves the rescue image once, then calls rescueServed. */
  async requestRescue(serial: string, audit: OperatorAudit): Promise<Readonly<MachineRecord>> {
    const key = this.require(serial).Serial;
    // Without an image the request could never be served: the machine would boot normally and
    // keep the flag, so it is refused instead of accepted and silently ignored.
    if (!this.config.rescue) {
      throw new CocoonError('conflict', 'rescue: no rescue image is configured; set rescue.kernel (and initrds, args) in the config file and reload', 'rescue');
    }
    const r = await this.store.mutate(
      key,
      (cur) => {
        if (!cur) throw notFound('machine', key);
        if (cur.RescuePending) return undefined;
        return { ...editableRecord(cur), RescuePending: true };
      },
      operatorAudit('rescue boot requested', audit),
    );
    if (!r) throw notFound('machine', key);
    this.emit('state-change', r, key, 'rescue boot requested', { rescue: true, reason: audit?.reason });
    return r;
  }

  /** Clears a pending rescue once the boot server has handed out the rescue script. */
  async rescueServed(serial: string): Promise<Readonly<MachineRecord>> {
    const key = this.require(serial).Serial;
    const r = await this.store.mutate(
      key,
      (cur) => {
        if (!cur) throw notFound('machine', key);
        if (!cur.RescuePending) return undefined;
        const rec = editableRecord(cur);
        delete rec.RescuePending;
        return rec;
      },
      { what: 'rescue boot served (next boot: its profile again)' },
    );
    if (!r) throw notFound('machine', key);
    this.emit('rescue-served', r, key, 'rescue image served once; the next boot follows the profile again');
    return r;
  }

  /**
   * The machine's iPXE script could not be rendered and the failsafe script was served instead.
   * Every time: a timeline event. Once per distinct error: the record (`Failsafe`) and its history
   * commit — a machine retrying every few seconds must not grow the history.
   * A machine not enrolled yet gets the event only.
   */
  async failsafeServed(serial: string, reason: string, mac?: string): Promise<Readonly<MachineRecord> | undefined> {
    const why = (typeof reason === 'string' && reason !== '' ? reason : 'unknown render error').slice(0, MAX_REASON);
    const cur = this.store.get(serial);
    if (!cur) {
      const e: LifecycleEvent = { source: 'server', type: 'failsafe', time: nowIso(), serial, message: `failsafe boot script served: ${why}` };
      const m = mac ? normalizeMac(mac) : undefined;
      if (m) e.mac = m;
      try {
        this.publish(e);
      } catch {
        // best effort, as emit()
      }
      return undefined;
    }
    let r: Readonly<MachineRecord> | undefined = cur;
    if (cur.Failsafe !== why) {
      r = await this.store.mutate(
        cur.Serial,
        (now) => {
          if (!now || now.Failsafe === why) return undefined;
          return { ...editableRecord(now), Failsafe: why };
        },
        { what: `failsafe boot: ${why}` },
      );
    }
    this.emit('failsafe', r ?? cur, cur.Serial, `failsafe boot script served: ${why}`, { reason: why });
    return r ?? cur;
  }

  /** The machine's own script renders again: forget the failsafe (one history commit). */
  async failsafeCleared(serial: string): Promise<Readonly<MachineRecord> | undefined> {
    const cur = this.store.get(serial);
    if (!cur || cur.Failsafe === undefined) return cur;
    const r = await this.store.mutate(
      cur.Serial,
      (now) => {
        if (!now || now.Failsafe === undefined) return undefined;
        const rec = editableRecord(now);
        delete rec.Failsafe;
        return rec;
      },
      { what: 'failsafe cleared: its boot script renders again' },
    );
    this.emit('failsafe-cleared', r ?? cur, cur.Serial, 'boot script renders again (failsafe cleared)');
    return r;
  }
}
