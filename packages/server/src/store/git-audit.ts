import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { readFile } from 'node:fs/promises';
import { deflateSync } from 'node:zlib';
import path from 'node:path';
import git from 'isomorphic-git';
import { createTwoFilesPatch } from 'diff';
import { CocoonError } from '../util/errors.js';
import { lowerBound } from '../util/lower-bound.js';
import { GitIndexFile } from './git-index.js';
import { compareTreeNames } from './git-order.js';
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

const EMPTY = Buffer.alloc(0);
const TREE_MODE = '40000';
const ZERO_OID = '0'.repeat(40);

/**
 * A tree held in memory as its encoded object content ("<mode> <name>\0<oid>" per entry, in git
 * order) plus the names and where each entry starts. Changing an entry's oid patches 20 bytes in
 * place and a new entry is one splice, so building the root tree of a 10 000-machine cluster
 * costs a copy, not a re-encode; and a machine's one-file subtree costs a few hundred bytes, not
 * a Map, an Entry and a Buffer per file. Subtrees are read from git only when needed (`children`).
 */
class TreeNode {
  /**
   * The content while it may change. At rest a small tree keeps it as a latin1 string instead
   * (`packed`): a small Buffer is a slice of an 8 KB pool that one survivor keeps whole, and
   * 10 000 one-file machine trees would pin megabytes of pools that way.
   */
  private live: Buffer | undefined = EMPTY;
  private packed: string | undefined;
  private names: string[] = [];
  private offsets: number[] = [];
  /** Subtrees read from git or created here (absent: not read yet; its oid is in `buf`). */
  private children: Map<string, TreeNode> | undefined;
  /** Subtrees changed since this tree was last built: their oid in `buf` is stale. */
  private dirtyChildren: Set<string> | undefined;
  /** Changed since last built: the oid the parent (or HEAD) holds for it is stale. */
  dirty = true;

  /** A clean node from a tree object's content (already in git order). */
  static decode(content: Buffer): TreeNode {
    const node = new TreeNode();
    node.live = content;
    for (let o = 0; o < content.length; ) {
      const nul = content.indexOf(0, o);
      const space = content.indexOf(0x20, o);
      if (nul < 0 || space < 0 || space > nul || nul + 21 > content.length) throw new Error('malformed tree object');
      node.names.push(content.toString('utf8', space + 1, nul));
      node.offsets.push(o);
      o = nul + 21;
    }
    node.dirty = false;
    node.pack();
    return node;
  }

  /** A copy of the content for reading (the live buffer when there is one). */
  private get buf(): Buffer {
    return this.live ?? Buffer.from(this.packed as string, 'latin1');
  }

  private get length(): number {
    return this.live ? this.live.length : (this.packed as string).length;
  }

  private mutable(): Buffer {
    if (!this.live) {
      this.live = Buffer.from(this.packed as string, 'latin1');
      this.packed = undefined;
    }
    return this.live;
  }

  private pack(): void {
    if (this.live && this.live.length < 4096) {
      this.packed = this.live.toString('latin1');
      this.live = undefined;
      // Exact-size copies: arrays grown by push keep room for 17 entries; 10 000 one-file machine
      // trees would carry 3 MB of that.
      this.names = this.names.slice();
      this.offsets = this.offsets.slice();
    }
  }

  get size(): number {
    return this.names.length;
  }

  private isTreeAt(i: number): boolean {
    const o = this.offsets[i] as number;
    return (this.live ? this.live[o] : (this.packed as string).charCodeAt(o)) === 0x34; // '4': only a tree's mode starts so
  }

  private endOf(i: number): number {
    return i + 1 < this.offsets.length ? (this.offsets[i + 1] as number) : this.length;
  }

  /** Index of the first entry not before (name, isTree) in git order. */
  private lowerBound(name: string, isTree: boolean): number {
    return lowerBound(this.names.length, (i) => compareTreeNames(this.names[i] as string, this.isTreeAt(i), name, isTree) < 0);
  }

