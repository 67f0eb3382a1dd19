import path from 'node:path';
import type { CocoonConfig } from '../config/types.js';
import { checkOsName, checkVersion, mayuVersionDir } from '../images/layout.js';
import { cachedManifest, installImageFor, osFor, type MachineOsFields } from '../images/resolve.js';
import { isMachineRecord, type InstallFiles, type RenderTarget } from './context.js';

/**
 * The first-stage files of a machine's OS version from its manifest (roles kernel, initrd and
 * install, with the install image's sha256 and size), for RenderRequest.install. Rendering is
 * synchronous; this is the one asynchronous lookup a caller does first. Manifests are cached by
 * the images module (re-checked at most once a second), so this stays cheap during a boot storm.
 * A version without a manifest gives {}: mayu's route names, no checksum.
 */
export async function installFilesFor(config: CocoonConfig, target: RenderTarget): Promise<InstallFiles> {
  // A machine that is not enrolled renders with the default profile (see Renderer.profileOf).
  const fields: MachineOsFields = isMachineRecord(target) ? target : { Profile: 'default' };
  const os = osFor(config, fields);
  if (!os) return {};
  let dir: string;
  try {
    dir = path.join(config.paths.images_dir, checkOsName(os.name), checkVersion(os.version));
  } catch {
    return {};
  }
  const manifest = (await cachedManifest(dir)) ?? (await cachedManifest(mayuVersionDir(config.paths.images_dir, os.version)));
  const image = await installImageFor(config, fields);
  const out: InstallFiles = {};
  if (manifest?.kernel) out.kernel = manifest.kernel;
  if (manifest?.initrd) out.initrds = [manifest.initrd];
  if (image) {
    out.image = { name: image.name, sha256: image.sha256, size: image.size };
    out.minDiskBytes = image.minDiskBytes;
  }
  return out;
}
