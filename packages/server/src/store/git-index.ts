import { createHash } from 'node:crypto';
import { lstatSync, type BigIntStats } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { lowerBound } from '../util/lower-bound.js';
import { compareGitPaths } from './git-order.js';

/**
 * Writes git's index file (DIRC version 2) from entries kept in memory, so `git status` in the
 * cluster directory is clean without isomorphic-git re-reading and rewriting the whole index on
 * every commit. The stat data is taken from the worktree file right after we wrote it, which is
 * what git itself would record; if it ever differs, git falls back to comparing contents.
 *
 * Each entry is kept only in its on-disk encoding (a latin1 string, one byte per byte): at
 * 10 000 machines a Buffer, a Stats object and its BigInts per entry cost megabytes.
 */
export interface IndexEntry {
  oid: string;
  /** '100644', '100755' or '120000' */
  mode: string;
  stat?: BigIntStats;
}

const MAX_U32 = 0xffffffffn;
const u32 = (n: bigint): number => Number(n & MAX_U32);
const ENTRY_FIXED = 62;

function encodeEntry(name: string, e: IndexEntry): string {
  const nameBuf = Buffer.from(name, 'utf8');
  const padded = Math.ceil((ENTRY_FIXED + nameBuf.length + 1) / 8) * 8; // at least one NUL, total a multiple of 8
  const buf = Buffer.allocUnsafe(padded).fill(0);
  const s = e.stat;
  if (s) {
    // A zero stat (no `s`) makes git re-check the content instead of trusting it.
    buf.writeUInt32BE(u32(s.ctimeNs / 1_000_000_000n), 0);
    buf.writeUInt32BE(u32(s.ctimeNs % 1_000_000_000n), 4);
    buf.writeUInt32BE(u32(s.mtimeNs / 1_000_000_000n), 8);
    buf.writeUInt32BE(u32(s.mtimeNs % 1_000_000_000n), 12);
    buf.writeUInt32BE(u32(s.dev), 16);
    buf.writeUInt32BE(u32(s.ino), 20);
    buf.writeUInt32BE(u32(s.uid), 28);
    buf.writeUInt32BE(u32(s.gid), 32);
    buf.writeUInt32BE(u32(s.size), 36);
  }
  buf.writeUInt32BE(parseInt(e.mode, 8), 24);
  buf.write(e.oid, 40, 20, 'hex');
  buf.writeUInt16BE(Math.min(nameBuf.length, 0xfff), 60);
  nameBuf.copy(buf, ENTRY_FIXED);
  return buf.toString('latin1');
}

export class GitIndexFile {
  /** path -> encoded entry */
  private readonly entries = new Map<string, string>();
  /** Paths in git's index order (byte order), kept sorted by binary insertion. */
  private readonly order: string[] = [];
  private bytes = 0;

  constructor(
    private readonly gitdir: string,
    private readonly worktree: string,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  private position(filepath: string): number {
    return lowerBound(this.order.length, (i) => compareGitPaths(this.order[i] as string, filepath) < 0);
  }

  set(filepath: string, entry: IndexEntry): void {
    const encoded = encodeEntry(filepath, entry);
    const old = this.entries.get(filepath);
    this.entries.set(filepath, encoded);
    this.bytes += encoded.length - (old?.length ?? 0);
    if (old === undefined) this.order.splice(this.position(filepath), 0, filepath);
  }

  delete(filepath: string): void {
    const old = this.entries.get(filepath);
    if (old === undefined) return;
    this.entries.delete(filepath);
    this.bytes -= old.length;
    const i = this.position(filepath);
    if (this.order[i] === filepath) this.order.splice(i, 1);
  }

  /** Records the worktree file's current stat for `filepath` (call right after writing it). */
  refreshStatSync(filepath: string, oid: string, mode = '100644'): void {
    let stat: BigIntStats | undefined;
    try {
      // Synchronous: an lstat is cheaper than a trip through libuv's pool.
      stat = lstatSync(path.join(this.worktree, filepath), { bigint: true });
    } catch {
      stat = undefined;
    }
    this.set(filepath, { oid, mode, stat });
  }

  serialize(): Buffer {
    const out = Buffer.allocUnsafe(12 + this.bytes + 20);
    out.write('DIRC', 0, 'ascii');
    out.writeUInt32BE(2, 4);
    out.writeUInt32BE(this.order.length, 8);
    let o = 12;
    for (const p of this.order) o += out.write(this.entries.get(p) as string, o, 'latin1');
    createHash('sha1').update(out.subarray(0, o)).digest().copy(out, o);
    return out;
  }

  /**
   * Replaces .git/index using git's own lock protocol (create index.lock exclusively, rename).
   * Returns false when somebody else (an operator's git) holds the lock; the caller retries later.
   */
  async write(): Promise<boolean> {
    const data = this.serialize(); // snapshot now: callers pair it with their change counter
    const lock = path.join(this.gitdir, 'index.lock');
    let fh;
    try {
      fh = await open(lock, 'wx', 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
    try {
      await fh.writeFile(data);
      await fh.close();
      fh = undefined;
      await rename(lock, path.join(this.gitdir, 'index'));
      return true;
    } catch (err) {
      if (fh) await fh.close().catch(() => undefined);
      await unlink(lock).catch(() => undefined);
      throw err;
    }
  }
}
