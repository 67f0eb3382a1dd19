import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { CocoonConfig, OsRef } from '../config/types.js';
import type { MachineRecord } from '../store/types.js';
import { type ImageManifest, readManifest } from './manifest.js';
import { MAYU_FILES, checkOsName, checkVersion, isInside, isSafeFileName, mayuVersionDir } from './layout.js';

export interface ResolvedImageFile {
  /** Absolute path inside images_dir. */
  path: string;
  size: number;
  /** From the manifest; absent for mayu-layout files without a manifest. */
  sha256?: string;
  os: string;
  version: string;
}

/** The parts of a machine record that choose its OS (an unknown machine has none of them). */
export type MachineOsFields = Partial<Pick<MachineRecord, 'Profile' | 'OSName' | 'OSVersion' | 'Overrides'>>;

/**
 * The OS a machine installs or boots: per-machine override (Overrides.OSName / OSVersion, or
 * mayu's CoreOSVersion) > the machine's own OSName/OSVersion > its profile's os > default_os
 * (render/ uses this function for its `os`).
 * Name and version are chosen separately, so an override of the version alone keeps the OS.
 */
export function osFor(config: CocoonConfig, machine: MachineOsFields | undefined): OsRef | undefined {
  const profile = machine?.Profile ? config.profiles.find((p) => p.name === machine.Profile) : undefined;
  const fallback = profile?.os ?? config.default_os;
  const overrides = machine?.Overrides ?? {};
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const name = str(overrides['OSName']) ?? str(machine?.OSName) ?? fallback?.name;
  const version = str(overrides['OSVersion']) ?? str(overrides['CoreOSVersion']) ?? str(machine?.OSVersion) ?? fallback?.version;
  if (!name || !version) return undefined;
  return { name, version, ...(fallback?.channel && fallback.name === name ? { channel: fallback.channel } : {}) };
}

interface CachedManifest {
  /** mtime and inode of manifest.json ('' when there is none). */
  key: string;
  manifest: ImageManifest | undefined;
  /** When the file was last looked at (ms, monotonic). */
  checked: number;
}

/**
 * Manifests are read once and kept. 10 000 machines share a handful of versions, so the cache
 * stays small. A stat notices a re-fetched or removed image, but at most once a second per
 * version: a boot storm asks for the same few manifests thousands of times a second, and a stat
 * per request (a thread-pool round trip, an exception when there is no manifest) was a sixth of
 * an iPXE script's cost. Images added by this process are seen at once (forgetManifest).
 */
const manifestCache = new Map<string, CachedManifest>();
const REVALIDATE_MS = 1000;

export async function cachedManifest(dir: string): Promise<ImageManifest | undefined> {
  const now = performance.now();
  const hit = manifestCache.get(dir);
  if (hit && now - hit.checked < REVALIDATE_MS) return hit.manifest;
  let key = '';
  try {
    const st = await stat(path.join(dir, 'manifest.json'));
    // mtime and inode: a re-added version is a new file even within one clock tick.
    key = `${st.mtimeMs}:${st.ino}`;
  } catch {
    // no manifest (yet): remembered as such until the next look
  }
  if (hit && hit.key === key) {
    hit.checked = now;
    return hit.manifest;
  }
  const manifest = key ? await readManifest(dir) : undefined;
  manifestCache.set(dir, { key, manifest, checked: now });
  return manifest;
}

/** Drops what is cached for `dir` (an image version this process just added or replaced). */
export function forgetManifest(dir: string): void {
  manifestCache.delete(dir);
}

/**
 * A file of the machine's OS version, for `GET /images/:serial/:file`. Only names the version's
 * manifest lists resolve (or mayu's fixed names in the mayu layout); the result is never outside
 * images_dir, symlinks included. undefined = 404.
 */
export async function resolveImageFile(config: CocoonConfig, machine: MachineOsFields | undefined, fileName: string): Promise<ResolvedImageFile | undefined> {
  if (!isSafeFileName(fileName)) return undefined;
  const os = osFor(config, machine);
  if (!os) return undefined;
  let name: string;
  let version: string;
  try {
    name = checkOsName(os.name);
    version = checkVersion(os.version);
  } catch {
    return undefined;
  }
  const imagesDir = config.paths.images_dir;
  const dir = path.join(imagesDir, name, version);
  const manifest = await cachedManifest(dir);
  if (manifest) {
    const entry = manifest.files[fileName];
    if (!entry) return undefined;
    return within(imagesDir, path.join(dir, fileName), { size: entry.size, sha256: entry.sha256, os: name, version });
  }
  // mayu 0.11 layout: images/<version>/coreos_production_*; a manifest there is honoured too.
  const mayuDir = mayuVersionDir(imagesDir, version);
  const mayuManifest = await cachedManifest(mayuDir);
  if (mayuManifest) {
    const entry = mayuManifest.files[fileName];
    if (!entry) return undefined;
    return within(imagesDir, path.join(mayuDir, fileName), { size: entry.size, sha256: entry.sha256, os: name, version });
  }
  if (!MAYU_FILES.includes(fileName)) return undefined;
  try {
    const st = await stat(path.join(mayuDir, fileName));
    if (!st.isFile()) return undefined;
    return within(imagesDir, path.join(mayuDir, fileName), { size: st.size, os: name, version });
  } catch {
    return undefined;
  }
}

async function within(imagesDir: string, file: string, info: Omit<ResolvedImageFile, 'path'>): Promise<ResolvedImageFile | undefined> {
  try {
    const [root, real] = await Promise.all([realpath(imagesDir), realpath(file)]);
    if (!isInside(root, real)) return undefined;
    return { path: real, ...info };
  } catch {
    return undefined;
  }
}

export interface InstallImage {
  /** File name to request as /images/<serial>/<name>. */
  name: string;
  sha256: string;
  size: number;
  os: string;
  version: string;
  /** 0 when the manifest does not say. */
  minDiskBytes: number;
}

/**
 * The disk image the first stage installs for a machine (the manifest's `install` file), for the
 * first-stage script's render context. undefined when the version has no manifest or no install role.
 */
export async function installImageFor(config: CocoonConfig, machine: MachineOsFields | undefined): Promise<InstallImage | undefined> {
  const os = osFor(config, machine);
  if (!os) return undefined;
  let dir: string;
  try {
    dir = path.join(config.paths.images_dir, checkOsName(os.name), checkVersion(os.version));
  } catch {
    return undefined;
  }
  const manifest = (await cachedManifest(dir)) ?? (await cachedManifest(mayuVersionDir(config.paths.images_dir, os.version)));
  const name = manifest?.install;
  const entry = name ? manifest.files[name] : undefined;
  if (!name || !entry) return undefined;
  return { name, sha256: entry.sha256, size: entry.size, os: os.name, version: os.version, minDiskBytes: manifest.minDiskBytes ?? 0 };
}
