import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from '../config/load.js';
import type { CocoonConfig } from '../config/types.js';
import type { MachineRecord } from '../store/types.js';
import { sampleMachine } from './self-test.js';
import { LAB_NETWORK } from '../testing/lab-config.js';
import { tempDir } from '../testing/temp-dir.js';

/**
 * A fixed configuration for render tests and golden files: every profile kind (install, live from
 * the OS, live with its own image, cloud-config), a rescue image and templates_env values.
 */
export function renderTestConfig(extra: Record<string, unknown> = {}): CocoonConfig {
  return parseConfig(
    {
      network: {
        ...LAB_NETWORK,
        subnet_size: 24,
        subnet_gateway: '10.77.0.1',
        dns: ['10.77.0.1'],
        ntp: ['pool.ntp.org'],
      },
      http: { boot: { public_url: 'http://10.77.0.1:4081' } },
      auth: { mode: 'none' },
      default_os: { name: 'flatcar', version: '3975.2.0', channel: 'stable' },
      profiles: [
        { name: 'control-plane', quantity: 3, tags: ['control-plane'], templates_env: { role: 'control-plane' } },
        { name: 'flatcar-live', boot: 'live' },
        {
          name: 'ram',
          boot: 'live',
          os: { name: 'debian', version: '12' },
          live: {
            kernel: 'debian/12/vmlinuz',
            initrds: ['debian/12/initrd.gz'],
            args: 'root=/dev/ram0 cocoon.rootfs={{ assets["rootfs.tar.zst"] }} hostname={{ machine.Hostname }}',
            assets: ['debian/12/rootfs.tar.zst'],
          },
        },
        { name: 'ubuntu', config_format: 'cloud-config', os: { name: 'ubuntu', version: '24.04' } },
        { name: 'default', templates_env: { role: 'worker' } },
      ],
      templates_env: {
        ssh_authorized_keys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOperatorKey operator@lab'],
        cluster_name: 'lab',
        kernel_args: 'console=ttyS0,115200n8',
        nested: { a: 1, b: { c: 2 } },
      },
      rescue: { kernel: 'rescue/vmlinuz', initrds: ['rescue/initrd.gz'], args: 'rescue.banner=cocoon' },
      ...extra,
    },
    '/etc/cocoon/config.yaml',
  );
}

/** An enrolled machine with fixed, realistic values. */
export function testMachine(config: CocoonConfig, fields: Partial<MachineRecord> = {}): MachineRecord {
  const profile = config.profiles.find((p) => p.name === (fields.Profile ?? 'control-plane'));
  if (!profile) throw new Error(`no profile ${fields.Profile}`);
  return {
    ...sampleMachine(config, profile, 'installing'),
    Serial: 'vm-0001',
    MacAddresses: ['52:54:00:12:34:01', '52:54:00:12:34:02'],
    InternalAddr: '10.77.0.10',
    Hostname: 'node-0001',
    MachineID: '5f6e2c3a9b8d4e1f8a7b6c5d4e3f2a1b',
    ConnectedNIC: 'ens4',
    IPMIAddr: '10.78.0.10',
    Hardware: {
      nics: [
        { name: 'ens3', mac: '52:54:00:12:34:01' },
        { name: 'ens4', mac: '52:54:00:12:34:02' },
      ],
    },
    ...fields,
  };
}

/** A temporary operator templates dir with the given files (name -> content). */
export function operatorTemplates(files: Record<string, string>): string {
  const dir = tempDir('cocoon-templates-');
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
  return dir;
}
