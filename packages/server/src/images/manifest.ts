import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { CocoonError } from '../util/errors.js';
import { sha256File, writeFileAtomic } from './files.js';
import { MANIFEST, isSafeFileName } from './layout.js';

/** Roles tell the boot and install code which file is which, whatever the OS calls them. */
export interface ImageRoles {
  /** The disk image the first stage streams onto the install disk (compressed by extension). */
  install?: string;
  /** PXE kernel and initrd (for the first-stage environment or live boots). */
  kernel?: string;
  initrd?: string;
  /** Smallest disk the install image fits on once expanded (its compressed size says little). */
  minDiskBytes?: number;
}

export interface ManifestFile {
  sha256: string;
  size: number;
}

/** images/<os>/<version>/manifest.json: written when an image is added, never edited by hand. */
export interface ImageManifest extends ImageRoles {
  os: string;
  version: string;
  channel?: string;
  createdAt: string;
  /** Where the files came from and how they were checked, e.g. "digests: sha512; signatures: not checked (no key)". */
  source?: string;
  files: Record<string, ManifestFile>;
}

/** Hashes every regular file of a version directory and writes its manifest atomically. */
export async function writeManifest(
  dir: string,
  meta: { os: string; version: string; channel?: string; source?: string } & ImageRoles,
): Promise<ImageManifest> {
  const files: Record<string, ManifestFile> = {};
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (!e.isFile() || e.name === MANIFEST || e.name.startsWith('.')) continue;
    if (!isSafeFileName(e.name)) continue;
    files[e.name] = await sha256File(path.join(dir, e.name));
  }
  for (const role of ['install', 'kernel', 'initrd'] as const) {
    const name = meta[role];
    if (name !== undefined && !files[name]) {
      throw new CocoonError('invalid', `${role} file "${name}" is not in ${dir}`, role);
    }
  }
  const manifest: ImageManifest = {
    os: meta.os,
    version: meta.version,
    ...(meta.channel ? { channel: meta.channel } : {}),
    createdAt: new Date().toISOString(),
    ...(meta.source ? { source: meta.source } : {}),
    ...(meta.install ? { install: meta.install } : {}),
    ...(meta.kernel ? { kernel: meta.kernel } : {}),
    ...(meta.initrd ? { initrd: meta.initrd } : {}),
    ...(meta.minDiskBytes ? { minDiskBytes: meta.minDiskBytes } : {}),
    files,
  };
  await writeFileAtomic(path.join(dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** Reads and checks a manifest; undefined when the directory has none. */
export async function readManifest(dir: string): Promise<ImageManifest | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(dir, MANIFEST), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return parseManifest(text, path.join(dir, MANIFEST));
}

export function parseManifest(text: string, where: string): ImageManifest {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new CocoonError('invalid', `${where}: not valid JSON (${(err as Error).message})`);
  }
  const m = data as Partial<ImageManifest> | null;
  if (!m || typeof m !== 'object' || typeof m.os !== 'string' || typeof m.version !== 'string' || !m.files || typeof m.files !== 'object') {
    throw new CocoonError('invalid', `${where}: not a Cocoon image manifest (needs os, version, files)`);
  }
  for (const [name, f] of Object.entries(m.files)) {
    if (!isSafeFileName(name) || typeof f?.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256) || typeof f.size !== 'number') {
      throw new CocoonError('invalid', `${where}: entry "${name}" needs a plain file name, a sha256 and a size`);
    }
  }
  return m as ImageManifest;
}
