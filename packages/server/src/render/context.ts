import type { BootImage, CocoonConfig, OsRef, Profile } from '../config/types.js';
import type { MachineRecord } from '../store/types.js';
import { prefixToNetmask } from '../util/ipv4.js';
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
}

export function isMachineRecord(target: RenderTarget): target is Readonly<MachineRecord> {
  return typeof (target as MachineRecord).Serial === 'string';
}

export interface ResolvedOs {
  name: string;
  version: string;
  channel?: string;
}

function overrideText(overrides: Readonly<Record<string, unknown>> | undefined, key: string): string | undefined {
  const v = overrides?.[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * The OS a machine gets: the machine's Overrides (OSName / OSVersion, or mayu's CoreOSVersion),
 * then the record's OSName / OSVersion, then the profile's os, then default_os.
 * `undefined` when none of them names one (a live profile with its own kernel needs none).
 */
export function resolveMachineOs(
  config: Pick<CocoonConfig, 'default_os'>,
  profile: Pick<Profile, 'os'> | undefined,
  machine?: Readonly<Pick<MachineRecord, 'Overrides' | 'OSName' | 'OSVersion'>>,
): ResolvedOs | undefined {
  const base: OsRef | undefined = profile?.os ?? config.default_os;
  const o = machine?.Overrides;
  const name = overrideText(o, 'OSName') ?? (machine?.OSName || undefined) ?? base?.name;
  const version = overrideText(o, 'OSVersion') ?? overrideText(o, 'CoreOSVersion') ?? (machine?.OSVersion || undefined) ?? base?.version;
  if (!name || !version) return undefined;
  const os: ResolvedOs = { name, version };
  if (base?.channel && base.name === name) os.channel = base.channel;
  return os;
}

/**
 * The files of the first-stage (install) environment of an OS version, as names the images route
 * resolves for the machine. `args` is a nunjucks template rendered with the machine's context.
 */
export interface InstallEnvironment {
  kernel: string;
  initrds: string[];
  args: string;
  /** The OS image the first stage writes to the disk. */
  image: string;
}

/**
 * mayu 0.11's fixed names, which the images route maps onto every OS version's files. An images
 * module that knows better (a version's manifest naming its PXE kernel) passes `installEnvironment`
 * to createRenderer; the e2e harness's Debian kernel + initramfs only needs to be stored under these.
 */
export const DEFAULT_INSTALL_ENVIRONMENT: Readonly<InstallEnvironment> = Object.freeze({
  kernel: 'vmlinuz',
  initrds: Object.freeze(['initrd.cpio.gz']) as unknown as string[],
  args: '',
  image: 'install_image.bin.bz2',
});

export type InstallEnvironmentLookup = (os: ResolvedOs | undefined) => Partial<InstallEnvironment> | undefined;

/** A record for a machine the server has not enrolled: what the first stage renders with. */
export function placeholderRecord(identity: MachineIdentity): MachineRecord {
  return {
    Serial: identity.serial,
    MacAddresses: identity.mac ? [identity.mac] : [],
    InternalAddr: '',
    Hostname: '',
    MachineID: '',
    ConnectedNIC: '',
    IPMIAddr: '',
    ProviderId: '',
    Cabinet: 0,
    MachineOnCabinet: 0,
    Profile: '',
    FleetMetadata: [],
    FleetDisableEngine: false,
    EtcdClusterToken: '',
    Overrides: {},
    State: 'unknown',
    LastBoot: '0001-01-01T00:00:00Z',
    CoreOSVersion: '',
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

function connectedMac(machine: Readonly<MachineRecord>): string {
  const nics = (machine.Hardware as { nics?: unknown } | undefined)?.nics;
  if (Array.isArray(nics) && machine.ConnectedNIC) {
    for (const n of nics as unknown[]) {
      const nic = n as { name?: unknown; mac?: unknown };
      if (nic && nic.name === machine.ConnectedNIC && typeof nic.mac === 'string') return nic.mac;
    }
  }
  return machine.MacAddresses[0] ?? '';
}

export function nodeNetwork(config: Pick<CocoonConfig, 'network'>, machine: Readonly<MachineRecord>): NodeNetwork {
  const net = config.network;
  return {
    ip: machine.InternalAddr,
    prefix: net.subnet_size,
    netmask: prefixToNetmask(net.subnet_size),
    gateway: net.subnet_gateway ?? '',
    dns: [...net.dns],
    ntp: [...net.ntp],
    mac: connectedMac(machine),
    nic: machine.ConnectedNIC,
  };
}

/** Everything a template sees. Built fresh for every render; nothing in it is shared. */
export interface RenderContext {
  machine: MachineRecord;
  /** false for a machine the server has not enrolled yet (rendered from its iPXE identity). */
  enrolled: boolean;
  profile: Profile;
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
  install: { entry: BootEntry; image: BootFile; disk: string };
}

export function profileFor(config: Pick<CocoonConfig, 'profiles'>, name: string): Profile | undefined {
  return config.profiles.find((p) => p.name === name);
}

function installEntry(urls: MachineUrls, envFiles: InstallEnvironment): BootEntry {
  return {
    kernel: bootFile(urls, envFiles.kernel),
    initrds: envFiles.initrds.map((f) => bootFile(urls, f)),
    assets: {},
    args: envFiles.args,
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
  installEnvironment?: InstallEnvironmentLookup,
): RenderContext {
  const enrolled = isMachineRecord(target);
  // A deep copy: templates may not change the stored (frozen) record or see a shared object.
  const machine: MachineRecord = enrolled ? structuredClone(target as MachineRecord) : placeholderRecord(target);
  if (!enrolled) machine.Profile = profile.name;
  const urls = machineUrls(request.baseUrl ?? bootBaseUrl(config), machine.Serial);
  const os = resolveMachineOs(config, profile, machine) ?? null;
  const envFiles: InstallEnvironment = { ...DEFAULT_INSTALL_ENVIRONMENT, initrds: [...DEFAULT_INSTALL_ENVIRONMENT.initrds], ...(installEnvironment?.(os ?? undefined) ?? {}) };
  const net = config.network;
  return {
    machine,
    enrolled,
    profile: structuredClone(profile),
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
    install: { entry: installEntry(urls, envFiles), image: bootFile(urls, envFiles.image), disk: profile.install_disk ?? '' },
  };
}
