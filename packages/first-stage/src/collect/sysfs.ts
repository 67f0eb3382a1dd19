import { readFile, readdir, readlink, realpath, access } from 'node:fs/promises';
import path from 'node:path';

/**
 * Reads sysfs/procfs below a root directory, so the collectors run unchanged against a real
 * machine (root "/") and against fixture trees in tests. Missing or unreadable files read as
 * undefined: firmware leaves many DMI fields out and that is not an error.
 */
export class SysRoot {
  constructor(readonly root: string) {}

  path(rel: string): string {
    return path.join(this.root, rel);
  }

  async text(rel: string): Promise<string | undefined> {
    try {
      return (await readFile(this.path(rel), 'utf8')).trim();
    } catch {
      return undefined;
    }
  }

  async list(rel: string): Promise<string[]> {
    try {
      return (await readdir(this.path(rel))).sort();
    } catch {
      return [];
    }
  }

  async exists(rel: string): Promise<boolean> {
    try {
      await access(this.path(rel));
      return true;
    } catch {
      return false;
    }
  }

  /** Basename of a symlink's target (e.g. the driver bound to a device). */
  async linkName(rel: string): Promise<string | undefined> {
    try {
      return path.basename(await readlink(this.path(rel)));
    } catch {
      return undefined;
    }
  }

  /** Resolved target of a symlink, absolute. */
  async resolve(rel: string): Promise<string | undefined> {
    try {
      return await realpath(this.path(rel));
    } catch {
      return undefined;
    }
  }
}

/** Parses an integer sysfs value; undefined when absent or not a number. */
export function toInt(text: string | undefined): number | undefined {
  if (text === undefined || !/^-?\d+$/.test(text)) return undefined;
  return Number(text);
}
