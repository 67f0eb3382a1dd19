import path from 'node:path';
import { parseConfig, type CocoonConfig } from '../config/index.js';

/** The tests' lab network, 10.77.0.0/24: the server at .1, machines from .10, DHCP pool .100-.150. */
export const LAB_NETWORK = {
  pxe_interface: 'br0',
  bind_addr: '10.77.0.1',
  bootstrap_range: { start: '10.77.0.100', end: '10.77.0.150' },
  ip_range: { start: '10.77.0.10', end: '10.77.0.60' },
} as const;

/** A valid configuration for tests: the 10.77.0.0/24 lab network, state under `dir`. */
export function labConfig(dir: string, network: Record<string, unknown> = {}, more: Record<string, unknown> = {}): CocoonConfig {
  return parseConfig(
    {
      network: { ...LAB_NETWORK, ...network },
      auth: { mode: 'none' },
      default_os: { name: 'flatcar', version: 'current' },
      profiles: [{ name: 'default' }],
      paths: { state_dir: path.join(dir, 'state'), tftp_root: path.join(dir, 'tftp'), cluster_dir: path.join(dir, 'cluster') },
      ...more,
    },
    path.join(dir, 'cocoon.yaml'),
  );
}