  private indexOf(name: string, isTree: boolean): number {
    const i = this.lowerBound(name, isTree);
    return i < this.names.length && this.names[i] === name && this.isTreeAt(i) === isTree ? i : -1;
  }

  /** The entry `name` of that kind: its mode and oid. */
  get(name: string, isTree: boolean): { mode: string; oid: string } | undefined {
    const i = this.indexOf(name, isTree);
    if (i < 0) return undefined;
    const o = this.offsets[i] as number;
    const end = this.endOf(i);
    const buf = this.buf;
    return { mode: buf.toString('latin1', o, buf.indexOf(0x20, o)), oid: buf.toString('hex', end - 20, end) };
  }

  /** Sets an entry; a tree entry's oid may be left unknown (null) until the next build. */
  set(name: string, mode: string, oid: string | null): void {
    const isTree = mode === TREE_MODE;
    this.dirty = true;
    const i = this.indexOf(name, isTree);
    const buf = this.mutable();
    if (i >= 0 && buf.toString('latin1', this.offsets[i] as number, (this.offsets[i] as number) + mode.length + 1) === `${mode} `) {
      if (oid) buf.write(oid, this.endOf(i) - 20, 20, 'hex');
      return;
    }
    if (i >= 0) this.removeAt(i);
    // git has no file and directory of the same name in one tree
    const other = this.indexOf(name, !isTree);
    if (other >= 0) this.removeAt(other);
    const enc = Buffer.from(`${mode} ${name}\0${'\0'.repeat(20)}`, 'utf8');
    enc.write(oid ?? ZERO_OID, enc.length - 20, 20, 'hex');
    const at = this.lowerBound(name, isTree);
    const cur = this.mutable();
    const offset = at < this.offsets.length ? (this.offsets[at] as number) : cur.length;
    this.live = Buffer.concat([cur.subarray(0, offset), enc, cur.subarray(offset)]);
    for (let j = at; j < this.offsets.length; j++) this.offsets[j] = (this.offsets[j] as number) + enc.length;
    this.names.splice(at, 0, name);
    this.offsets.splice(at, 0, offset);
  }

  delete(name: string, isTree: boolean): void {
    const i = this.indexOf(name, isTree);
    if (i >= 0) this.removeAt(i);
  }

  private removeAt(i: number): void {
    const name = this.names[i] as string;
    if (this.isTreeAt(i)) {
      this.children?.delete(name);
      this.dirtyChildren?.delete(name);
    }
    const o = this.offsets[i] as number;
    const len = this.endOf(i) - o;
    const cur = this.mutable();
    this.live = Buffer.concat([cur.subarray(0, o), cur.subarray(o + len)]);
    for (let j = i + 1; j < this.offsets.length; j++) this.offsets[j] = (this.offsets[j] as number) - len;
    this.names.splice(i, 1);
    this.offsets.splice(i, 1);
    this.dirty = true;
  }

  child(name: string): TreeNode | undefined {
    return this.children?.get(name);
  }

  attach(name: string, node: TreeNode): void {
    (this.children ??= new Map()).set(name, node);
  }

  /** The subtree `name` changed (it must be attached): rebuild it with this tree. */
  childChanged(name: string): void {
    (this.dirtyChildren ??= new Set()).add(name);
    this.dirty = true;
  }

  /** Tree entries whose subtree has not been read. */
  *unreadTrees(): Generator<{ name: string; oid: string }> {
    const buf = this.buf;
    for (let i = 0; i < this.names.length; i++) {
      const name = this.names[i] as string;
      if (this.isTreeAt(i) && !this.children?.has(name)) yield { name, oid: buf.toString('hex', this.endOf(i) - 20, this.endOf(i)) };
    }
  }

  subtrees(): IterableIterator<TreeNode> {
    return (this.children ?? new Map<string, TreeNode>()).values();
  }

