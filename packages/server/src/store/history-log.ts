import fs from 'node:fs';
import path from 'node:path';

/**
 * Per-machine commit lists, so `history(serial)` reads `limit` commits instead of walking the
 * whole repository (which would get slower with every commit). One append-only file per serial
 * under .git/cocoon/history/ (inside .git: invisible to `git status`), one commit id per line,
 * oldest first. `history-head` names the commit up to which every list is complete; at open the
 * commits after it (another tool's, or ones a crash cut off before their line was appended) are
 * read back from git and added.
 */
export class HistoryLog {
  private readonly dir: string;
  private readonly headFile: string;
  private created = false;

  constructor(gitdir: string) {
    this.dir = path.join(gitdir, 'cocoon', 'history');
    this.headFile = path.join(gitdir, 'cocoon', 'history-head');
  }

  private file(serial: string): string {
    return path.join(this.dir, serial);
  }

  /** The commit up to which the lists are complete, if known. */
  completeUpTo(): string | undefined {
    try {
      const text = fs.readFileSync(this.headFile, 'utf8').trim();
      return /^[0-9a-f]{40}$/.test(text) ? text : undefined;
    } catch {
      return undefined;
    }
  }

  async markComplete(oid: string): Promise<void> {
    await this.ensureDir();
    const tmp = `${this.headFile}.tmp-${process.pid}`;
    await fs.promises.writeFile(tmp, `${oid}\n`);
    await fs.promises.rename(tmp, this.headFile);
  }

  private async ensureDir(): Promise<void> {
    if (this.created) return;
    await fs.promises.mkdir(this.dir, { recursive: true });
    this.created = true;
  }

  /** Appends commits (oldest first) to each serial's list. */
  async append(bySerial: Map<string, string[]>): Promise<void> {
    if (bySerial.size === 0) return;
    await this.ensureDir();
    await Promise.all([...bySerial].map(([serial, oids]) => fs.promises.appendFile(this.file(serial), oids.map((o) => `${o}\n`).join(''))));
  }

  /** Like append, skipping commits a list already has (catch-up after a crash). */
  async appendMissing(bySerial: Map<string, string[]>): Promise<void> {
    const missing = new Map<string, string[]>();
    for (const [serial, oids] of bySerial) {
      const have = new Set(await this.read(serial));
      const add = oids.filter((o) => !have.has(o));
      if (add.length) missing.set(serial, add);
    }
    await this.append(missing);
  }

  /**
   * The serial's newest `n` commits, oldest first: reads only the file's tail (41 bytes a line),
   * so a machine's history page costs the same after 100 000 of its commits as after 10.
   */
  async readLast(serial: string, n: number): Promise<string[]> {
    if (n <= 0) return [];
    let fh;
    try {
      fh = await fs.promises.open(this.file(serial), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    try {
      const { size } = await fh.stat();
      const want = Math.min(size, (n + 1) * 41);
      const buf = Buffer.alloc(want);
      await fh.read(buf, 0, want, size - want);
      return buf
        .toString('latin1')
        .split('\n')
        .filter((l) => /^[0-9a-f]{40}$/.test(l))
        .slice(-n);
    } finally {
      await fh.close();
    }
  }

  /** The serial's commits, oldest first ([] when it has none). */
  async read(serial: string): Promise<string[]> {
    try {
      return (await fs.promises.readFile(this.file(serial), 'utf8')).split('\n').filter((l) => /^[0-9a-f]{40}$/.test(l));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }
}
