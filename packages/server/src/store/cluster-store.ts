import { mkdir, readdir, readFile, rmdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { atomicWriteFile, fsyncDir, isTempFileName } from '../util/atomic-write.js';
import { CocoonError } from '../util/errors.js';
import { GitAudit } from './git-audit.js';
import { KeyedMutex, Mutex } from './locks.js';
import { MachineIndex, HARDWARE_CACHE_SIZE } from './machine-index.js';
import {
  assertStorableSerial,
  CLUSTER_FILE,
  CONF_FILE,
  deepFreeze,
  isStorableSerial,
  normalizeRecord,
  parseRecordText,
  serializeRecord,
} from './record.js';
import type { Audit, ClusterRecord, HistoryEntry, MachineCount, MachineFilter, MachinePage, MachineRecord, MachineStore, Mutator } from './types.js';

/** The subset of a winston logger the store uses. */
export interface StoreLogger {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

export interface ClusterStoreOptions {
  dir: string;
  git: { enabled: boolean; authorName: string; authorEmail: string };
  logger?: StoreLogger;
  /** Delay before git's index file is rewritten after commits (default 300 ms). */
  indexFlushMs?: number;
  /** Records whose hardware facts are kept parsed (default HARDWARE_CACHE_SIZE). */
  hardwareCacheSize?: number;
}

const silent: StoreLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** `<serial>: <what>`, and for operator actions a blank line, then operator and reason. */
export function commitMessage(serial: string, audit: Audit): string {
  const oneLine = (s: string): string => s.replace(/\s*[\r\n]+\s*/g, ' ').trim();
  let msg = `${serial}: ${oneLine(audit.what)}`;
  const trailer: string[] = [];
  if (audit.operator) trailer.push(`operator: ${oneLine(audit.operator)}`);
  if (audit.reason) trailer.push(`reason: ${oneLine(audit.reason)}`);
  if (trailer.length) msg += `\n\n${trailer.join('\n')}`;
  return `${msg}\n`;
}

function confPath(serial: string): string {
  return `${serial}/${CONF_FILE}`;
}

interface LoadedFile {
  path: string;
  /** The file's text while git may need it; dropped once the file is known to be committed (or git is off). */
  text?: string;
}

/** Machine directories read per batch at open: the texts of one batch are in memory at a time. */
const LOAD_BATCH = 256;

/**
 * MachineStore on a mayu-0.11-style cluster directory. The directory is scanned once, at open;
 * afterwards memory is the read path and every mutation goes memory -> durable file -> git commit.
 */
export class ClusterStore implements MachineStore {
  private readonly machines: MachineIndex;
  private readonly locks = new KeyedMutex();
  private readonly allocation = new Mutex();
  private readonly listeners = new Set<(serial: string, record: Readonly<MachineRecord> | undefined) => void>();
  private clusterRecord: Readonly<ClusterRecord> = deepFreeze({});
  private closed = false;
  private readonly inflight = new Set<Promise<unknown>>();
  /** Serials whose uncommitted change was committed at open (crash repair). */
  readonly recovered: string[] = [];
  /** Files that could not be read at open (left untouched on disk). */
  readonly problems: { path: string; error: string }[] = [];

  private constructor(
    readonly dir: string,
    private readonly audit: GitAudit | undefined,
    private readonly logger: StoreLogger,
    hardwareCacheSize: number,
  ) {
    this.machines = new MachineIndex(
      {
        sharedMac: (mac, serials) => logger.warn('two machines share a MAC address', { mac, serials }),
        sharedIp: (ip, serials) => logger.warn('two machines share an address', { ip, serials }),
      },
      hardwareCacheSize,
    );
  }

  static async open(opts: ClusterStoreOptions): Promise<ClusterStore> {
    const dir = path.resolve(opts.dir);
    const logger = opts.logger ?? silent;
    await mkdir(dir, { recursive: true });
    const audit = opts.git.enabled
      ? await GitAudit.open({ dir, author: { name: opts.git.authorName, email: opts.git.authorEmail }, indexFlushMs: opts.indexFlushMs, logger })
      : undefined;
    const store = new ClusterStore(dir, audit, logger, opts.hardwareCacheSize ?? HARDWARE_CACHE_SIZE);
    await store.load(opts.git.enabled);
    return store;
  }

  // ---- open: the only directory scan ---------------------------------------------------------

  private async load(gitEnabled: boolean): Promise<void> {
    const files: LoadedFile[] = [];
    const machineDirs: string[] = [];
    const entries = await readdir(this.dir, { withFileTypes: true });
    for (const ent of entries) {
      if (isTempFileName(ent.name)) {
        await this.removeStray(path.join(this.dir, ent.name));
        continue;
      }
      if (ent.name === CLUSTER_FILE && ent.isFile()) {
        const text = await readFile(path.join(this.dir, CLUSTER_FILE), 'utf8');
        try {
          const parsed: unknown = JSON.parse(text);
          if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
          this.clusterRecord = deepFreeze(parsed as ClusterRecord);
          files.push({ path: CLUSTER_FILE, text });
        } catch (err) {
          this.problem(CLUSTER_FILE, err);
        }
        continue;
      }
      if (!ent.isDirectory() || ent.name.startsWith('.')) continue;
      if (!isStorableSerial(ent.name)) {
        this.logger.warn('cluster dir: ignoring a directory whose name is not a valid serial', { name: ent.name });
        continue;
      }
      machineDirs.push(ent.name);
    }
    // A batch at a time, so the open's high-water mark is the records plus one batch of file texts
    // (a process keeps its peak heap long after), not every file twice over.
    const verify = this.audit?.hasCommits() ? this.audit : undefined;
    for (let start = 0; start < machineDirs.length; start += LOAD_BATCH) {
      const batch = machineDirs.slice(start, start + LOAD_BATCH);
      const texts = await this.readConfs(batch);
      for (const [i, serial] of batch.entries()) {
        const text = texts[i];
        if (text === undefined) continue;
        const rel = confPath(serial);
        try {
          this.machines.set(serial, parseRecordText(text, serial));
        } catch (err) {
          this.problem(rel, err);
          continue;
        }
        // Files HEAD already holds need nothing more from repair (the common case at a restart).
        const keep = this.audit !== undefined && !(verify && (await verify.isCommitted(rel, text)));
        files.push(keep ? { path: rel, text } : { path: rel });
      }
    }

    if (!files.some((f) => f.path === CLUSTER_FILE) && !this.problems.some((p) => p.path === CLUSTER_FILE)) {
      const fresh: ClusterRecord = { GitStore: gitEnabled };
      const text = `${JSON.stringify(fresh, null, 2)}\n`;
      await atomicWriteFile(path.join(this.dir, CLUSTER_FILE), text);
      this.clusterRecord = deepFreeze(fresh);
      files.push({ path: CLUSTER_FILE, text });
    }

    if (this.audit) await this.repair(this.audit, files);
  }

  /** conf.json of each machine directory (undefined where there is none), a few reads at a time. */
  private async readConfs(serials: string[]): Promise<(string | undefined)[]> {
    const texts: (string | undefined)[] = new Array(serials.length);
    let next = 0;
    const reader = async (): Promise<void> => {
      for (let i = next++; i < serials.length; i = next++) {
        const sub = path.join(this.dir, serials[i] as string);
        let hasConf = false;
        for (const name of await readdir(sub)) {
          if (isTempFileName(name)) await this.removeStray(path.join(sub, name));
          else if (name === CONF_FILE) hasConf = true;
        }
        if (hasConf) texts[i] = await readFile(path.join(sub, CONF_FILE), 'utf8');
      }
    };
    await Promise.all(Array.from({ length: 16 }, reader));
    return texts;
  }

  /** Brings git in line with the files: adopts a directory without history, commits what a crash left uncommitted. */
  private async repair(audit: GitAudit, files: LoadedFile[]): Promise<void> {
    const broken = new Set(this.problems.map((p) => p.path));
    if (!audit.hasCommits()) {
      const machines = files.filter((f) => f.path !== CLUSTER_FILE).length;
      const what = machines > 0 ? `took over the cluster directory (${machines} machines)` : 'new cluster directory';
      const changes = files.map((f) => {
        // Without commits load() keeps every text; a missing one would commit a wrong file.
        if (f.text === undefined) throw new Error(`cluster dir: ${f.path} has no text for the first commit`);
        return { path: f.path, content: f.text };
      });
      await audit.commit(changes, `cocoon: ${what}\n`);
    } else {
      const onDisk = new Set<string>();
      for (const f of files) {
        onDisk.add(f.path);
        if (f.text === undefined || (await audit.isCommitted(f.path, f.text))) continue;
        const who = f.path === CLUSTER_FILE ? 'cluster' : (f.path.split('/')[0] as string);
        const known = audit.headFile(f.path) !== undefined;
        await audit.commit(
          [{ path: f.path, content: f.text }],
          `${who}: ${known ? 'change' : 'new record'} recovered after a crash (written to disk but not committed)\n`,
        );
        this.recovered.push(who);
      }
      await audit.loadAll();
      const gone = [...audit.headFiles()]
        .map(([p]) => p)
        .filter((p) => (p === CLUSTER_FILE || /^[^/]+\/conf\.json$/.test(p)) && !onDisk.has(p) && !broken.has(p));
      for (const p of gone) {
        const who = p.split('/')[0] as string;
        await audit.commit([{ path: p, content: null }], `${who}: removal recovered after a crash (deleted from disk but not committed)\n`);
        this.recovered.push(who);
      }
      if (this.recovered.length) this.logger.warn('cluster dir: committed changes a crash left uncommitted', { serials: this.recovered });
    }
    const verified = new Set(files.map((f) => f.path));
    await audit.rebuildIndex((p) => verified.has(p));
  }

  private async removeStray(file: string): Promise<void> {
    this.logger.warn('cluster dir: removing a temp file left by an interrupted write', { file });
    await unlink(file).catch(() => undefined);
  }

  private problem(file: string, err: unknown): void {
    const error = err instanceof Error ? err.message : String(err);
    this.problems.push({ path: file, error });
    this.logger.error('cluster dir: cannot read a record; it is left untouched and not served', { file, error });
  }

  // ---- reads -------------------------------------------------------------------------------------

  get(serial: string): Readonly<MachineRecord> | undefined {
    const k = this.machines.key(serial);
    return k === undefined ? undefined : this.machines.get(k);
  }

  byMac(mac: string): Readonly<MachineRecord> | undefined {
    const serial = this.machines.serialByMac(mac);
    return serial === undefined ? undefined : this.machines.get(serial);
  }

  byIp(ip: string): Readonly<MachineRecord> | undefined {
    const serial = this.machines.serialByIp(ip);
    return serial === undefined ? undefined : this.machines.get(serial);
  }

  page(filter: MachineFilter, offset: number, limit: number): MachinePage {
    return this.machines.page(filter, offset, limit);
  }

  counts(): MachineCount[] {
    return this.machines.counts();
  }

  records(): IterableIterator<Readonly<MachineRecord>> {
    return this.machines.records();
  }

  recordTexts(): IterableIterator<string> {
    return this.machines.texts();
  }

  count(): number {
    return this.machines.size;
  }

  cluster(): Readonly<ClusterRecord> {
    return this.clusterRecord;
  }

  // ---- writes ------------------------------------------------------------------------------------

  private assertOpen(): void {
    if (this.closed) throw new CocoonError('unavailable', 'the machine store is closed');
  }

  async mutate(serial: string, fn: Mutator, audit: Audit): Promise<Readonly<MachineRecord> | undefined> {
    this.assertOpen();
    assertStorableSerial(serial);
    const key = this.machines.key(serial) ?? serial;
    return this.track(this.locks.run(key, async () => {
      this.assertOpen();
      const current = this.machines.get(key);
      const next = await fn(current);
      if (next === undefined) return current;
      if (next.Serial !== key && next.Serial.toLowerCase() !== key.toLowerCase()) {
        throw new CocoonError('invalid', `Serial: a record for ${JSON.stringify(key)} cannot be renamed to ${JSON.stringify(next.Serial)}`, 'Serial');
      }
      const record = normalizeRecord(next as Record<string, unknown>, key);
      const compact = JSON.stringify(record);
      if (current && compact === JSON.stringify(current)) return current;
      const text = serializeRecord(record);
      // A parsed copy: the mutator's objects stay the caller's, and the record handed out is
      // exactly what the file holds.
      const parsed = JSON.parse(compact) as MachineRecord;
      const machineDir = path.join(this.dir, key);
      if (!current) {
        await mkdir(machineDir, { recursive: true });
        await fsyncDir(this.dir);
      }
      await atomicWriteFile(path.join(machineDir, CONF_FILE), text);
      // The file is the truth from here on: memory follows it even if the commit below fails
      // (the next start commits it as recovered).
      const stored = this.machines.set(key, parsed, { cached: true, json: compact });
      if (this.audit) await this.audit.commit([{ path: confPath(key), content: text }], commitMessage(key, audit));
      this.emit(key, stored);
      return stored;
    }));
  }

  /** Remembers an in-flight mutation so close() can wait for it. */
  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = (): void => {
      this.inflight.delete(p);
    };
    p.then(done, done);
    return p;
  }

  async remove(serial: string, audit: Audit): Promise<boolean> {
    this.assertOpen();
    assertStorableSerial(serial);
    const key = this.machines.key(serial) ?? serial;
    return this.track(this.locks.run(key, async () => {
      this.assertOpen();
      if (!this.machines.has(key)) return false;
      const machineDir = path.join(this.dir, key);
      await unlink(path.join(machineDir, CONF_FILE));
      await rmdir(machineDir).catch(() => undefined); // other files of an operator's: keep the dir
      await fsyncDir(this.dir);
      this.machines.delete(key);
      if (this.audit) await this.audit.commit([{ path: confPath(key), content: null }], commitMessage(key, audit));
      this.emit(key, undefined);
      return true;
    }));
  }

  withAllocationLock<T>(fn: () => Promise<T>): Promise<T> {
    return this.allocation.run(fn);
  }

  async history(serial: string, opts: { patch?: boolean; limit?: number } = {}): Promise<HistoryEntry[]> {
    assertStorableSerial(serial);
    if (!this.audit) return [];
    return this.audit.history(this.machines.key(serial) ?? serial, opts);
  }

  onChange(listener: (serial: string, record: Readonly<MachineRecord> | undefined) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(serial: string, record: Readonly<MachineRecord> | undefined): void {
    for (const l of this.listeners) {
      try {
        l(serial, record);
      } catch (err) {
        this.logger.error('store change listener failed', { serial, error: err instanceof Error ? err.message : String(err) });
      }
    }
  }

  /** Resolves once history() reads per-machine lists (on a taken-over history, after a background catch-up). */
  async whenHistoryReady(): Promise<void> {
    await this.audit?.historyCaughtUp();
  }

  /** Commits written by this process (0 with git off). */
  get commitsWritten(): number {
    return this.audit?.commitsWritten ?? 0;
  }

  get gitEnabled(): boolean {
    return this.audit !== undefined;
  }

  /** Writes git's index file now, so `git status` is clean immediately (it is otherwise written shortly after a burst). */
  async flush(): Promise<void> {
    await this.audit?.flushIndex();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.allocation.run(() => undefined);
    await Promise.allSettled([...this.inflight]);
    await this.audit?.close();
  }
}

export function openClusterStore(opts: ClusterStoreOptions): Promise<ClusterStore> {
  return ClusterStore.open(opts);
}
