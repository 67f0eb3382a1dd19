import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { MANIFEST, checkOsName, checkVersion, mayuVersionDir } from './layout.js';
import { type ImageManifest, parseManifest } from './manifest.js';

/** An OS version's first-stage files and install image as its manifest names them. */
export interface ManifestInstallEnvironment {
  kernel?: string;
  initrds?: string[];
  /** The disk image the first stage writes, with what the script needs to verify it. */
  image?: string;
  imageSha256?: string;
  imageSize?: number;
  minDiskBytes?: number;
}

/**
 * A synchronous lookup for the renderer (render/ builds contexts synchronously): manifests are
 * read once and re-read only when their mtime changes, so a render costs one stat.
 */
export function manifestInstallEnvironment(imagesDir: string): (os: { name: string; version: string } | null | undefined) => ManifestInstallEnvironment | undefined {
  const cache = new Map<string, { key: string; manifest: ImageManifest | undefined }>();
  const load = (dir: string): ImageManifest | undefined => {
    const file = path.join(dir, MANIFEST);
    let key: string;
    try {
      const st = statSync(file);
      // mtime and inode: a re-added version is a new file even within one clock tick.
      key = `${st.mtimeMs}:${st.ino}`;
    } catch {
      cache.delete(dir);
      return undefined;
    }
    const hit = cache.get(dir);
    if (hit && hit.key === key) return hit.manifest;
    let manifest: ImageManifest | undefined;
    try {
      manifest = parseManifest(readFileSync(file, 'utf8'), file);
    } catch {
      // A broken manifest means "no image": the first stage then fails with a clear reason.
      manifest = undefined;
    }
    cache.set(dir, { key, manifest });
    return manifest;
  };
  return (os) => {
    if (!os) return undefined;
    let dir: string;
    try {
      dir = path.join(imagesDir, checkOsName(os.name), checkVersion(os.version));
    } catch {
      return undefined;
    }
    const m = load(dir) ?? load(mayuVersionDir(imagesDir, os.version));
    if (!m) return undefined;
    const env: ManifestInstallEnvironment = {};
    if (m.kernel) env.kernel = m.kernel;
    if (m.initrd) env.initrds = [m.initrd];
    const entry = m.install ? m.files[m.install] : undefined;
    if (m.install && entry) {
      env.image = m.install;
      env.imageSha256 = entry.sha256;
      env.imageSize = entry.size;
    }
    if (m.minDiskBytes) env.minDiskBytes = m.minDiskBytes;
    return env;
  };
}
