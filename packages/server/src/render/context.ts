import type { BootImage, CocoonConfig, OsRef, Profile } from '../config/types.js';
import type { MachineRecord } from '../store/types.js';
import { deepFreeze, emptyRecord } from '../store/record.js';
import { osFor } from '../images/resolve.js';
import { prefixToNetmask } from '../util/ipv4.js';
import { normalizeMac } from '../util/mac.js';
import { mergeTemplatesEnv } from './templates-env.js';
import { machineUrls, bootBaseUrl, type MachineUrls } from './urls.js';

/** What iPXE tells about a machine that has no record yet (query of /ipxe/machine). */
export interface MachineIdentity {
  serial: string;
  uuid?: string;
  mac?: string;
}

/** A stored machine, or the identity of one the server has not enrolled yet. */
export type RenderTarget = Readonly<MachineRecord> | MachineIdentity;

/** Per-request facts that are not in the record: what the booting firmware reported. */
export interface RenderRequest {
  /** iPXE ${buildarch}: i386, x86_64, arm64 ... */
  arch?: string;
  /** iPXE ${platform}: pcbios or efi. */
  platform?: string;
  /** Override of config.http.boot.public_url (previews for another network). */
  baseUrl?: string;
  /**
   * The machine's first-stage files and install image from its OS version's manifest
   * (`await installFilesFor(config, target)` or `renderer.installFiles(target)`); without them
   * mayu's route names are used and the install image has no checksum.
   */
  install?: InstallFiles;
}

export function isMachineRecord(target: RenderTarget): target is Readonly<MachineRecord> {
  return typeof (target as MachineRecord).Serial === 'string';
}

/** The OS a machine installs or boots (images/osFor: override > machine > profile > default_os). */
export type ResolvedOs = OsRef;

/**
 * The files of the first-stage (install) environment and the image it installs, as names the
 * images route resolves for the machine. The images module knows them from the version's
 * manifest (roles kernel / initrd / install); `installFilesFor()` looks them up before a render.
 */
export interface InstallFiles {
  kernel?: string;
  initrds?: string[];
  /** Extra kernel arguments for this environment (a nunjucks template). */
  args?: string;
  /** The OS image the first stage writes to the disk, with the manifest's checksum and size. */
  image?: { name: string; sha256: string; size: number };
  /** Smallest disk the expanded image fits on (0: unknown). */
  minDiskBytes?: number;
}

/**
 * mayu 0.11's route names, used when no manifest names the files: the images route maps them
 * onto the mayu layout's coreos_production_* files.
 */
export const DEFAULT_INSTALL_FILES: Readonly<Required<Pick<InstallFiles, 'kernel' | 'initrds' | 'args'>>> & { image: string } = Object.freeze({
  kernel: 'vmlinuz',
  initrds: Object.freeze(['initrd.cpio.gz']) as unknown as string[],
  args: '',
  image: 'install_image.bin.bz2',
});

/** A record for a machine the server has not enrolled: what the first stage renders with. */
export function placeholderRecord(identity: MachineIdentity): MachineRecord {
  return {
    ...emptyRecord(identity.serial),
    MacAddresses: identity.mac ? [identity.mac] : [],
    ...(identity.uuid ? { SMBIOSUUID: identity.uuid } : {}),
  };
}

/** A kernel or initrd as the iPXE templates use it. */
export interface BootFile {
  /** Path under the images route, e.g. "vmlinuz" or "debian/12/vmlinuz". */
  file: string;
  url: string;
  /** iPXE image name (and the kernel's initrd=<name>); the file's base name, made iPXE-safe. */
  name: string;
}

export interface BootEntry {
  kernel: BootFile;
  initrds: BootFile[];
  /** Further assets (root filesystem archives...): URLs by file path and by base name. */
  assets: Record<string, string>;
  /** Kernel arguments from the image or profile (already rendered), '' when none. */
  args: string;
}

export function bootFile(urls: MachineUrls, file: string): BootFile {
  const base = file.split('/').filter(Boolean).pop() ?? file;
  return { file, url: urls.image(file), name: base.replace(/[^A-Za-z0-9._-]/g, '_') };
}

/** The machine's static network, for configs that set the node address (InternalAddr). */
export interface NodeNetwork {
  ip: string;
  prefix: number;
  netmask: string;
  /** The subnet gateway, or '' when the config names none. */
  gateway: string;
  dns: string[];
  ntp: string[];
  /** MAC of the connected NIC when the facts name it, else the first known MAC, else ''. */
  mac: string;
  /** Kernel name of the connected NIC as the first stage saw it, or ''. */
  nic: string;
}

// The facts come from the machine itself: only a well-formed MAC goes into a config file.
function connectedMac(machine: Readonly<MachineRecord>): string {
  const nics = (machine.Hardware as { nics?: unknown } | undefined)?.nics;
  if (Array.isArray(nics) && machine.ConnectedNIC) {
    for (const n of nics as unknown[]) {
      const nic = n as { name?: unknown; mac?: unknown } | null;
      if (nic && nic.name === machine.ConnectedNIC && typeof nic.mac === 'string') return normalizeMac(nic.mac) ?? '';
    }
  }
  return normalizeMac(machine.MacAddresses[0] ?? '') ?? '';
}

