import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import git from 'isomorphic-git';
import { createTwoFilesPatch } from 'diff';
import { atomicWriteFile } from '../util/atomic-write.js';
import { CocoonError } from '../util/errors.js';
import { GitIndexFile } from './git-index.js';
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
}

export interface FileChange {
  /** Path relative to the worktree, '/'-separated. */
  path: string;
  /** New content, or null to delete the file. */
  content: string | Uint8Array | null;
}

interface BlobEntry {
  type: 'blob' | 'commit';
  mode: string;
  oid: string;
}
interface TreeEntryRef {
  type: 'tree';
  mode: '040000';
  oid: string;
  node: TreeNode;
}
type Entry = BlobEntry | TreeEntryRef;

class TreeNode {
  readonly entries = new Map<string, Entry>();
  /** Oid of this tree as last written; undefined when changed since. */
  oid: string | undefined;
}

/** git's blob id of `content`, computed locally (crash repair compares files with HEAD this way). */
export function blobOid(content: string | Uint8Array): string {
  const buf = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  return createHash('sha1').update(`blob ${buf.length}\0`).update(buf).digest('hex');
}

function isNotFound(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === 'NotFoundError';
}

export class GitAudit {
  private head: string | undefined;
  private root = new TreeNode();
  /** Every file in HEAD's tree: path -> blob oid. */
  private readonly files = new Map<string, string>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly index: GitIndexFile;
  private indexTimer: NodeJS.Timeout | undefined;
  /** Index changes made / written: the index file is stale while they differ. */
  private indexGen = 0;
  private indexWrittenGen = -1;
  private indexWriting: Promise<void> = Promise.resolve();
  private readonly cache = {};
  private commitCount = 0;

  private constructor(
    readonly dir: string,
    readonly gitdir: string,
    private readonly branchRef: string,
    private readonly author: GitAuthor,
    private readonly indexFlushMs: number,
  ) {
    this.index = new GitIndexFile(gitdir, dir);
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
    const audit = new GitAudit(opts.dir, gitdir, m[1], opts.author, opts.indexFlushMs ?? 300);
    await audit.load();
    return audit;
  }

  private async load(): Promise<void> {
    try {
      this.head = await git.resolveRef({ fs, dir: this.dir, ref: this.branchRef });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      this.head = undefined;
    }
    if (!this.head) return;
    const { commit } = await git.readCommit({ fs, dir: this.dir, oid: this.head, cache: this.cache });
    this.root = await this.loadTree(commit.tree, '');
  }

  private async loadTree(oid: string, prefix: string): Promise<TreeNode> {
    const node = new TreeNode();
    node.oid = oid;
    const { tree } = await git.readTree({ fs, dir: this.dir, oid, cache: this.cache });
    for (const e of tree) {
      const p = prefix + e.path;
      if (e.type === 'tree') {
        node.entries.set(e.path, { type: 'tree', mode: '040000', oid: e.oid, node: await this.loadTree(e.oid, `${p}/`) });
      } else {
        node.entries.set(e.path, { type: e.type, mode: e.mode, oid: e.oid });
        if (e.type === 'blob') this.files.set(p, e.oid);
      }
    }
    return node;
  }

  hasCommits(): boolean {
    return this.head !== undefined;
  }

  headOid(): string | undefined {
    return this.head;
  }

  /** Blob oid of `filepath` in HEAD (undefined if absent). */
  headFile(filepath: string): string | undefined {
    return this.files.get(filepath);
  }

  headFiles(): IterableIterator<[string, string]> {
    return this.files.entries();
  }

  /** Commits written by this process (for benchmarks and logs). */
  get commitsWritten(): number {
    return this.commitCount;
  }

  /**
   * Rebuilds the index from HEAD. `verified(path)` says the worktree file is known to have HEAD's
   * content: only those get stat data; the others get none, so git compares contents for them.
   */
  async rebuildIndex(verified: (filepath: string) => boolean): Promise<void> {
    for (const [p, oid] of this.files) {
      if (verified(p)) await this.index.refreshStat(p, oid);
      else this.index.set(p, { oid, mode: '100644' });
    }
    this.indexGen++;
    await this.flushIndex();
  }

