import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { ensureAssets, type Assets } from './assets.js';
import { createNetwork, pidAlive, removeStaleNamespaces, type LabNetwork } from './netns.js';
import { chooseAccel, Machine, type Accel, type Firmware } from './qemu.js';
import { startServer, type RunningServer, type ProfileSpec } from './server.js';
import { layoutImages, E2E_OS, E2E_VERSION, E2E_BAD_VERSION } from './images.js';
import { ApiError } from './api.js';
import { waitFor } from './wait.js';
import { CACHE_DIR, CLI_MAIN } from './paths.js';

/** The fields of a machine record (conf.json) the scenarios look at. */
export interface MachineView {
  Serial: string;
  State: string;
  StateReason?: string;
  MacAddresses: string[];
  InternalAddr: string;
  Hostname: string;
  MachineID: string;
  Profile: string;
  ConnectedNIC?: string;
  Hardware?: Record<string, unknown>;
  BootCount?: number;
  LastBoot?: string;
  [field: string]: unknown;
}

export interface HistoryView {
  commit: string;
  message: string;
  date?: string;
}

export interface EventView {
  type: string;
  source?: string;
  message?: string;
  mac?: string;
  serial?: string;
  time?: string;
}

export interface LabOptions {
  /** Short name: part of the namespace and run directory names. */
  purpose: string;
  profiles?: ProfileSpec[];
  /** OS version every machine installs unless its profile says otherwise. */
  defaultVersion?: string;
  /** Namespace purpose (default e2e-<purpose>): the name is cocoon-<netnsPurpose>-<pid>-<n>. */
  netnsPurpose?: string;
  /** Keep the run directory even when everything passed. */
  keep?: boolean;
  progress?: (line: string) => void;
  /** Top-level config keys set over the lab's config (e.g. profiles with live images, rescue). */
  config?: Record<string, unknown>;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

let staleChecked = false;

/** Refuses to run where the lab cannot work, with a message that says what to do. */
export function labPrerequisites(): string | undefined {
  if (process.getuid?.() !== 0) return 'the e2e lab needs root (network namespaces, tap devices); run it as root';
  return undefined;
}

/**
 * One private provisioning network with the real Cocoon server (and its dnsmasq) and any number
 * of QEMU machines. Everything it starts is stopped by PID and the namespace deleted by stop(),
 * and by the emergency handlers if the process dies first.
 */
export class Lab {
  private readonly machines: Machine[] = [];
  private machineCount = 0;
  private stopped = false;

  private constructor(
    readonly opts: LabOptions,
    readonly net: LabNetwork,
    readonly server: RunningServer,
    readonly assets: Assets,
    readonly accel: Accel,
    readonly dir: string,
  ) {}

  static async start(opts: LabOptions): Promise<Lab> {
    const why = labPrerequisites();
    if (why) throw new Error(why);
    if (!staleChecked) {
      staleChecked = true;
      const removed = await removeStaleNamespaces();
      if (removed.length) opts.progress?.(`removed namespaces left by earlier runs: ${removed.join(', ')}`);
      pruneRunDirs();
    }
    const assets = await ensureAssets({ progress: opts.progress });
    const net = await createNetwork({ purpose: opts.netnsPurpose ?? `e2e-${opts.purpose}` });
    const dir = path.join(CACHE_DIR, 'runs', net.name);
    try {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      const accel = await chooseAccel(assets, dir);
      const imagesDir = path.join(dir, 'images');
      layoutImages(imagesDir, assets, [{ version: E2E_VERSION }, { version: E2E_BAD_VERSION, corruptChecksum: true }]);
      const server = await startServer({
        net,
        dir: path.join(dir, 'server'),
        imagesDir,
        defaultOs: { name: E2E_OS, version: opts.defaultVersion ?? E2E_VERSION },
        profiles: opts.profiles,
        ...(opts.config ? { extraConfig: opts.config } : {}),
      });
      return new Lab(opts, net, server, assets, accel, dir);
    } catch (err) {
      await net.destroy();
      throw err;
    }
  }

  get api() {
    return this.server.api;
  }

  /** A new machine on its own tap, not yet powered on. `index` makes serial, MAC and UUID. */
  async addMachine(opts: { firmware?: Firmware; diskMiB?: number; memoryMiB?: number; name?: string; diskless?: boolean } = {}): Promise<Machine> {
    // Numbered before the first await: machines added concurrently get distinct identities.
    const n = ++this.machineCount;
    const hex = n.toString(16).padStart(2, '0');
    const tap = await this.net.addTap();
    const name = opts.name ?? `${this.opts.purpose}-${n}`;
    const m = new Machine(
      {
        name,
        serial: `e2e-${this.opts.purpose}-${n}`.toLowerCase(),
        uuid: `c0c00000-0000-4000-8000-0000000000${hex}`,
        mac: `52:54:00:e2:e0:${hex}`,
        firmware: opts.firmware ?? 'bios',
        diskMiB: opts.diskMiB,
        memoryMiB: opts.memoryMiB,
        ...(opts.diskless ? { diskless: true } : {}),
      },
      this.net,
      tap,
      path.join(this.dir, 'machines', name),
      this.accel,
    );
    this.machines.push(m);
    return m;
  }

