import type { CocoonConfig } from '../config/types.js';

/**
 * Every URL a booting machine is given, built in one place so the scripts Cocoon renders and the
 * routes the boot port serves cannot drift apart. Paths follow docs/architecture.md "HTTP routes".
 */
export interface MachineUrls {
  /** Boot port base URL without a trailing slash (config http.boot.public_url). */
  boot: string;
  /** Generic chain script. */
  ipxe: string;
  /** Per-machine iPXE script, without its query (the chain script appends iPXE variables). */
  ipxeMachine: string;
  /** The machine's first-stage script (POSIX sh). */
  firstStage: string;
  /** First-stage Ignition for a Flatcar PXE environment: a unit that runs the first-stage bootstrap. */
  firstStageIgnition: string;
  /** The agent as one JS bundle (environments with node) and as a gzip'd executable. */
  agentJs: string;
  agentGz: string;
  /** Agent POST of hardware facts; answers with the final config. */
  enroll: string;
  /** The final config again (live boots fetch it from the kernel command line). */
  config: string;
  progress: string;
  installed: string;
  failed: string;
  bootComplete: string;
  /** Base of the machine's image files; use image(file) for one file. */
  images: string;
  image: (file: string) => string;
}

/** The boot port's public base URL, without a trailing slash. */
export function bootBaseUrl(config: Pick<CocoonConfig, 'http' | 'network'>): string {
  const url = config.http.boot.public_url || `http://${config.network.bind_addr}:${config.http.boot.port}`;
  return url.replace(/\/+$/, '');
}

/**
 * An image file path as URL path segments. Nested names ("debian/12/vmlinuz", live and rescue
 * images under images_dir) keep their slashes: iPXE decodes %2F back into "/" before it sends a
 * request, so the images route must take a multi-segment file (`/images/:serial/*file`).
 */
export function imagePath(file: string): string {
  return file
    .split('/')
    .filter((s) => s !== '')
    .map(encodeURIComponent)
    .join('/');
}

export function machineUrls(baseUrl: string, serial: string): MachineUrls {
  const boot = baseUrl.replace(/\/+$/, '');
  const s = encodeURIComponent(serial);
  const images = `${boot}/images/${s}`;
  return {
    boot,
    ipxe: `${boot}/ipxe`,
    ipxeMachine: `${boot}/ipxe/machine`,
    firstStage: `${boot}/first-stage/${s}`,
    firstStageIgnition: `${boot}/first-stage/${s}/ignition.json`,
    agentJs: `${boot}/agent/cocoon-agent.js`,
    agentGz: `${boot}/agent/cocoon-agent.gz`,
    enroll: `${boot}/enroll`,
    config: `${boot}/config/${s}`,
    progress: `${boot}/machines/${s}/progress`,
    installed: `${boot}/machines/${s}/installed`,
    failed: `${boot}/machines/${s}/failed`,
    bootComplete: `${boot}/machines/${s}/boot-complete`,
    images,
    image: (file: string) => `${images}/${imagePath(file)}`,
  };
}

/** machineUrls for the configured boot base URL. */
export function machineUrlsFor(config: Pick<CocoonConfig, 'http' | 'network'>, serial: string): MachineUrls {
  return machineUrls(bootBaseUrl(config), serial);
}
