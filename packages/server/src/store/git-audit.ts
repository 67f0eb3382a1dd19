import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { readFile } from 'node:fs/promises';
import { deflateSync } from 'node:zlib';
import path from 'node:path';
import git from 'isomorphic-git';
import { createTwoFilesPatch } from 'diff';
import { CocoonError } from '../util/errors.js';
import { GitIndexFile } from './git-index.js';
import { HistoryLog } from './history-log.js';
import type { HistoryEntry } from './types.js';

/**
 * The cluster directory's audit trail. Commits are built from objects written directly
 * (blob, trees, commit) against a tree kept in memory, so a commit costs the same after 100 000
 * commits as after one; isomorphic-git's add + commit re-reads and rewrites the whole index each
 * time and slows down with the repository. The index file is maintained separately (GitIndexFile)
 * and written lazily, so `git status` / `git log -p` stay clean and truthful for operators.
 */

export interface GitAuthor {
  name: string;
  email: string;
}

export interface GitAuditOptions {
  dir: string;
  author: GitAuthor;
  /** Delay before the index file is rewritten after a commit (coalesces bursts). */
  indexFlushMs?: number;
  /** Most commits written per ref update (group commit). */
  maxBatch?: number;
  logger?: { warn(message: string, meta?: Record<string, unknown>): void };
}

export interface FileChange {
  /** Path relative to the worktree, '/'-separated. */
  path: string;
  /** New content, or null to delete the file. */
  content: string | Uint8Array | null;
}

/** One tree entry: '100644' | '100755' | '120000' | '160000' for files, links, submodules; '40000' for trees. */
interface Entry {
  mode: string;
  oid: string;
  /** Loaded subtree (trees only). */
  node?: TreeNode;
}

interface Slot {
  name: string;
  /** Sort key: git orders a directory's name as if it ended in '/'. */
  key: Buffer;
  isTree: boolean;
  /** Offset of this entry's encoding in `TreeNode.buf`, and its length. */
  offset: number;
  length: number;
}

/**
 * A tree held in memory together with its encoded object content ("<mode> <name>\0<oid>" per
 * entry, in git order). Changing an entry's oid patches 20 bytes in place and a new entry is one
 * splice, so building the root tree of a 10 000-machine cluster costs a copy, not a re-encode.
 */
class TreeNode {
  readonly entries = new Map<string, Entry>();
  private readonly slots = new Map<string, Slot>();
  private readonly order: Slot[] = [];
  private buf = Buffer.alloc(0);
  /** Oid of this tree as last built; undefined when changed since. */
  oid: string | undefined;