  /** Commits `changes` as one commit (serialised with every other commit). Returns the commit oid. */
  commit(changes: FileChange[], message: string): Promise<string> {
    const run = this.queue.then(() =>
      this.commitNow(changes, message).catch(async (err: unknown) => {
        // The in-memory tree may be half-updated: start again from what HEAD really holds.
        this.files.clear();
        this.root = new TreeNode();
        await this.load();
        throw err;
      }),
    );
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async commitNow(changes: FileChange[], message: string): Promise<string> {
    const touched: { path: string; oid: string | null }[] = [];
    for (const ch of changes) {
      const parts = ch.path.split('/');
      if (ch.content === null) {
        this.removePath(this.root, parts);
        touched.push({ path: ch.path, oid: null });
      } else {
        const buf = typeof ch.content === 'string' ? Buffer.from(ch.content, 'utf8') : Buffer.from(ch.content);
        const oid = await git.writeBlob({ fs, dir: this.dir, blob: buf });
        this.setPath(this.root, parts, oid);
        touched.push({ path: ch.path, oid });
      }
    }
    const tree = await this.writeNode(this.root);
    const now = Date.now();
    const who = { name: this.author.name, email: this.author.email, timestamp: Math.floor(now / 1000), timezoneOffset: 0 };
    const oid = await git.writeCommit({
      fs,
      dir: this.dir,
      commit: { message: message.endsWith('\n') ? message : `${message}\n`, tree, parent: this.head ? [this.head] : [], author: who, committer: who },
    });
    // Our own atomic ref update: a crash never leaves a truncated ref behind.
    await atomicWriteFile(path.join(this.gitdir, ...this.branchRef.split('/')), `${oid}\n`);
    this.head = oid;
    this.commitCount++;
    for (const t of touched) {
      if (t.oid === null) {
        this.files.delete(t.path);
        this.index.delete(t.path);
      } else {
        this.files.set(t.path, t.oid);
        await this.index.refreshStat(t.path, t.oid);
      }
    }
    this.indexGen++;
    this.scheduleIndexFlush();
    return oid;
  }

  private setPath(node: TreeNode, parts: string[], oid: string): void {
    node.oid = undefined;
    const [name, ...rest] = parts as [string, ...string[]];
    if (rest.length === 0) {
      node.entries.set(name, { type: 'blob', mode: '100644', oid });
      return;
    }
    let child = node.entries.get(name);
    if (!child || child.type !== 'tree') {
      child = { type: 'tree', mode: '040000', oid: '', node: new TreeNode() };
      node.entries.set(name, child);
    }
    this.setPath(child.node, rest, oid);
  }

  private removePath(node: TreeNode, parts: string[]): void {
    const [name, ...rest] = parts as [string, ...string[]];
    const child = node.entries.get(name);
    if (!child) return;
    node.oid = undefined;
    if (rest.length === 0) {
      node.entries.delete(name);
      return;
    }
    if (child.type !== 'tree') return;
    this.removePath(child.node, rest);
    if (child.node.entries.size === 0) node.entries.delete(name); // git has no empty trees
  }

  private async writeNode(node: TreeNode): Promise<string> {
    if (node.oid) return node.oid;
    const tree: { mode: string; path: string; oid: string; type: 'blob' | 'tree' | 'commit' }[] = [];
    for (const [name, e] of node.entries) {
      if (e.type === 'tree') e.oid = await this.writeNode(e.node);
      tree.push({ mode: e.mode, path: name, oid: e.oid, type: e.type });
    }
    node.oid = await git.writeTree({ fs, dir: this.dir, tree });
    return node.oid;
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

  private async writeIndexNow(): Promise<void> {
    await this.queue;
    if (this.indexTimer) {
      clearTimeout(this.indexTimer);
      this.indexTimer = undefined;
    }
    const gen = this.indexGen;
    if (gen === this.indexWrittenGen) return;
    // index.write() snapshots the entries synchronously, before its first await: they match `gen`.
    if (await this.index.write()) this.indexWrittenGen = gen;
    // An operator's git held index.lock, or commits landed meanwhile: try again shortly.
    if (this.indexGen !== this.indexWrittenGen) this.scheduleIndexFlush();
  }

  async close(): Promise<void> {
    await this.queue;
    await this.flushIndex();
    if (this.indexTimer) clearTimeout(this.indexTimer);
    this.indexTimer = undefined;
  }

  /**
   * The commits that touched `<serial>/`, newest first, found by their `<serial>: ` message
   * prefix; at most `maxWalk` commits are examined so a request never walks unbounded history.
   */
  async history(serial: string, opts: { patch?: boolean; limit?: number; maxWalk?: number } = {}): Promise<HistoryEntry[]> {
    const limit = opts.limit ?? 50;
    const maxWalk = opts.maxWalk ?? 20_000;
    const prefix = `${serial}:`;
    const out: HistoryEntry[] = [];
    let oid = this.head;
    for (let walked = 0; oid && out.length < limit && walked < maxWalk; walked++) {
      const { commit } = await git.readCommit({ fs, dir: this.dir, oid, cache: this.cache });
      if (commit.message.startsWith(prefix)) {
        const entry: HistoryEntry = {
          commit: oid,
          author: `${commit.author.name} <${commit.author.email}>`,
          date: new Date(commit.author.timestamp * 1000).toISOString(),
          message: commit.message.trimEnd(),
        };
        if (opts.patch) entry.patch = await this.patchOf(oid, commit.parent[0], `${serial}/conf.json`);
        out.push(entry);
      }
      oid = commit.parent[0];
    }
    return out;
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
