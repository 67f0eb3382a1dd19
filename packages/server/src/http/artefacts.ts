import { existsSync } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CocoonConfig } from '../config/types.js';
import { resolveImageFile } from '../images/index.js';
import { cachedManifest } from '../images/resolve.js';
import { resolveIdentity } from '../lifecycle/identity.js';
import type { Renderer } from '../render/index.js';
import type { MachineStore } from '../store/types.js';
import { CocoonError } from '../util/errors.js';
import { normalizeMac } from '../util/mac.js';
import type { PreviewKind, Previewer } from './api-app.js';
import type { BootArtefacts, BootQuery, ImageFile, MachineScript, Rendered } from './boot-app.js';
import type { Metrics, RenderKind } from './metrics.js';
import type { Machine } from './ports.js';

const IPXE = 'text/plain; charset=utf-8';

/** mayu 0.11's image routes used short names for the files of its on-disk layout. */
const MAYU_ROUTE_FILES: Readonly<Record<string, string>> = {
  vmlinuz: 'coreos_production_pxe.vmlinuz',
  'initrd.cpio.gz': 'coreos_production_pxe_image.cpio.gz',
  'install_image.bin.bz2': 'coreos_production_image.bin.bz2',
};
const SHELL = 'text/x-shellscript; charset=utf-8';

/** packages/first-stage/dist, where `pnpm build` leaves the agent bundle and executable. */
export const DEFAULT_AGENT_DIR = fileURLToPath(new URL('../../../first-stage/dist/', import.meta.url));

export interface ArtefactsOptions {
  config: CocoonConfig;
  store: MachineStore;
  renderer: Renderer;
  metrics: Metrics;
}

/**
 * The boot port's content: renders through the Renderer (counting renders and failures),
 * resolves image files for a machine and finds the agent files. Previews use the same paths, so
 * what an operator previews is what the machine gets.
 */
export class Artefacts implements BootArtefacts, Previewer {
  private readonly agentDir: string;
  /** Kernel, initrds and assets named in the config (live profiles, rescue): paths under images_dir. */
  private readonly configuredBootFiles: ReadonlySet<string>;

  constructor(private readonly o: ArtefactsOptions) {
    this.agentDir = o.config.paths.agent_dir ?? DEFAULT_AGENT_DIR;
    const files = new Set<string>();
    const addImage = (img: { kernel: string; initrds: string[]; assets: string[] } | undefined): void => {
      if (!img) return;
      for (const f of [img.kernel, ...img.initrds, ...img.assets]) files.add(f.replace(/^\/+/, ''));
    };
    for (const p of o.config.profiles) addImage(p.live);
    addImage(o.config.rescue);
    this.configuredBootFiles = files;
  }

  private render(kind: RenderKind, fn: () => Rendered): Rendered {
    try {
      const out = fn();
      this.o.metrics.rendered(kind);
      return out;
    } catch (err) {
      this.o.metrics.renderFailed(kind);
      throw err;
    }
  }

  async chain(q: BootQuery): Promise<Rendered> {
    return this.render('ipxe-chain', () => ({ contentType: IPXE, body: this.o.renderer.ipxeChain(request(q)) }));
  }

  async machineScript(q: BootQuery): Promise<MachineScript> {
    const mac = q.mac ? normalizeMac(q.mac) : undefined;
    if (q.mac && !mac) throw new CocoonError('invalid', `mac: ${JSON.stringify(q.mac)} is not a MAC address`, 'mac');
    const { store, renderer } = this.o;
    const identity = resolveIdentity({ product: q.serial, uuid: q.uuid, mac });
    // A machine enrolled under another identity (e.g. its serial became readable later) is still
    // found by the MAC it booted from.
    const machine = store.get(identity.serial) ?? (mac ? store.byMac(mac) : undefined);
    const target = machine ?? { serial: identity.serial, ...(q.uuid ? { uuid: q.uuid } : {}), ...(mac ? { mac } : {}) };
    const serial = machine?.Serial ?? identity.serial;
    try {
      // Kernel, initrd and install image come from the OS version's manifest (the one async lookup).
      const install = await renderer.installFiles(target);
      const rendered = this.render('ipxe-machine', () => ({ contentType: IPXE, body: renderer.ipxeMachine(target, { ...request(q), install }) }));
      return { rendered, serial, machine, rescue: renderer.flow(target) === 'rescue' };
    } catch (err) {
      // A machine whose script cannot be rendered still gets an answer it can act on: the
      // failsafe script (rescue image or a retry loop); the caller records why.
      const reason = err instanceof Error ? err.message : String(err);
      const body = renderer.ipxeFailsafe(target, reason, request(q));
      return { rendered: { contentType: IPXE, body }, serial, machine, rescue: false, failsafe: reason };
    }
  }