  set(name: string, entry: Entry): void {
    this.entries.set(name, entry);
    this.oid = undefined;
    const isTree = entry.mode === '40000';
    const slot = this.slots.get(name);
    if (slot && slot.isTree === isTree && this.buf.toString('latin1', slot.offset, slot.offset + entry.mode.length) === entry.mode) {
      if (entry.oid) this.buf.write(entry.oid, slot.offset + slot.length - 20, 20, 'hex');
      return;
    }
    if (slot) this.removeSlot(slot);
    const enc = Buffer.concat([Buffer.from(`${entry.mode} ${name}\0`, 'utf8'), Buffer.alloc(20)]);
    if (entry.oid) enc.write(entry.oid, enc.length - 20, 20, 'hex');
    const key = Buffer.from(isTree ? `${name}/` : name, 'utf8');
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (Buffer.compare((this.order[mid] as Slot).key, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    const offset = lo < this.order.length ? (this.order[lo] as Slot).offset : this.buf.length;
    const fresh: Slot = { name, key, isTree, offset, length: enc.length };
    this.buf = Buffer.concat([this.buf.subarray(0, offset), enc, this.buf.subarray(offset)]);
    for (let i = lo; i < this.order.length; i++) (this.order[i] as Slot).offset += enc.length;
    this.order.splice(lo, 0, fresh);
    this.slots.set(name, fresh);
  }

  /** Fills an empty node in one pass (loading a 10 000-entry tree entry by entry would be quadratic). */
  fill(list: [string, Entry][]): void {
    const slots = list.map(([name, entry]) => {
      const isTree = entry.mode === '40000';
      return { name, entry, isTree, key: Buffer.from(isTree ? `${name}/` : name, 'utf8') };
    });
    slots.sort((a, b) => Buffer.compare(a.key, b.key));
    const parts: Buffer[] = [];
    let offset = 0;
    for (const { name, entry, isTree, key } of slots) {
      const enc = Buffer.concat([Buffer.from(`${entry.mode} ${name}\0`, 'utf8'), Buffer.from(entry.oid, 'hex')]);
      parts.push(enc);
      const slot: Slot = { name, key, isTree, offset, length: enc.length };
      offset += enc.length;
      this.order.push(slot);
      this.slots.set(name, slot);
      this.entries.set(name, entry);
    }
    this.buf = Buffer.concat(parts);
  }

  delete(name: string): void {
    const slot = this.slots.get(name);
    if (!this.entries.delete(name) || !slot) return;
    this.oid = undefined;
    this.removeSlot(slot);
  }

  private removeSlot(slot: Slot): void {
    const i = this.order.indexOf(slot);
    this.buf = Buffer.concat([this.buf.subarray(0, slot.offset), this.buf.subarray(slot.offset + slot.length)]);
    for (let j = i + 1; j < this.order.length; j++) (this.order[j] as Slot).offset -= slot.length;
    this.order.splice(i, 1);
    this.slots.delete(slot.name);
  }

  /** A copy of the tree object's content (the live buffer keeps changing). */
  encode(): Buffer {
    return Buffer.from(this.buf);
  }
}

/** git's blob id of `content`, computed locally (crash repair compares files with HEAD this way). */
export function blobOid(content: string | Uint8Array): string {
  const buf = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  return createHash('sha1').update(`blob ${buf.length}\0`).update(buf).digest('hex');
}

function objectOid(type: string, content: Buffer): string {
  return createHash('sha1').update(`${type} ${content.length}\0`).update(content).digest('hex');
}

function isNotFound(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === 'NotFoundError';
}

interface PendingCommit {
  changes: FileChange[];
  message: string;
  resolve: (oid: string) => void;
  reject: (err: unknown) => void;
}

interface NewObject {
  type: 'blob' | 'tree' | 'commit';
  content: Buffer;
}

export class GitAudit {
  private head: string | undefined;
  private root = new TreeNode();
  /** Every file in HEAD's tree: path -> blob oid. */
  private readonly files = new Map<string, string>();
  /** Commits waiting to be written; drained in groups (group commit). */
  private pending: PendingCommit[] = [];
  private draining: Promise<void> | undefined;
  private readonly index: GitIndexFile;
  private indexTimer: NodeJS.Timeout | undefined;
  /** Index changes made / written: the index file is stale while they differ. */
  private indexGen = 0;
  private indexWrittenGen = -1;
  private indexWriting: Promise<void> = Promise.resolve();
  private readonly cache = {};
  private readonly objectDirs = new Set<string>();
  private tmpCounter = 0;
  private commitCount = 0;
  private batchCount = 0;
  private readonly historyLog: HistoryLog;
  /** The per-serial lists are complete (catch-up done) and are the read path of history(). */
  private historyReady = false;
  /** Appends made while the catch-up runs, applied after it (keeps each list in commit order). */
  private historyBacklog = new Map<string, string[]>();
  private historyCatchUp: Promise<void> = Promise.resolve();
  private readonly warn: (message: string, meta?: Record<string, unknown>) => void;

  private constructor(
    readonly dir: string,
    readonly gitdir: string,
    private readonly branchRef: string,
    private readonly author: GitAuthor,
    private readonly indexFlushMs: number,
    private readonly maxBatch: number,
    logger: GitAuditOptions['logger'],
  ) {
    this.index = new GitIndexFile(gitdir, dir);
    this.historyLog = new HistoryLog(gitdir);
    this.warn = (m, meta) => logger?.warn(m, meta);
  }

  static async open(opts: GitAuditOptions): Promise<GitAudit> {
    const gitdir = path.join(opts.dir, '.git');
    if (!fs.existsSync(path.join(gitdir, 'HEAD'))) {
      await git.init({ fs, dir: opts.dir, defaultBranch: 'main' });
    }
    const headText = (await readFile(path.join(gitdir, 'HEAD'), 'utf8')).trim();
    const m = /^ref: (refs\/heads\/\S+)$/.exec(headText);
    if (!m?.[1]) {
      throw new CocoonError('internal', `the cluster directory's git repository has a detached HEAD (${headText}); check out a branch first`);
    }
    const audit = new GitAudit(opts.dir, gitdir, m[1], opts.author, opts.indexFlushMs ?? 300, opts.maxBatch ?? 64, opts.logger);
    // Lock files a killed Cocoon left behind would block git (ours and the operator's) forever.
    for (const lock of [path.join(gitdir, ...m[1].split('/')) + '.lock', path.join(gitdir, 'index.lock')]) {
      if (fs.existsSync(lock)) {
        opts.logger?.warn('cluster dir: removing a stale git lock file left by an interrupted run', { file: lock });
        await fs.promises.unlink(lock).catch(() => undefined);
      }
    }
    await audit.load();
    // In the background: taking over a long history must not delay the start.
    audit.historyCatchUp = audit.catchUpHistory().catch((err: unknown) => {
      audit.warn('git audit: per-machine history lists could not be brought up to date; history() walks the log instead', { error: String(err) });
    });
    return audit;
  }

  /**
   * Adds the commits since the lists were last complete (all of them, the first time) to the
   * per-serial lists, attributing each by its `<serial>: ` message prefix.
   */
  private async catchUpHistory(): Promise<void> {
    const upTo = this.historyLog.completeUpTo();
    const start = this.head;
    const found: [string, string][] = [];
    for (let oid = start; oid && oid !== upTo; ) {
      const { commit } = await git.readCommit({ fs, dir: this.dir, oid, cache: this.cache });
      const m = /^([A-Za-z0-9][A-Za-z0-9._-]{0,127}): /.exec(commit.message);
      if (m?.[1]) found.push([m[1], oid]);
      oid = commit.parent[0];
    }
    const bySerial = new Map<string, string[]>();
    for (const [serial, oid] of found.reverse()) bySerial.set(serial, [...(bySerial.get(serial) ?? []), oid]);
    await this.historyLog.appendMissing(bySerial);
    // Commits keep landing while we append: take the backlog until it stays empty, then switch
    // over without an await in between, so no commit falls between backlog and list.
    for (;;) {
      const backlog = this.historyBacklog;
      this.historyBacklog = new Map();
      if (backlog.size === 0) break;
      await this.historyLog.append(backlog);
    }
    this.historyReady = true;
    if (this.head) await this.historyLog.markComplete(this.head);
  }

  private async load(): Promise<void> {
    this.files.clear();
    this.root = new TreeNode();
    try {
      this.head = await git.resolveRef({ fs, dir: this.dir, ref: this.branchRef });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      this.head = undefined;
    }
    if (!this.head) return;
    const { commit } = await git.readCommit({ fs, dir: this.dir, oid: this.head, cache: this.cache });
    this.root = await this.loadTree(commit.tree, '', false);
  }

  /**
   * Reads a tree object. The root is read shallow: a machine's subtree is only read from git when
   * `isCommitted` cannot tell from the file itself (see there), so opening a 10 000-machine
   * cluster does not read 10 000 tree objects.
   */
  private async loadTree(oid: string, prefix: string, deep = true): Promise<TreeNode> {
    const node = new TreeNode();
    const { tree } = await git.readTree({ fs, dir: this.dir, oid, cache: this.cache });
    const list: [string, Entry][] = [];
    for (const e of tree) {
      const p = prefix + e.path;
      if (e.type === 'tree') {
        list.push([e.path, deep ? { mode: '40000', oid: e.oid, node: await this.loadTree(e.oid, `${p}/`) } : { mode: '40000', oid: e.oid }]);
      } else {
        list.push([e.path, { mode: e.mode.replace(/^0+/, ''), oid: e.oid }]);
        if (e.type === 'blob') this.files.set(p, e.oid);
      }
    }
    node.fill(list);
    node.oid = oid;
    return node;
  }

  /** Loads the root entry `name`'s subtree if it is still unread. */
  private async ensureLoaded(name: string): Promise<void> {
    const e = this.root.entries.get(name);
    if (e && e.mode === '40000' && !e.node) e.node = await this.loadTree(e.oid, `${name}/`);
  }

  /**
   * Whether HEAD holds exactly `content` at `filepath`. For `<dir>/<file>` whose subtree is unread,
   * the tree a directory holding only that file would have is computed locally; if HEAD has that
   * tree, the answer is yes without reading anything from git.
   */
  async isCommitted(filepath: string, content: string | Uint8Array): Promise<boolean> {
    const oid = blobOid(content);
    const parts = filepath.split('/');
    if (parts.length === 2) {
      const [dirName, file] = parts as [string, string];
      const e = this.root.entries.get(dirName);
      if (!e || e.mode !== '40000') return false;
      if (!e.node) {
        const single = objectOid('tree', Buffer.concat([Buffer.from(`100644 ${file}\0`, 'utf8'), Buffer.from(oid, 'hex')]));
        if (single === e.oid) {
          const node = new TreeNode();
          node.fill([[file, { mode: '100644', oid }]]);
          node.oid = e.oid;
          e.node = node;
          this.files.set(filepath, oid);
          return true;
        }
        await this.ensureLoaded(dirName);
      }
    }
    return this.files.get(filepath) === oid;
  }

  /** Reads every subtree not read yet (after isCommitted: the directories missing on disk). */
  async loadAll(): Promise<void> {
    for (const [name, e] of this.root.entries) if (e.mode === '40000' && !e.node) await this.ensureLoaded(name);
  }

  hasCommits(): boolean {
    return this.head !== undefined;
  }

  headOid(): string | undefined {
    return this.head;
  }

  /** Blob oid of `filepath` in HEAD (undefined if absent or in a subtree not read yet). */
  headFile(filepath: string): string | undefined {
    return this.files.get(filepath);
  }

  /** Every file of HEAD read so far (all of them after loadAll). */
  headFiles(): IterableIterator<[string, string]> {
    return this.files.entries();
  }

  /** Commits written by this process (for benchmarks and logs). */
  get commitsWritten(): number {
    return this.commitCount;
  }

  /** Ref updates written by this process: commits / batches is the group-commit factor. */
  get batchesWritten(): number {
    return this.batchCount;
  }

  /**
   * Rebuilds the index from HEAD. `verified(path)` says the worktree file is known to have HEAD's
   * content: only those get stat data; the others get none, so git compares contents for them.
   */
  async rebuildIndex(verified: (filepath: string) => boolean): Promise<void> {
    for (const [p, oid] of this.files) {
      if (verified(p)) this.index.refreshStatSync(p, oid);
      else this.index.set(p, { oid, mode: '100644' });
    }
    this.indexGen++;
    await this.flushIndex();
  }

  /**
   * Commits `changes` as one commit, resolving once the commit is written and the branch points
   * at it (or past it). Commits that queue up while a group is being written are written together
   * as a chain of commits with one ref update: still one commit per change, far fewer waits.
   */
  commit(changes: FileChange[], message: string): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      this.pending.push({ changes, message, resolve, reject });
      if (!this.draining) this.draining = this.drain();
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.length) {
      const batch = this.pending.splice(0, this.maxBatch);
      try {
        const oids = await this.writeBatch(batch);
        batch.forEach((p, i) => p.resolve(oids[i] as string));
      } catch (err) {
        // The in-memory tree is ahead of HEAD: start again from what HEAD really holds.
        await this.load().catch(() => undefined);
        for (const p of batch) p.reject(err);
      }
    }
    this.draining = undefined;
  }