export function nodeNetwork(config: Pick<CocoonConfig, 'network'>, machine: Readonly<MachineRecord>): NodeNetwork {
  const net = config.network;
  let mac: string | undefined;
  return {
    ip: machine.InternalAddr,
    prefix: net.subnet_size,
    netmask: prefixToNetmask(net.subnet_size),
    gateway: net.subnet_gateway ?? '',
    dns: [...net.dns],
    ntp: [...net.ntp],
    // Found in the hardware facts, which the store parses only when they are read: worked out
    // when a template asks for it (configs do, iPXE scripts do not), once per render.
    get mac(): string {
      return (mac ??= connectedMac(machine));
    },
    nic: machine.ConnectedNIC,
  };
}

/** Everything a template sees. Built fresh for every render; nothing in it is shared. */
export interface RenderContext {
  /** Deep-frozen: the store's record itself (no copy per render), or a frozen copy of anything else. */
  machine: Readonly<MachineRecord>;
  /** false for a machine the server has not enrolled yet (rendered from its iPXE identity). */
  enrolled: boolean;
  /** Deep-frozen, like `machine`. */
  profile: Readonly<Profile>;
  /** The OS to install or boot; null when nothing names one. */
  os: ResolvedOs | null;
  env: Record<string, unknown>;
  urls: MachineUrls;
  network: {
    bind_addr: string;
    subnet_size: number;
    netmask: string;
    gateway: string;
    router: string;
    dns: string[];
    ntp: string[];
  };
  node: NodeNetwork;
  /** What the firmware reported for this request ('' when unknown). */
  boot: { arch: string; platform: string };
  /** The first-stage environment's files and the image it installs. */
  install: {
    entry: BootEntry;
    /** The install image; sha256 '' and size 0 when no manifest says. */
    image: BootFile & { sha256: string; size: number };
    /** The profile's install_disk, '' = the first stage chooses. */
    disk: string;
    minDiskBytes: number;
  };
}

/** `profile` if it is frozen (the renderer's own copies), else a deep-frozen copy of it. */
export function frozenProfile(profile: Readonly<Profile>): Readonly<Profile> {
  return Object.isFrozen(profile) ? profile : deepFreeze(structuredClone(profile as Profile));
}

export function profileFor(config: Pick<CocoonConfig, 'profiles'>, name: string): Profile | undefined {
  return config.profiles.find((p) => p.name === name);
}

function installContext(urls: MachineUrls, files: InstallFiles, profile: Profile): RenderContext['install'] {
  const initrds = files.initrds ?? DEFAULT_INSTALL_FILES.initrds;
  const image = files.image ?? { name: DEFAULT_INSTALL_FILES.image, sha256: '', size: 0 };
  return {
    entry: {
      kernel: bootFile(urls, files.kernel ?? DEFAULT_INSTALL_FILES.kernel),
      initrds: initrds.map((f) => bootFile(urls, f)),
      assets: {},
      args: files.args ?? DEFAULT_INSTALL_FILES.args,
    },
    image: { ...bootFile(urls, image.name), sha256: image.sha256, size: image.size },
    disk: profile.install_disk ?? '',
    minDiskBytes: files.minDiskBytes ?? 0,
  };
}

/** A BootImage of the config (live profile, rescue) as a BootEntry; args are rendered later. */
export function imageEntry(urls: MachineUrls, image: BootImage): BootEntry {
  const assets: Record<string, string> = {};
  for (const a of image.assets) {
    const f = bootFile(urls, a);
    assets[a] = f.url;
    assets[f.name] = f.url;
  }
  return { kernel: bootFile(urls, image.kernel), initrds: image.initrds.map((f) => bootFile(urls, f)), assets, args: image.args };
}

export function buildContext(
  config: CocoonConfig,
  profile: Profile,
  target: RenderTarget,
  request: RenderRequest = {},
): RenderContext {
  const enrolled = isMachineRecord(target);
  // Templates may see shared objects only when nothing can change them: the store hands out
  // deep-frozen records and the renderer frozen profiles, which are used as they are (a copy of a
  // 2 KB record was a tenth of a per-machine script's cost); anything else is copied and frozen.
  let machine: Readonly<MachineRecord>;
  if (!enrolled) machine = deepFreeze({ ...placeholderRecord(target), Profile: profile.name });
  else machine = Object.isFrozen(target) ? target : deepFreeze(structuredClone(target as MachineRecord));
  const urls = machineUrls(request.baseUrl ?? bootBaseUrl(config), machine.Serial);
  // One OS choice for the whole server: the images module's (override > machine > profile > default).
  const os = osFor(config, machine) ?? null;
  const net = config.network;
  return {
    machine,
    enrolled,
    profile: frozenProfile(profile),
    os,
    env: mergeTemplatesEnv(config.templates_env, profile.templates_env, machine.Overrides),
    urls,
    network: {
      bind_addr: net.bind_addr,
      subnet_size: net.subnet_size,
      netmask: prefixToNetmask(net.subnet_size),
      gateway: net.subnet_gateway ?? '',
      router: net.router ?? '',
      dns: [...net.dns],
      ntp: [...net.ntp],
    },
    node: nodeNetwork(config, machine),
    boot: { arch: request.arch ?? '', platform: request.platform ?? '' },
    install: installContext(urls, request.install ?? {}, profile),
  };
}