  /** Every file below this tree as [path, blob oid], through the subtrees read so far. */
  *files(prefix: string): Generator<[string, string]> {
    const buf = this.buf;
    for (let i = 0; i < this.names.length; i++) {
      const name = this.names[i] as string;
      if (this.isTreeAt(i)) {
        const sub = this.children?.get(name);
        if (sub) yield* sub.files(`${prefix}${name}/`);
      } else {
        yield [prefix + name, buf.toString('hex', this.endOf(i) - 20, this.endOf(i))];
      }
    }
  }

  /** Builds the changed subtrees (bottom-up) and this tree, handing each new object to `store`. */
  build(store: (content: Buffer) => string): string {
    for (const name of this.dirtyChildren ?? []) {
      const sub = this.children?.get(name);
      if (sub?.dirty) this.set(name, TREE_MODE, sub.build(store));
    }
    this.dirtyChildren = undefined;
    const oid = store(Buffer.from(this.buf)); // a copy: the live buffer keeps changing
    this.dirty = false;
    this.pack();
    return oid;
  }
}

/** git's blob id of `content`, computed locally (crash repair compares files with HEAD this way). */
export function blobOid(content: string | Uint8Array): string {
  const buf = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  return createHash('sha1').update(`blob ${buf.length}\0`).update(buf).digest('hex');
}

/**
 * Adds `items` to the list under `key` in place: copying the list per commit made a catch-up over
 * a long history quadratic in one machine's commits.
 */
