import { mkdir, readFile, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CocoonConfig, DeclaredMachine } from '../config/types.js';
import type { MachineRecord, MachineStore } from '../store/types.js';
import { tempPathFor } from '../util/atomic-write.js';
import type { Logger } from '../util/logger.js';
import { normalizeMac } from '../util/mac.js';

/**
 * The dhcp-hostsdir dnsmasq watches: one file per MAC holding one line, `MAC,ignore` or `MAC,IP`.
 * Never `set:` tags: dnsmasq 2.90 aborts on SIGHUP once such a line has matched a request.
 * New and rewritten files take effect at once (inotify, no signal); a removed file's entry stays
 * until SIGHUP, so removals (and only they) ask for one, coalesced over a short delay.
 */

export interface HostsDirOptions {
  dir: string;
  config: CocoonConfig;
  store: Pick<MachineStore, 'records' | 'byMac' | 'onChange'>;
  logger?: Logger;
  /** Called (coalesced) after files were removed while dnsmasq runs: send it SIGHUP. */
  requestReload: () => void;
  reloadDelayMs?: number;
}

const INSTALLED_STATES = new Set(['installed', 'running']);

/** The hosts line for one MAC, or undefined when dnsmasq should treat it like any client. */
export function hostLine(config: CocoonConfig, mac: string, record: Readonly<MachineRecord> | undefined, declared: DeclaredMachine | undefined): string | undefined {
  const net = config.network;
  if (record && net.host_policy === 'ignore-installed' && INSTALLED_STATES.has(record.State)) return `${mac},ignore`;
  const ip = record?.InternalAddr || declared?.ip;
  if (ip && (net.static_leases || declared?.ip !== undefined || record?.Declared === true)) return `${mac},${ip}`;
  return undefined;
}

/** Runs `fn` over `items` with at most `limit` at a time (file I/O of a fleet-wide reconcile). */
async function eachLimited<T>(items: readonly T[], fn: (item: T) => Promise<void>, limit = 32): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export function hostFileName(mac: string): string {
  return mac.replace(/:/g, '-');
}

export class HostsDir {
  /** What is on disk: MAC → line. */
  private readonly current = new Map<string, string>();
  /** Which MACs each serial had when last seen, to clean up MACs a machine no longer has. */
  private readonly macsBySerial = new Map<string, Set<string>>();
  private declared = new Map<string, DeclaredMachine>();
  private config: CocoonConfig;
  private queue: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;
  /** dnsmasq is running: removals must be followed by SIGHUP. */
  private live = false;

  constructor(private readonly opts: HostsDirOptions) {
    this.config = opts.config;
    this.indexDeclared();
  }

  get dir(): string {
    return this.opts.dir;
  }

  get entryCount(): number {
    return this.current.size;
  }

  entries(): ReadonlyMap<string, string> {
    return this.current;
  }

  /** Full reconcile with the store and the config: at start and after a config reload only. */
  async reconcile(): Promise<{ written: number; removed: number }> {
    return this.enqueue(async () => {
      await mkdir(this.opts.dir, { recursive: true });
      const desired = new Map<string, string>();
      this.macsBySerial.clear();
      for (const rec of this.opts.store.records()) {
        const macs = new Set<string>();
        for (const raw of rec.MacAddresses) {
          const mac = normalizeMac(raw);
          if (!mac) continue;
          macs.add(mac);
          const line = hostLine(this.config, mac, rec, this.declared.get(mac));
          if (line) desired.set(mac, line);
        }
        this.macsBySerial.set(rec.Serial, macs);
      }
      for (const [mac, d] of this.declared) {
        if (this.opts.store.byMac(mac)) continue;
        const line = hostLine(this.config, mac, undefined, d);
        if (line) desired.set(mac, line);
      }

      const onDisk = await readdir(this.opts.dir);
      let removed = 0;
      let written = 0;
      const wanted = new Set([...desired.keys()].map(hostFileName));
      await eachLimited(onDisk, async (name) => {
        if (wanted.has(name)) return;
        await unlink(path.join(this.opts.dir, name)).catch(() => undefined);
        if (!name.startsWith('.')) removed++;
      });
      this.current.clear();
      await eachLimited([...desired], async ([mac, line]) => {
        const file = path.join(this.opts.dir, hostFileName(mac));
        const existing = await readFile(file, 'utf8').catch(() => undefined);
        if (existing !== `${line}\n`) {
          await this.writeAtomically(file, `${line}\n`);
          written++;
        }
        this.current.set(mac, line);
      });
      if (removed > 0 && this.live) this.scheduleReload();
      return { written, removed };
    });
  }

