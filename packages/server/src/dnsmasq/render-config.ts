import path from 'node:path';
import { fileURLToPath } from 'node:url';
import nunjucks from 'nunjucks';
import type { CocoonConfig } from '../config/types.js';
import { CocoonError } from '../util/errors.js';
import { intToIp, isIPv4, networkBounds, prefixToNetmask } from '../util/ipv4.js';
import type { DnsmasqPaths } from './paths.js';

/** The built-in template, `dnsmasq/dnsmasq.conf.njk` at the top of the repository. */
export const BUILTIN_DNSMASQ_TEMPLATE = fileURLToPath(new URL('../../../../dnsmasq/dnsmasq.conf.njk', import.meta.url));

/** Boot file names (relative to the TFTP root) per firmware kind; absent = not answered. */
export interface BootFiles {
  bios?: string;
  uefi?: string;
  arm64?: string;
}

/** Everything the template sees. Values are checked to be single-line and comma-free where dnsmasq splits on commas. */
export interface DnsmasqTemplateContext {
  template_name: string;
  interface: string;
  bind_addr: string;
  dns_port: number;
  proxy: boolean;
  network_address: string;
  netmask: string;
  range: { start: string; end: string };
  lease_time: string;
  router: string | null;
  dns: string[];
  /** Only the NTP servers given as IPv4 addresses (DHCP option 42 carries addresses). */
  ntp: string[];
  lease_file: string;
  hosts_dir: string;
  tftp_root: string;
  fast_test_network: boolean;
  /** network.ping_check (off also under fast_test_network). */
  ping_check: boolean;
  ipxe_url: string;
  boot: { bios: string | null; uefi: string | null; arm64: string | null };
  extra: string[];
  /** The whole Cocoon configuration, for operator templates that need more. */
  config: CocoonConfig;
}

function safeValue(field: string, value: string, allowComma = false): string {
  if (/[\r\n\0]/.test(value) || (!allowComma && value.includes(','))) {
    throw new CocoonError('invalid', `${field}: ${JSON.stringify(value)} cannot go into dnsmasq.conf (no line breaks${allowComma ? '' : ' or commas'})`, field);
  }
  return value;
}

export function dnsmasqTemplateContext(config: CocoonConfig, paths: DnsmasqPaths, tftpRoot: string, boot: BootFiles): DnsmasqTemplateContext {
  const net = config.network;
  const { network } = networkBounds(net.bind_addr, net.subnet_size);
  const ipxeUrl = `${config.http.boot.public_url}/ipxe`;
  if (/[\s,]/.test(ipxeUrl)) {
    throw new CocoonError('invalid', `http.boot.public_url: ${JSON.stringify(config.http.boot.public_url)} cannot be a DHCP boot file name (no spaces or commas)`, 'http.boot.public_url');
  }
  return {
    template_name: path.basename(config.dnsmasq.template ?? BUILTIN_DNSMASQ_TEMPLATE),
    interface: net.pxe_interface,
    bind_addr: net.bind_addr,
    dns_port: net.dns_port,
    proxy: net.proxy_dhcp,
    network_address: intToIp(network),
    netmask: prefixToNetmask(net.subnet_size),
    range: { start: net.bootstrap_range.start, end: net.bootstrap_range.end },
    lease_time: net.lease_time,
    router: net.router ?? null,
    dns: [...net.dns],
    ntp: net.ntp.filter(isIPv4),
    lease_file: safeValue('paths.state_dir', paths.leaseFile),
    hosts_dir: safeValue('paths.state_dir', paths.hostsDir),
    tftp_root: safeValue('paths.tftp_root', tftpRoot),
    fast_test_network: net.fast_test_network,
    ping_check: net.ping_check && !net.fast_test_network,
    ipxe_url: ipxeUrl,
    boot: {
      bios: boot.bios ? safeValue('paths.tftp_root', boot.bios) : null,
      uefi: boot.uefi ? safeValue('paths.tftp_root', boot.uefi) : null,
      arm64: boot.arm64 ? safeValue('paths.tftp_root', boot.arm64) : null,
    },
    extra: config.dnsmasq.extra.map((l, i) => safeValue(`dnsmasq.extra[${i}]`, l, true)),
    config,
  };
}

/**
 * Render dnsmasq.conf from the configured template (or the built-in one). Template errors are
 * `CocoonError` kind `invalid` on field `dnsmasq.template`, naming the file and nunjucks' reason.
 */
export function renderDnsmasqConfig(config: CocoonConfig, paths: DnsmasqPaths, tftpRoot: string, boot: BootFiles): string {
  const file = config.dnsmasq.template ?? BUILTIN_DNSMASQ_TEMPLATE;
  const ctx = dnsmasqTemplateContext(config, paths, tftpRoot, boot);
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(path.dirname(file), { noCache: true }), {
    autoescape: false,
    throwOnUndefined: true,
    trimBlocks: true,
    lstripBlocks: true,
  });
  let text: string;
  try {
    text = env.render(path.basename(file), ctx);
  } catch (err) {
    const reason = err instanceof Error ? err.message.replace(/^\(unknown path\)\s*/, '') : String(err);
    throw new CocoonError('invalid', `dnsmasq template ${file}: ${reason}`, 'dnsmasq.template', { cause: err });
  }
  // Collapse the blank lines left by conditional blocks; dnsmasq does not care, readers do.
  return `${text.replace(/\n{3,}/g, '\n\n').trim()}\n`;
}