  private async writeBatch(batch: PendingCommit[]): Promise<string[]> {
    for (const { changes } of batch) {
      for (const ch of changes) if (ch.path.includes('/')) await this.ensureLoaded(ch.path.split('/')[0] as string);
    }
    const objects = new Map<string, NewObject>();
    const touched = new Map<string, string | null>();
    const oids: string[] = [];
    const bySerial = new Map<string, string[]>();
    let parent = this.head;
    for (const { changes, message } of batch) {
      const serials = new Set(changes.filter((c) => c.path.includes('/')).map((c) => c.path.split('/')[0] as string));
      for (const ch of changes) {
        const parts = ch.path.split('/');
        if (ch.content === null) {
          this.removePath(this.root, parts);
          touched.set(ch.path, null);
        } else {
          const content = typeof ch.content === 'string' ? Buffer.from(ch.content, 'utf8') : Buffer.from(ch.content);
          const oid = objectOid('blob', content);
          objects.set(oid, { type: 'blob', content });
          this.setPath(this.root, parts, oid);
          touched.set(ch.path, oid);
        }
      }
      const tree = this.buildTree(this.root, objects);
      const when = `${Math.floor(Date.now() / 1000)} +0000`;
      const who = `${this.author.name} <${this.author.email}> ${when}`;
      const text = `tree ${tree}\n${parent ? `parent ${parent}\n` : ''}author ${who}\ncommitter ${who}\n\n${message.endsWith('\n') ? message : `${message}\n`}`;
      const content = Buffer.from(text, 'utf8');
      const oid = objectOid('commit', content);
      objects.set(oid, { type: 'commit', content });
      oids.push(oid);
      for (const serial of serials) bySerial.set(serial, [...(bySerial.get(serial) ?? []), oid]);
      parent = oid;
    }
    await this.writeObjects(objects);
    // Our own atomic ref update through git's lock file name (<ref>.lock + rename): a crash never
    // leaves a truncated ref. Like git, no fsync: a ref lost to a power cut is repaired at
    // start-up from the files.
    const refFile = path.join(this.gitdir, ...this.branchRef.split('/'));
    if (this.batchCount === 0) await fs.promises.mkdir(path.dirname(refFile), { recursive: true });
    await fs.promises.writeFile(`${refFile}.lock`, `${parent}\n`);
    await fs.promises.rename(`${refFile}.lock`, refFile);
    this.head = parent;
    this.commitCount += batch.length;
    this.batchCount++;
    for (const [p, oid] of touched) {
      if (oid === null) {
        this.files.delete(p);
        this.index.delete(p);
      } else {
        this.files.set(p, oid);
        this.index.refreshStatSync(p, oid);
      }
    }
    if (this.historyReady) {
      await this.historyLog.append(bySerial).catch((err: unknown) => {
        this.historyReady = false; // a list may now miss a commit: walk the log until the next start
        this.warn('git audit: could not append to a per-machine history list', { error: String(err) });
      });
    } else {
      for (const [serial, list] of bySerial) this.historyBacklog.set(serial, [...(this.historyBacklog.get(serial) ?? []), ...list]);
    }
    this.indexGen++;
    this.scheduleIndexFlush();
    return oids;
  }