function appendTo(map: Map<string, string[]>, key: string, items: readonly string[]): void {
  const list = map.get(key);
  if (list) for (const item of items) list.push(item);
  else map.set(key, [...items]);
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
  /** Oid of HEAD's tree (of `root` whenever root is not dirty). */
  private rootOid: string | undefined;
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
    for (const [serial, oid] of found.reverse()) appendTo(bySerial, serial, [oid]);
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
    this.root = new TreeNode();
    this.rootOid = undefined;
    try {
      this.head = await git.resolveRef({ fs, dir: this.dir, ref: this.branchRef });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      this.head = undefined;
    }
    if (!this.head) return;
    const { commit } = await git.readCommit({ fs, dir: this.dir, oid: this.head, cache: this.cache });
    // Shallow: a machine's subtree is only read from git when `isCommitted` cannot tell from the
    // file itself (see there), so opening a 10 000-machine cluster does not read 10 000 trees.
    this.root = await this.readTree(commit.tree);
    this.rootOid = commit.tree;
  }

  private async readTree(oid: string): Promise<TreeNode> {
    const { object } = await git.readObject({ fs, dir: this.dir, oid, format: 'content', cache: this.cache });
    if (!(object instanceof Uint8Array)) throw new CocoonError('internal', `git object ${oid} could not be read as a tree`);
    return TreeNode.decode(Buffer.from(object.buffer, object.byteOffset, object.byteLength));
  }

  /** Reads the subtrees along `dirs` (a path's directories) that are in HEAD but not read yet. */
  private async ensureLoaded(dirs: string[]): Promise<void> {
    let node = this.root;
    for (const name of dirs) {
      let sub = node.child(name);
      if (!sub) {
        const e = node.get(name, true);
        if (!e) return;
        sub = await this.readTree(e.oid);
        node.attach(name, sub);
      }
      node = sub;
    }
  }

  /** Blob oid of `filepath` in the tree as read so far. */
  private fileOid(filepath: string): string | undefined {
    const parts = filepath.split('/');
    const file = parts.pop() as string;
    let node: TreeNode | undefined = this.root;
    for (const name of parts) node = node?.child(name);
    return node?.get(file, false)?.oid;
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
      const e = this.root.get(dirName, true);
      if (!e) return false;
      if (!this.root.child(dirName)) {
        const single = Buffer.concat([Buffer.from(`100644 ${file}\0`, 'utf8'), Buffer.from(oid, 'hex')]);
        if (objectOid('tree', single) === e.oid) {
          this.root.attach(dirName, TreeNode.decode(single));
          return true;
        }
      }
    }
    await this.ensureLoaded(parts.slice(0, -1));
    return this.fileOid(filepath) === oid;
  }

  /** Reads every subtree not read yet (after isCommitted: the directories missing on disk). */
  async loadAll(): Promise<void> {
    const visit = async (node: TreeNode): Promise<void> => {
      for (const { name, oid } of [...node.unreadTrees()]) node.attach(name, await this.readTree(oid));
      for (const sub of node.subtrees()) await visit(sub);
    };
    await visit(this.root);
  }

  hasCommits(): boolean {
    return this.head !== undefined;
  }

  headOid(): string | undefined {
    return this.head;
  }

  /** Blob oid of `filepath` in HEAD (undefined if absent or in a subtree not read yet). */
  headFile(filepath: string): string | undefined {
    return this.fileOid(filepath);
  }

  /** Every file of HEAD read so far (all of them after loadAll). */
  headFiles(): IterableIterator<[string, string]> {
    return this.root.files('');
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
    for (const [p, oid] of this.root.files('')) {
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
      for (const ch of changes) if (ch.path.includes('/')) await this.ensureLoaded(ch.path.split('/').slice(0, -1));
    }
    const objects = new Map<string, NewObject>();
    const store = (content: Buffer): string => {
      const oid = objectOid('tree', content);
      objects.set(oid, { type: 'tree', content });
      return oid;
    };
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
      const tree = this.root.dirty || !this.rootOid ? this.root.build(store) : this.rootOid;
      this.rootOid = tree;
      const when = `${Math.floor(Date.now() / 1000)} +0000`;
      const who = `${this.author.name} <${this.author.email}> ${when}`;
      const text = `tree ${tree}\n${parent ? `parent ${parent}\n` : ''}author ${who}\ncommitter ${who}\n\n${message.endsWith('\n') ? message : `${message}\n`}`;
      const content = Buffer.from(text, 'utf8');
      const oid = objectOid('commit', content);
      objects.set(oid, { type: 'commit', content });
      oids.push(oid);
      for (const serial of serials) appendTo(bySerial, serial, [oid]);
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
        this.index.delete(p);
      } else {
        this.index.refreshStatSync(p, oid);
      }
    }
    if (this.historyReady) {
      await this.historyLog.append(bySerial).catch((err: unknown) => {
        this.historyReady = false; // a list may now miss a commit: walk the log until the next start
        this.warn('git audit: could not append to a per-machine history list', { error: String(err) });
      });
    } else {
      for (const [serial, list] of bySerial) appendTo(this.historyBacklog, serial, list);
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
        // Stored (level 0, still valid zlib; git reads either) unless compression saves disk: a
        // file system keeps a loose object in whole blocks, so one under a 4 KB block takes a block
        // either way (a record's blob, a machine's tree, a commit), and big trees are mostly random
        // oid bytes that hardly compress. Deflating them was a tenth of a boot storm's CPU.
        const level = o.content.length < 3500 || o.content.length > 64 * 1024 ? 0 : 1;
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
      node.set(name, '100644', oid);
      return;
    }
    let child = node.child(name);
    if (!child) {
      // ensureLoaded read every existing directory on the path: this one is new
      child = new TreeNode();
      node.set(name, TREE_MODE, null);
      node.attach(name, child);
    }
    this.setPath(child, rest, oid);
    node.childChanged(name);
  }

  private removePath(node: TreeNode, parts: string[]): void {
    const [name, ...rest] = parts as [string, ...string[]];
    if (rest.length === 0) {
      node.delete(name, false);
      return;
    }
    const child = node.child(name);
    if (!child) return;
    this.removePath(child, rest);
    if (child.size === 0) node.delete(name, true); // git has no empty trees
    else node.childChanged(name);
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
      const oids = (await this.historyLog.readLast(serial, limit)).reverse();
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
