import { createHash } from 'node:crypto';
import { lstatSync, type BigIntStats } from 'node:fs';
import { lstat, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes git's index file (DIRC version 2) from entries kept in memory, so `git status` in the
 * cluster directory is clean without isomorphic-git re-reading and rewriting the whole index on
 * every commit. The stat data is taken from the worktree file right after we wrote it, which is
 * what git itself would record; if it ever differs, git falls back to comparing contents.
 */
export interface IndexEntry {
  oid: string;
  /** '100644', '100755' or '120000' */
  mode: string;
  stat?: BigIntStats;
}

const MAX_U32 = 0xffffffffn;
const u32 = (n: bigint | number): number => Number(BigInt(n) & MAX_U32);

function encodeEntry(name: string, e: IndexEntry): Buffer {
  const nameBuf = Buffer.from(name, 'utf8');
  const fixed = 62;
  const len = fixed + nameBuf.length;
  const padded = Math.ceil((len + 1) / 8) * 8; // at least one NUL, total a multiple of 8
  const buf = Buffer.alloc(padded);
  const s = e.stat;
  let o = 0;
  const put = (n: number): void => {
    buf.writeUInt32BE(n >>> 0, o);
    o += 4;
  };
  if (s) {
    put(u32(s.ctimeNs / 1_000_000_000n));
    put(u32(s.ctimeNs % 1_000_000_000n));
    put(u32(s.mtimeNs / 1_000_000_000n));
    put(u32(s.mtimeNs % 1_000_000_000n));
    put(u32(s.dev));
    put(u32(s.ino));
  } else {
    o += 24; // zero stat: git re-checks the content, never trusts it
  }
  put(parseInt(e.mode, 8));
  put(s ? u32(s.uid) : 0);
  put(s ? u32(s.gid) : 0);
  put(s ? u32(s.size) : 0);
  buf.write(e.oid, o, 20, 'hex');
  o += 20;
  buf.writeUInt16BE(Math.min(nameBuf.length, 0xfff), o);
  o += 2;
  nameBuf.copy(buf, o);
  return buf;
}

interface Slot {
  entry: IndexEntry;
  key: Buffer;
  encoded?: Buffer;
}

export class GitIndexFile {
  private readonly slots = new Map<string, Slot>();
  /** Paths in git's index order (byte order), kept sorted by binary insertion. */
  private readonly order: Slot[] = [];

  constructor(
    private readonly gitdir: string,
    private readonly worktree: string,
  ) {}

  get size(): number {
    return this.slots.size;
  }

  private position(key: Buffer): number {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (Buffer.compare((this.order[mid] as Slot).key, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  set(filepath: string, entry: IndexEntry): void {
    const slot = this.slots.get(filepath);
    if (slot) {
      slot.entry = entry;
      slot.encoded = undefined;
      return;
    }
    const fresh: Slot = { entry, key: Buffer.from(filepath, 'utf8') };
    this.slots.set(filepath, fresh);
    this.order.splice(this.position(fresh.key), 0, fresh);
  }

  delete(filepath: string): void {
    const slot = this.slots.get(filepath);
    if (!slot) return;
    this.slots.delete(filepath);
    const i = this.position(slot.key);
    if (this.order[i] === slot) this.order.splice(i, 1);
  }

  /** Records the worktree file's current stat for `filepath` (call right after writing it). */
  async refreshStat(filepath: string, oid: string, mode = '100644'): Promise<void> {
    let stat: BigIntStats | undefined;
    try {
      stat = await lstat(path.join(this.worktree, filepath), { bigint: true });
    } catch {
      stat = undefined;
    }
    this.set(filepath, { oid, mode, stat });
  }

  /** As refreshStat, synchronously (an lstat is cheaper than a trip through libuv's pool). */
  refreshStatSync(filepath: string, oid: string, mode = '100644'): void {
    let stat: BigIntStats | undefined;
    try {
      stat = lstatSync(path.join(this.worktree, filepath), { bigint: true });
    } catch {
      stat = undefined;
    }
    this.set(filepath, { oid, mode, stat });
  }

  serialize(): Buffer {
    const header = Buffer.alloc(12);
    header.write('DIRC', 0, 'ascii');
    header.writeUInt32BE(2, 4);
    header.writeUInt32BE(this.order.length, 8);
    const parts: Buffer[] = [header];
    for (const slot of this.order) {
      slot.encoded ??= encodeEntry(slot.key.toString('utf8'), slot.entry);
      parts.push(slot.encoded);
    }
    const body = Buffer.concat(parts);
    const sum = createHash('sha1').update(body).digest();
    return Buffer.concat([body, sum]);
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