  async firstStage(serial: string): Promise<Rendered> {
    const target = this.o.store.get(serial) ?? { serial };
    // The install image's name, sha256 and size: the script refuses an image it cannot verify.
    const install = await this.o.renderer.installFiles(target);
    return this.render('first-stage', () => ({ contentType: SHELL, body: this.o.renderer.firstStageScript(target, { install }) }));
  }

  async firstStageIgnition(serial: string): Promise<Rendered> {
    const target = this.o.store.get(serial) ?? { serial };
    const install = await this.o.renderer.installFiles(target);
    return this.render('first-stage', () => {
      const r = this.o.renderer.firstStageIgnition(target, { install });
      return { contentType: r.contentType, body: r.body };
    });
  }

  async finalConfig(machine: Machine): Promise<Rendered> {
    return this.render('final-config', () => {
      const r = this.o.renderer.finalConfig(machine);
      return { contentType: r.contentType, body: r.body };
    });
  }

  async preview(kind: PreviewKind, machine: Machine): Promise<Rendered> {
    switch (kind) {
      case 'ipxe': {
        const install = await this.o.renderer.installFiles(machine);
        return this.render('ipxe-machine', () => ({ contentType: IPXE, body: this.o.renderer.ipxeMachine(machine, { install }) }));
      }
      case 'first-stage':
        return this.firstStage(machine.Serial);
      case 'ignition': {
        const r = await this.finalConfig(machine);
        if (!/json/.test(r.contentType)) {
          throw new CocoonError('conflict', `profile ${JSON.stringify(machine.Profile)} renders cloud-config, not Ignition; preview kind "config"`, 'kind');
        }
        return r;
      }
      case 'config':
        return this.finalConfig(machine);
    }
  }

  async image(serial: string, file: string): Promise<ImageFile | undefined> {
    const machine = this.o.store.get(serial);
    const mayuName = MAYU_ROUTE_FILES[file];
    const r = (await resolveImageFile(this.o.config, machine, file)) ?? (mayuName ? await resolveImageFile(this.o.config, machine, mayuName) : undefined);
    if (r) return r.sha256 ? { path: r.path, size: r.size, sha256: r.sha256 } : { path: r.path, size: r.size };
    if (!this.configuredBootFiles.has(file)) return undefined;
    // Files named in the config (live/rescue images) are served from images_dir, never outside.
    try {
      const root = await realpath(this.o.config.paths.images_dir);
      const real = await realpath(path.join(root, file));
      if (!real.startsWith(`${root}${path.sep}`)) return undefined;
      const st = await stat(real);
      if (!st.isFile()) return undefined;
      // A manifest next to the file (images add / writeManifest) gives the checksum; once a
      // directory has one, only what it lists is served, as for OS versions.
      const manifest = await cachedManifest(path.dirname(path.join(root, file)));
      if (!manifest) return { path: real, size: st.size };
      const entry = manifest.files[path.basename(file)];
      if (!entry || entry.size !== st.size) return undefined;
      return { path: real, size: st.size, sha256: entry.sha256 };
    } catch {
      return undefined;
    }
  }

  agentFile(name: 'cocoon-agent.js' | 'cocoon-agent.gz' | 'hostinfo-helper'): string | undefined {
    // mayu's first stage downloads "hostinfo-helper" and runs it: the agent executable (gzip).
    const file = path.join(this.agentDir, name === 'hostinfo-helper' ? 'cocoon-agent.gz' : name);
    return existsSync(file) ? file : undefined;
  }
}

function request(q: BootQuery): { arch?: string; platform?: string } {
  return { ...(q.arch ? { arch: q.arch } : {}), ...(q.platform ? { platform: q.platform } : {}) };
}
