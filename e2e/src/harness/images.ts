import { mkdirSync, linkSync, copyFileSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Assets } from './assets.js';

/**
 * The OS every e2e machine installs: the assets' test OS in the images-dir layout. Not called
 * flatcar: Flatcar's first stage wants an 8 GiB disk, its Ignition arguments and an OEM partition.
 */
export const E2E_OS = 'cocoon-e2e';
export const E2E_VERSION = '0.0.1-e2e';
/** Same files, but its manifest lists a wrong checksum for the install image (scenario 5). */
export const E2E_BAD_VERSION = '0.0.2-e2e-badsum';

/**
 * Which asset plays which role. The names are the render module's defaults for an OS whose
 * manifest the renderer is not told about (DEFAULT_INSTALL_FILES); the manifest names
 * the same files by role for the images module.
 */
export const IMAGE_FILES = {
  kernel: { name: 'vmlinuz', asset: 'vmlinuz' },
  initrd: { name: 'initrd.cpio.gz', asset: 'first-stage.cpio.gz' },
  install: { name: 'install_image.bin.bz2', asset: 'os-disk.img.bz2' },
} as const;

export interface ImageVersion {
  version: string;
  /** Write a wrong sha256 for the install image into the manifest. */
  corruptChecksum?: boolean;
}

function place(src: string, dst: string): void {
  rmSync(dst, { force: true });
  try {
    linkSync(src, dst); // same filesystem as the cache: no copy of ~50 MB per run
  } catch {
    copyFileSync(src, dst);
  }
}

/** Writes images/<os>/<version>/ with the files and a sha256 manifest for each version. */
export function layoutImages(imagesDir: string, assets: Assets, versions: ImageVersion[]): void {
  for (const v of versions) {
    const dir = path.join(imagesDir, E2E_OS, v.version);
    mkdirSync(dir, { recursive: true });
    const files: Record<string, { size: number; sha256: string }> = {};
    for (const [role, f] of Object.entries(IMAGE_FILES)) {
      place(assets.path(f.asset), path.join(dir, f.name));
      const info = assets.files[f.asset];
      const sha256 = v.corruptChecksum && role === 'install' ? flip(info.sha256) : info.sha256;
      files[f.name] = { size: info.size, sha256 };
    }
    // The images module's manifest (packages/server/src/images/manifest.ts): roles name the files.
    const manifest = {
      os: E2E_OS,
      version: v.version,
      createdAt: new Date().toISOString(),
      source: `e2e/assets/build-assets.sh (${assets.kernelPackage})${v.corruptChecksum ? '; install image checksum deliberately wrong' : ''}`,
      install: IMAGE_FILES.install.name,
      kernel: IMAGE_FILES.kernel.name,
      initrd: IMAGE_FILES.initrd.name,
      files,
    };
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  }
}

/** A checksum that differs from the real one in its first digit. */
function flip(sha: string): string {
  return (sha[0] === '0' ? '1' : '0') + sha.slice(1);
}
