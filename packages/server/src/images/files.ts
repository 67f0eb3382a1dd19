import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

export interface FileDigest {
  sha256: string;
  size: number;
}

/** Hashes a file as a stream (images are hundreds of MB: never read them whole). */
export async function hashFile(file: string, algorithms: string[] = ['sha256']): Promise<{ size: number; digests: Record<string, string> }> {
  const hashes = algorithms.map((a) => createHash(a));
  let size = 0;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    size += chunk.length;
    for (const h of hashes) h.update(chunk);
  }
  return { size, digests: Object.fromEntries(algorithms.map((a, i) => [a, hashes[i]!.digest('hex')])) };
}

export async function sha256File(file: string): Promise<FileDigest> {
  const { size, digests } = await hashFile(file);
  return { size, sha256: digests.sha256! };
}

/** Write-then-rename with fsync of the file and its directory: readers see the old or the new file. */
export async function writeFileAtomic(file: string, data: string): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}`);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncDir(path.dirname(file));
}

export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