  /** Follow the store from now on (incremental: only the changed machine's MACs are touched). */
  follow(): void {
    this.unsubscribe ??= this.opts.store.onChange((serial, record) => {
      void this.enqueue(() => this.applyChange(serial, record)).catch((err: unknown) => {
        this.opts.logger?.error('dhcp hosts entry update failed', { serial, err: String(err) });
      });
    });
  }

  /** dnsmasq is (not) running: whether removals need a SIGHUP. */
  setLive(live: boolean): void {
    this.live = live;
  }

  /** A new configuration (policy, static leases, declared machines): full reconcile. */
  async setConfig(config: CocoonConfig): Promise<{ written: number; removed: number }> {
    this.updateConfig(config);
    return this.reconcile();
  }

  /** Take a new configuration without touching the directory (the next reconcile uses it). */
  updateConfig(config: CocoonConfig): void {
    this.config = config;
    this.indexDeclared();
  }

  /** Resolves when every change queued so far is on disk. */
  async idle(): Promise<void> {
    await this.queue.catch(() => undefined);
  }

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    this.reloadTimer = undefined;
  }

  private async applyChange(serial: string, record: Readonly<MachineRecord> | undefined): Promise<void> {
    const before = this.macsBySerial.get(serial) ?? new Set<string>();
    const after = new Set<string>();
    for (const raw of record?.MacAddresses ?? []) {
      const mac = normalizeMac(raw);
      if (mac) after.add(mac);
    }
    if (record) this.macsBySerial.set(serial, after);
    else this.macsBySerial.delete(serial);

    let removed = false;
    for (const mac of new Set([...before, ...after])) {
      // A MAC this machine dropped may belong to another record (or a declaration) now.
      const owner = after.has(mac) ? record : this.opts.store.byMac(mac);
      const line = hostLine(this.config, mac, owner, this.declared.get(mac));
      removed = (await this.apply(mac, line)) || removed;
    }
    if (removed && this.live) this.scheduleReload();
  }

  /** Brings one MAC's file to `line`; true if a file was removed. */
  private async apply(mac: string, line: string | undefined): Promise<boolean> {
    const have = this.current.get(mac);
    if (have === line) return false;
    const file = path.join(this.opts.dir, hostFileName(mac));
    if (line === undefined) {
      await unlink(file).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      this.current.delete(mac);
      this.opts.logger?.info('dhcp hosts entry removed', { mac, was: have });
      return true;
    }
    await this.writeAtomically(file, `${line}\n`);
    this.current.set(mac, line);
    this.opts.logger?.info('dhcp hosts entry written', { mac, line });
    return false;
  }

  /**
   * tmp + rename, so dnsmasq never reads half a line; the temporary name (util/atomic-write's)
   * starts with a dot, which dnsmasq's inotify handler skips. No fsync: the directory is derived
   * state, rebuilt from the store at every start, and a fleet-wide reconcile must stay fast.
   */
  private async writeAtomically(file: string, text: string): Promise<void> {
    const tmp = tempPathFor(file);
    try {
      await writeFile(tmp, text, { mode: 0o644 });
      await rename(tmp, file);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }

  private scheduleReload(): void {
    if (this.reloadTimer) return;
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = undefined;
      this.opts.requestReload();
    }, this.opts.reloadDelayMs ?? 100);
    this.reloadTimer.unref();
  }

  private indexDeclared(): void {
    this.declared = new Map();
    for (const d of this.config.machines) {
      const mac = normalizeMac(d.mac);
      if (mac) this.declared.set(mac, d);
    }
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }
}
