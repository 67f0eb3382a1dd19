/** The validated configuration, with every default filled in and every path absolute. */

export interface IpRange {
  start: string;
  end: string;
}

export interface OsRef {
  name: string;
  version: string;
  channel?: string;
}

export interface BootImage {
  kernel: string;
  initrds: string[];
  args: string;
  assets: string[];
}

export type BootFlow = 'install' | 'live';
export type ConfigFormat = 'ignition' | 'cloud-config';

export interface Profile {
  name: string;
  /** undefined = no limit */
  quantity?: number;
  tags: string[];
  os?: OsRef;
  boot: BootFlow;
  template: string;
  config_format: ConfigFormat;
  install_disk?: string;
  live?: BootImage;
  templates_env: Record<string, unknown>;
}

export interface DeclaredMachine {
  mac: string;
  serial?: string;
  hostname?: string;
  ip?: string;
  profile?: string;
}

export interface TokenConfig {
  name: string;
  token: string;
  scope: 'read' | 'admin';
}

export interface NetworkConfig {
  pxe_interface: string;
  bind_addr: string;
  bootstrap_range: IpRange;
  lease_time: string;
  ip_range: IpRange;
  subnet_size: number;
  subnet_gateway?: string;
  router?: string;
  dns: string[];
  ntp: string[];
  dns_port: number;
  proxy_dhcp: boolean;
  firmware: { bios: boolean; uefi: boolean; arm64: boolean };
  host_policy: 'answer' | 'ignore-installed';
  static_leases: boolean;
  ping_check: boolean;
  fast_test_network: boolean;
}

export interface CocoonConfig {
  /** Absolute path of the file this was read from ('' when built in code). */
  source: string;
  network: NetworkConfig;
  http: {
    boot: { listen: string; port: number; public_url: string };
    api: { listen: string; port: number; tls?: { cert: string; key: string }; max_body: string };
  };
  auth: {
    mode: 'tokens' | 'none';
    tokens: TokenConfig[];
    compat_admin: 'open' | 'token' | 'off';
  };
  profiles: Profile[];
  default_os?: OsRef;
  templates_env: Record<string, unknown>;
  paths: {
    cluster_dir: string;
    images_dir: string;
    tftp_root: string;
    templates_dir?: string;
    state_dir: string;
    agent_dir?: string;
  };
  git: { enabled: boolean; author_name: string; author_email: string };
  dnsmasq: { enabled: boolean; binary: string; template?: string; extra: string[]; netns?: string };
  machines: DeclaredMachine[];
  rescue?: BootImage;
  events: { timeline_size: number; max_timelines: number; max_events: number };
  log: { level: 'error' | 'warn' | 'info' | 'debug'; format: 'json' | 'text' };
}
