import { copyFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { CocoonError } from '../util/errors.js';
import { sha256File, syncDir } from './files.js';
import { MAYU_FILES, checkOsName, checkVersion, isSafeFileName } from './layout.js';
import { forgetManifest } from './resolve.js';
import { type ImageManifest, type ImageRoles, readManifest, writeManifest } from './manifest.js';

export interface ImageSummary {
  os: string;
  version: string;
  layout: 'cocoon' | 'mayu';
  channel?: string;
  createdAt?: string;
  files: number;
  bytes: number;
  install?: string;
  /** mayu directories without a manifest, or a manifest that cannot be read. */
  problem?: string;
}

/** Every image version under images_dir (an operator command: a directory walk is fine here). */
export async function listImages(imagesDir: string): Promise<ImageSummary[]> {
  const out: ImageSummary[] = [];
  for (const top of await dirs(imagesDir)) {
    const topDir = path.join(imagesDir, top);
    const mayuNames = (await readdir(topDir)).filter((n) => MAYU_FILES.includes(n));
    if (mayuNames.length > 0) {
      out.push(await summary(topDir, 'coreos', top, 'mayu', mayuNames));
      continue;
    }
    for (const version of await dirs(topDir)) out.push(await summary(path.join(topDir, version), top, version, 'cocoon', []));
  }
  return out.sort((a, b) => a.os.localeCompare(b.os) || a.version.localeCompare(b.version, undefined, { numeric: true }));
}

async function summary(dir: string, os: string, version: string, layout: 'cocoon' | 'mayu', mayuNames: string[]): Promise<ImageSummary> {
  let manifest: ImageManifest | undefined;
  try {
    manifest = await readManifest(dir);
  } catch (err) {
    return { os, version, layout, files: 0, bytes: 0, problem: (err as Error).message };
  }
  if (!manifest) {
    let bytes = 0;
    for (const n of mayuNames) bytes += (await stat(path.join(dir, n))).size;
    return { os, version, layout, files: mayuNames.length, bytes, problem: 'no manifest.json (files are served without checksums)' };
  }
  const entries = Object.values(manifest.files);
  return {
    os,
    version,
    layout,
    ...(manifest.channel ? { channel: manifest.channel } : {}),
    createdAt: manifest.createdAt,
    files: entries.length,
    bytes: entries.reduce((s, f) => s + f.size, 0),
    ...(manifest.install ? { install: manifest.install } : {}),
  };
}

async function dirs(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  } catch {
    return [];
  }
}

export interface VerifyResult {
  ok: boolean;
  checked: number;
  problems: string[];
}

/** Re-hashes every file a version's manifest lists (streaming) and reports every difference. */
export async function verifyImage(imagesDir: string, os: string, version: string): Promise<VerifyResult> {
  const dir = path.join(imagesDir, checkOsName(os), checkVersion(version));
  const manifest = await readManifest(dir);
  if (!manifest) throw new CocoonError('not-found', `image ${os} ${version} has no manifest in ${dir}`);
  const problems: string[] = [];
  let checked = 0;
  for (const [name, want] of Object.entries(manifest.files)) {
    let got;
    try {
      got = await sha256File(path.join(dir, name));
    } catch (err) {
      problems.push(`${name}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : (err as Error).message}`);
      continue;
    }
    checked++;
    if (got.size !== want.size) problems.push(`${name}: size ${got.size}, manifest says ${want.size}`);
    else if (got.sha256 !== want.sha256) problems.push(`${name}: sha256 ${got.sha256}, manifest says ${want.sha256}`);
  }
  return { ok: problems.length === 0, checked, problems };
}

export interface AddImageOptions extends ImageRoles {
  imagesDir: string;
  os: string;
  version: string;
  channel?: string;
  /** Files to copy in (their base names become the served names). */
  files: string[];
  source?: string;
}

/** Adds an image version from local files (e.g. a custom OS or the e2e stand-in): copy, hash, manifest, swap in. */
export async function addImage(opts: AddImageOptions): Promise<ImageManifest> {
  const osDir = path.join(opts.imagesDir, checkOsName(opts.os));
  const finalDir = path.join(osDir, checkVersion(opts.version));
  const tmp = path.join(osDir, `.add-${opts.version}-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    for (const f of opts.files) {
      const name = path.basename(f);
      if (!isSafeFileName(name)) throw new CocoonError('invalid', `file name "${name}" is not servable (letters, digits, . _ + -)`, 'files');
      await copyFile(f, path.join(tmp, name));
    }
    const manifest = await writeManifest(tmp, {
      os: opts.os,
      version: opts.version,
      ...(opts.channel ? { channel: opts.channel } : {}),
      source: opts.source ?? 'added from local files',
      ...(opts.install ? { install: opts.install } : {}),
      ...(opts.kernel ? { kernel: opts.kernel } : {}),
      ...(opts.initrd ? { initrd: opts.initrd } : {}),
      ...(opts.minDiskBytes ? { minDiskBytes: opts.minDiskBytes } : {}),
    });
    const old = path.join(osDir, `.old-${opts.version}-${process.pid}`);
    const hadOld = await rename(finalDir, old).then(() => true, () => false);
    await rename(tmp, finalDir);
    forgetManifest(finalDir);
    await syncDir(osDir);
    if (hadOld) await rm(old, { recursive: true, force: true });
    return manifest;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
