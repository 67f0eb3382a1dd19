import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

/**
 * Temp files are named `.<target>.tmp-<pid>-<n>` in the target's directory: same filesystem, so
 * the rename is atomic, and a recognisable name, so start-up can sweep what a crash left behind.
 */
const TEMP_MARK = '.tmp-';
let counter = 0;

export function tempPathFor(target: string): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return path.join(path.dirname(target), `.${path.basename(target)}${TEMP_MARK}${process.pid}-${counter}`);
}

/** True for names produced by `tempPathFor` (used to remove strays after a crash). */
export function isTempFileName(name: string): boolean {
  return name.startsWith('.') && name.includes(TEMP_MARK);
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export interface AtomicWriteOptions {
  mode?: number;
  /** fsync the directory after the rename so the new name itself survives a power cut. */
  syncDir?: boolean;
  /**
   * false: no fsync at all (still atomic against a crashed process, not against a power cut);
   * for data that can be rebuilt, like git's ref, which git itself does not fsync either.
   */
  sync?: boolean;
}

/**
 * Replaces `target` so that a reader (or a crash) only ever sees the old or the new content:
 * write a temp file in the same directory, fsync it, rename it over the target, fsync the dir.
 */
export async function atomicWriteFile(target: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const tmp = tempPathFor(target);
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'wx', opts.mode ?? 0o644);
    await fh.writeFile(data);
    if (opts.sync !== false) await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, target);
  } catch (err) {
    if (fh) await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  if (opts.sync !== false && opts.syncDir !== false) await fsyncDir(path.dirname(target));
}