  async record(serial: string): Promise<MachineView | undefined> {
    try {
      return await this.api.json<MachineView>('GET', `/api/v1/machines/${encodeURIComponent(serial)}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  async list(): Promise<MachineView[]> {
    return unwrapList<MachineView>(await this.api.json<unknown>('GET', '/api/v1/machines'));
  }

  async history(serial: string): Promise<HistoryView[]> {
    return unwrapList<HistoryView>(await this.api.json<unknown>('GET', `/api/v1/machines/${encodeURIComponent(serial)}/history`));
  }

  async timeline(serial: string): Promise<EventView[]> {
    return unwrapList<EventView>(await this.api.json<unknown>('GET', `/api/v1/machines/${encodeURIComponent(serial)}/timeline`));
  }

  /**
   * Waits until the machine's record is in `state`. Gives up at once when the machine went
   * `failed` (unless that is the goal) or its QEMU stopped without getting there.
   */
  async waitForState(m: Machine, state: string, timeoutMs: number): Promise<MachineView> {
    let last: MachineView | undefined;
    const probe = async () => {
      last = await this.record(m.spec.serial);
      return last?.State === state ? last : undefined;
    };
    return waitFor(`${m.spec.serial} to be ${state}`, probe, {
      timeoutMs,
      intervalMs: 500,
      abortIf: async () => {
        if (last?.State === 'failed' && state !== 'failed') return `${m.spec.serial} is failed: ${last.StateReason ?? '(no reason)'}`;
        if (m.lastExit()) {
          // The guest may report and power off between two probes: look once more.
          if ((await probe()) !== undefined) return undefined;
          return `${m.spec.name}'s qemu ${m.lastExit()} while the machine is ${last?.State ?? 'not enrolled'}`;
        }
        return undefined;
      },
    }, () => (last ? `state ${last.State}${last.StateReason ? ` (${last.StateReason})` : ''}` : 'no record'));
  }

  /** cocoonctl, run inside the namespace against the lab's API port. */
  cocoonctl(args: string[]): Promise<CliResult> {
    const argv = ['netns', 'exec', this.net.name, process.execPath, CLI_MAIN, '--endpoint', this.server.apiUrl, '--token', this.server.token, ...args];
    return new Promise((resolve) => {
      execFile('ip', argv, { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** What to read when a scenario failed: consoles, per-machine events, the server log. */
  async diagnostics(): Promise<string> {
    const parts: string[] = [`=== lab ${this.net.name}: run directory ${this.dir} (accel ${this.accel})`];
    for (const m of this.machines) {
      parts.push(`--- ${m.spec.name} (serial ${m.spec.serial}, mac ${m.spec.mac}, ${m.spec.firmware}) qemu: ${m.lastExit() ?? (m.running ? 'running' : 'never started')}`);
      parts.push(m.consoleTail(30));
      try {
        const events = await this.timeline(m.spec.serial);
        parts.push(`--- events of ${m.spec.serial} (last 25 of ${events.length})`);
        parts.push(events.slice(-25).map((e) => `${e.time ?? ''} ${e.source ?? ''} ${e.type}: ${e.message ?? ''}`).join('\n'));
      } catch (err) {
        parts.push(`--- events of ${m.spec.serial}: ${(err as Error).message}`);
      }
    }
    parts.push('--- dnsmasq (tail)');
    parts.push(this.server.dnsmasqTail(30));
    parts.push(`--- server log (tail, without the harness's own 404 polls; whole log: ${this.server.logFile})`);
    parts.push(this.server.logTail(40));
    return parts.join('\n');
  }

  /** Stops every machine and the server, deletes the namespace; removes the run directory when asked. */
  async stop(opts: { removeRunDir?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(this.machines.map((m) => m.powerOff()));
    await this.server.stop();
    await this.net.destroy();
    if (opts.removeRunDir && !this.opts.keep && !process.env.E2E_KEEP) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A failed run keeps its directory for a post-mortem; of the runs that are over, the newest five stay. */
const KEEP_FINISHED_RUNS = 5;

function pruneRunDirs(): void {
  const runs = path.join(CACHE_DIR, 'runs');
  let names: string[];
  try {
    names = readdirSync(runs);
  } catch {
    return;
  }
  const finished = names
    .map((name) => ({ name, pid: Number(/-(\d+)-\d+$/.exec(name)?.[1] ?? NaN) }))
    .filter((r) => Number.isInteger(r.pid) && !pidAlive(r.pid))
    .map((r) => ({ ...r, mtime: statSync(path.join(runs, r.name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const r of finished.slice(KEEP_FINISHED_RUNS)) rmSync(path.join(runs, r.name), { recursive: true, force: true });
}

/** Lists come as arrays or wrapped in an object ({ items: [...] }, { machines: [...] } …). */
export function unwrapList<T>(body: unknown): T[] {
  if (Array.isArray(body)) return body as T[];
  if (body && typeof body === 'object') {
    const arrays = Object.values(body).filter(Array.isArray);
    if (arrays.length === 1) return arrays[0] as T[];
  }
  throw new Error(`expected a list, got ${JSON.stringify(body).slice(0, 200)}`);
}