  /**
   * Writes loose objects (zlib, like git), four at a time, each to a temp file renamed into place
   * as git does: a kill -9 never leaves an empty or short object. The temp files are named like
   * git's own (tmp_obj_*), which fsck ignores and `git prune` cleans up if a crash strands one.
   */
  private async writeObjects(objects: Map<string, NewObject>): Promise<void> {
    const list = [...objects];
    const worker = async (): Promise<void> => {
      for (let item = list.pop(); item; item = list.pop()) {
        const [oid, o] = item;
        const dir = path.join(this.gitdir, 'objects', oid.slice(0, 2));
        const file = path.join(dir, oid.slice(2));
        if (!this.objectDirs.has(dir)) {
          await fs.promises.mkdir(dir, { recursive: true });
          this.objectDirs.add(dir);
        }
        if (fs.existsSync(file)) continue;
        // Big trees are mostly random oid bytes that hardly compress: store them (level 0) and
        // spend no CPU on it; git reads either.
        const level = o.content.length > 64 * 1024 ? 0 : 1;
        const data = deflateSync(Buffer.concat([Buffer.from(`${o.type} ${o.content.length}\0`), o.content]), { level });
        const tmp = path.join(dir, `tmp_obj_${process.pid}_${(this.tmpCounter++).toString(36)}`);
        await fs.promises.writeFile(tmp, data, { mode: 0o444 });
        await fs.promises.rename(tmp, file);
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, list.length) }, worker));
  }

  private setPath(node: TreeNode, parts: string[], oid: string): void {
    const [name, ...rest] = parts as [string, ...string[]];
    if (rest.length === 0) {
      node.set(name, { mode: '100644', oid });
      return;
    }
    let child = node.entries.get(name);
    if (!child?.node) {
      child = { mode: '40000', oid: '', node: new TreeNode() };
    }
    this.setPath(child.node as TreeNode, rest, oid);
    node.set(name, { mode: '40000', oid: '', node: child.node as TreeNode });
  }

  private removePath(node: TreeNode, parts: string[]): void {
    const [name, ...rest] = parts as [string, ...string[]];
    const child = node.entries.get(name);
    if (!child) return;
    if (rest.length === 0) {
      node.delete(name);
      return;
    }
    if (!child.node) return;
    this.removePath(child.node, rest);
    if (child.node.entries.size === 0) node.delete(name); // git has no empty trees
    else node.set(name, { mode: '40000', oid: '', node: child.node });
  }

  /** Computes the oid of every changed tree (bottom-up), queueing the new tree objects. */
  private buildTree(node: TreeNode, objects: Map<string, NewObject>): string {
    if (node.oid) return node.oid;
    for (const [name, e] of node.entries) {
      if (e.node && (!e.oid || !e.node.oid)) {
        const oid = this.buildTree(e.node, objects);
        node.set(name, { mode: '40000', oid, node: e.node });
      }
    }
    const content = node.encode();
    const oid = objectOid('tree', content);
    objects.set(oid, { type: 'tree', content });
    node.oid = oid;
    return oid;
  }

  private scheduleIndexFlush(): void {
    if (this.indexTimer) return;
    this.indexTimer = setTimeout(() => {
      this.indexTimer = undefined;
      this.flushIndex().catch(() => this.scheduleIndexFlush());
    }, this.indexFlushMs);
    this.indexTimer.unref();
  }

  /** Writes the index file now (after pending commits); one write at a time. */
  flushIndex(): Promise<void> {
    const run = this.indexWriting.then(() => this.writeIndexNow());
    this.indexWriting = run.catch(() => undefined);
    return run;
  }

  /** Resolves when no commit is queued or being written. */
  private async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async writeIndexNow(): Promise<void> {
    await this.idle();
    if (this.indexTimer) {
      clearTimeout(this.indexTimer);
      this.indexTimer = undefined;
    }
    const gen = this.indexGen;
    if (gen === this.indexWrittenGen) return;
    if (this.historyReady && this.head) await this.historyLog.markComplete(this.head).catch(() => undefined);
    // index.write() snapshots the entries synchronously, before its first await: they match `gen`.
    if (await this.index.write()) this.indexWrittenGen = gen;
    // An operator's git held index.lock, or commits landed meanwhile: try again shortly.
    if (this.indexGen !== this.indexWrittenGen) this.scheduleIndexFlush();
  }

  async close(): Promise<void> {
    await this.historyCatchUp;
    await this.idle();
    await this.flushIndex();
    if (this.indexTimer) clearTimeout(this.indexTimer);
    this.indexTimer = undefined;
  }

  /**
   * The commits that touched `<serial>/`, newest first: read from the serial's list (cost grows
   * with `limit`, not with the repository). Before the lists are complete (first start on a
   * taken-over history) the log is walked instead, matching the `<serial>: ` message prefix and
   * examining at most `maxWalk` commits.
   */
  async history(serial: string, opts: { patch?: boolean; limit?: number; maxWalk?: number } = {}): Promise<HistoryEntry[]> {
    const limit = opts.limit ?? 50;
    const entry = async (oid: string, commit: { message: string; parent: string[]; author: { name: string; email: string; timestamp: number } }): Promise<HistoryEntry> => {
      const e: HistoryEntry = {
        commit: oid,
        author: `${commit.author.name} <${commit.author.email}>`,
        date: new Date(commit.author.timestamp * 1000).toISOString(),
        message: commit.message.trimEnd(),
      };
      if (opts.patch) e.patch = await this.patchOf(oid, commit.parent[0], `${serial}/conf.json`);
      return e;
    };
    if (this.historyReady) {
      const oids = (await this.historyLog.read(serial)).slice(-limit).reverse();
      const out: HistoryEntry[] = [];
      for (const oid of oids) {
        const { commit } = await git.readCommit({ fs, dir: this.dir, oid, cache: this.cache });
        out.push(await entry(oid, commit));
      }
      return out;
    }
    // Until the lists are complete: walk the log (bounded), matching the message prefix.
    const maxWalk = opts.maxWalk ?? 20_000;
    const prefix = `${serial}:`;
    const out: HistoryEntry[] = [];
    let oid = this.head;
    for (let walked = 0; oid && out.length < limit && walked < maxWalk; walked++) {
      const { commit } = await git.readCommit({ fs, dir: this.dir, oid, cache: this.cache });
      if (commit.message.startsWith(prefix)) out.push(await entry(oid, commit));
      oid = commit.parent[0];
    }
    return out;
  }

  /** Resolves once the per-machine history lists are complete (tests, benchmarks). */
  historyCaughtUp(): Promise<void> {
    return this.historyCatchUp;
  }

  private async fileAt(commit: string | undefined, filepath: string): Promise<string> {
    if (!commit) return '';
    try {
      const { blob } = await git.readBlob({ fs, dir: this.dir, oid: commit, filepath, cache: this.cache });
      return Buffer.from(blob).toString('utf8');
    } catch (err) {
      if (isNotFound(err)) return '';
      throw err;
    }
  }

  private async patchOf(commit: string, parent: string | undefined, filepath: string): Promise<string> {
    const [before, after] = await Promise.all([this.fileAt(parent, filepath), this.fileAt(commit, filepath)]);
    return createTwoFilesPatch(before ? `a/${filepath}` : '/dev/null', after ? `b/${filepath}` : '/dev/null', before, after, undefined, undefined, { context: 3 });
  }
}
