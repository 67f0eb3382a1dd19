import path from 'node:path';
import type { CocoonConfig } from '../config/types.js';

/** Where the server keeps dnsmasq's runtime files (all under paths.state_dir). */
export interface DnsmasqPaths {
  /** The configuration dnsmasq runs with (replaced only after `dnsmasq --test` accepted it). */
  confFile: string;
  /** A candidate configuration while it is being tested. */
  candidateFile: string;
  hostsDir: string;
  leaseFile: string;
  pidFile: string;
}

export function dnsmasqPaths(config: CocoonConfig): DnsmasqPaths {
  const dir = config.paths.state_dir;
  return {
    confFile: path.join(dir, 'dnsmasq.conf'),
    candidateFile: path.join(dir, '.dnsmasq.conf.candidate'),
    hostsDir: path.join(dir, 'dhcp-hosts.d'),
    leaseFile: path.join(dir, 'dnsmasq.leases'),
    pidFile: path.join(dir, 'dnsmasq.pid'),
  };
}
