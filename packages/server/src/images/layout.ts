import path from 'node:path';
import { invalid } from '../util/errors.js';

/**
 * images_dir layout:
 *   <os>/<version>/manifest.json + the files it lists     (Cocoon)
 *   <version>/coreos_production_*                          (mayu 0.11, served for compat)
 */
export const MANIFEST = 'manifest.json';

/** mayu's fixed file names below images/<version>/; they resolve without a manifest. */
export const MAYU_FILES: readonly string[] = [
  'coreos_production_pxe.vmlinuz',
  'coreos_production_pxe_image.cpio.gz',
  'coreos_production_image.bin.bz2',
  'coreos_production_image.bin.bz2.sig',
];

const OS_NAME = /^[a-z0-9][a-z0-9_-]*$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

export function checkOsName(name: string, field = 'os'): string {
  if (!OS_NAME.test(name)) throw invalid(field, `"${name}" is not an OS name (lower case letters, digits, - and _)`);
  return name;
}

export function checkVersion(version: string, field = 'version'): string {
  if (!VERSION.test(version) || version.includes('..')) throw invalid(field, `"${version}" is not a version (letters, digits, . _ + -)`);
  return version;
}

/** A single path component that cannot climb out of its directory. */
export function isSafeFileName(name: string): boolean {
  return FILE_NAME.test(name) && !name.includes('..');
}

export function versionDir(imagesDir: string, os: string, version: string): string {
  return path.join(imagesDir, checkOsName(os), checkVersion(version));
}

export function mayuVersionDir(imagesDir: string, version: string): string {
  return path.join(imagesDir, checkVersion(version));
}

/** True when `child` is `parent` or inside it (after resolving . and ..). */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(path.resolve(parent), path.resolve(child));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
