import { copyFile, mkdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { CocoonConfig } from '../config/types.js';
import { CocoonError } from '../util/errors.js';
import type { BootFiles } from './render-config.js';

/** Where Debian's `ipxe` package installs its binaries. */
export const DEBIAN_IPXE_DIR = '/usr/lib/ipxe';

export const BIOS_FILE = 'undionly.kpxe';
export const UEFI_FILE = 'ipxe.efi';
/** arm64 iPXE builds go by several names; the first one present is used. */
export const ARM64_CANDIDATES = ['ipxe-arm64.efi', 'arm64-efi/ipxe.efi', 'snp-arm64.efi'];

export interface TftpRoot {
  root: string;
  boot: BootFiles;
  /** Files copied into the root from the Debian package directory during this check. */
  populated: string[];
}

async function isFile(p: string): Promise<boolean> {
  try {
    const s = await stat(p);
    return s.isFile() && s.size > 0;
  } catch {
    return false;
  }
}

async function copyAtomically(from: string, to: string): Promise<void> {
  await mkdir(path.dirname(to), { recursive: true });
  const tmp = path.join(path.dirname(to), `.${path.basename(to)}.tmp-${process.pid}`);
  try {
    await copyFile(from, tmp);
    await rename(tmp, to);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/**
 * Start-up check of the TFTP root (paths.tftp_root): the iPXE binaries for every enabled firmware
 * kind must be there. Missing ones are copied from Debian's ipxe package when the root is another
 * directory. Throws `CocoonError` (field paths.tftp_root) naming each missing file and the fix.
 */
export async function prepareTftpRoot(config: CocoonConfig, sourceDir = DEBIAN_IPXE_DIR): Promise<TftpRoot> {
  const root = config.paths.tftp_root;
  const fw = config.network.firmware;
  const populated: string[] = [];
  const missing: string[] = [];
  const sameDir = path.resolve(root) === path.resolve(sourceDir);

  const ensure = async (name: string, why: string): Promise<boolean> => {
    if (await isFile(path.join(root, name))) return true;
    const source = path.join(sourceDir, name);
    if (!sameDir && (await isFile(source))) {
      try {
        await copyAtomically(source, path.join(root, name));
        populated.push(name);
        return true;
      } catch (err) {
        missing.push(`${name} (${why}; copying it from ${source} failed: ${(err as NodeJS.ErrnoException).code ?? String(err)})`);
        return false;
      }
    }
    missing.push(`${name} (${why})`);
    return false;
  };

  const boot: BootFiles = {};
  if (fw.bios && (await ensure(BIOS_FILE, 'BIOS PXE clients'))) boot.bios = BIOS_FILE;
  if (fw.uefi && (await ensure(UEFI_FILE, 'x86-64 UEFI PXE clients'))) boot.uefi = UEFI_FILE;
  if (fw.arm64) {
    // Optional: Debian ships no arm64 iPXE; arm64 clients are answered only when one is present.
    for (const name of ARM64_CANDIDATES) {
      if (await isFile(path.join(root, name))) {
        boot.arm64 = name;
        break;
      }
    }
  }
  if (missing.length > 0) {
    throw new CocoonError(
      'unavailable',
      `paths.tftp_root ${root} lacks ${missing.join(', ')}. Install Debian's ipxe package (apt-get install --no-install-recommends ipxe) or put the files there, or turn the firmware kind off in network.firmware.`,
      'paths.tftp_root',
    );
  }
  return { root, boot, populated };
}
