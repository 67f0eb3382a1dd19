import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';

/**
 * Counts the leases in dnsmasq's lease file (one line each) by streaming it, so a large file is
 * never held in memory. Unchanged files (same size and mtime) are not read again.
 */
export class LeaseCounter {
  private cache: { size: number; mtimeMs: number; count: number } | undefined;

  constructor(private readonly file: string) {}

  async count(): Promise<number> {
    let s;
    try {
      s = await stat(this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
    if (this.cache && this.cache.size === s.size && this.cache.mtimeMs === s.mtimeMs) return this.cache.count;
    // Lease lines start with their expiry time; a DHCPv6 server adds a "duid …" line.
    let count = 0;
    let atLineStart = true;
    for await (const chunk of createReadStream(this.file, { highWaterMark: 64 * 1024 }) as AsyncIterable<Buffer>) {
      for (let i = 0; i < chunk.length; i++) {
        const c = chunk[i]!;
        if (atLineStart && c >= 48 && c <= 57) count++;
        atLineStart = c === 10;
      }
    }
    this.cache = { size: s.size, mtimeMs: s.mtimeMs, count };
    return count;
  }
}
