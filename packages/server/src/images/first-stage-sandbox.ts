// Test helper for the first-stage script: a sandbox with a fixture /sys and /proc, files as
// disks, busybox applets (and node) as the only tools, and a way to run the script in it.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, open, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
export const AGENT_BUNDLE = path.join(REPO, 'packages/first-stage/dist/cocoon-agent.js');
export const MiB = 1024 * 1024;
export const SANDBOX_MACS = { eth0: '52:54:00:c0:c0:01', eth1: '52:54:00:c0:c0:02' };

export interface Sandbox {
  dir: string;
  root: string;
  devDir: string;
  disk: string;
  bin: string;
}

/**
 * Fixture tree: vda 64 MiB by default (the target), vdb 32 MiB but mounted as /, sdb removable 128 MiB; two
 * virtio NICs, eth0 carrying the default route; an ipmitool stub that reports a BMC address.
 */
export async function sandbox(t: { after: (fn: () => Promise<void>) => void }, opts: { vdaMiB?: number } = {}): Promise<Sandbox> {
  const vdaMiB = opts.vdaMiB ?? 64;
  const dir = await mkdtemp(path.join(tmpdir(), 'cocoon-install-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const root = path.join(dir, 'root');
  const blockDev = (name: string, sectors: number, removable: string): Record<string, string> => ({
    [`sys/devices/pci0000:00/${name}-ctrl/block/${name}/size`]: `${sectors}\n`,
    [`sys/devices/pci0000:00/${name}-ctrl/block/${name}/removable`]: `${removable}\n`,
    [`sys/devices/pci0000:00/${name}-ctrl/block/${name}/queue/rotational`]: '0\n',
  });
  const nicDev = (name: string, mac: string): Record<string, string> => ({
    [`sys/devices/pci0000:00/${name}-nic/net/${name}/address`]: `${mac}\n`,
    [`sys/devices/pci0000:00/${name}-nic/net/${name}/operstate`]: 'up\n',
  });
  const files: Record<string, string> = {
    'sys/class/dmi/id/product_serial': 'To Be Filled By O.E.M.\n',
    'sys/class/dmi/id/product_uuid': '8F1D2C3B-4A5E-6F70-8192-A3B4C5D6E7F8\n',
    'proc/mounts': 'rootfs / rootfs rw 0 0\n/dev/vdb1 / ext4 rw 0 0\nproc /proc proc rw 0 0\n',
    'proc/swaps': 'Filename\tType\tSize\tUsed\tPriority\n',
    'proc/sys/kernel/osrelease': '6.1.0-test\n',
    'proc/net/route': 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\neth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n',
    ...nicDev('eth0', SANDBOX_MACS.eth0),
    ...nicDev('eth1', SANDBOX_MACS.eth1),
    ...blockDev('vda', (vdaMiB * MiB) / 512, '0'),
    ...blockDev('vdb', (32 * MiB) / 512, '0'),
    ...blockDev('sdb', (128 * MiB) / 512, '1'),
  };
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await writeFile(path.join(root, rel), content);
  }
  await mkdir(path.join(root, 'sys/block'), { recursive: true });
  for (const name of ['vda', 'vdb', 'sdb']) {
    await symlink(`../devices/pci0000:00/${name}-ctrl/block/${name}`, path.join(root, 'sys/block', name));
    await symlink('../..', path.join(root, `sys/devices/pci0000:00/${name}-ctrl/block/${name}/device`));
  }
  await mkdir(path.join(root, 'sys/class/net'), { recursive: true });
  for (const name of ['eth0', 'eth1']) {
    await symlink(`../../devices/pci0000:00/${name}-nic/net/${name}`, path.join(root, 'sys/class/net', name));
    await symlink('../..', path.join(root, `sys/devices/pci0000:00/${name}-nic/net/${name}/device`));
  }
  const devDir = path.join(dir, 'dev');
  await mkdir(devDir);
  for (const [name, size] of [['vda', vdaMiB], ['vdb', 32], ['sdb', 128]] as const) await truncate(await touch(path.join(devDir, name)), size * MiB);
  // Only busybox applets and node: the script must not depend on anything else.
  const bin = path.join(dir, 'bin');
  await mkdir(bin);
  const r = spawnSync('busybox', ['--install', '-s', bin]);
  assert.equal(r.status, 0, String(r.stderr));
  await symlink(process.execPath, path.join(bin, 'node'));
  await writeFile(path.join(bin, 'ipmitool'), '#!/bin/sh\necho "IP Address Source       : Static Address"\necho "IP Address              : 10.99.7.21"\n', { mode: 0o755 });
  return { dir, root, devDir, disk: path.join(devDir, 'vda'), bin };
}

async function touch(file: string): Promise<string> {
  await (await open(file, 'w')).close();
  return file;
}

export function runScript(sb: Sandbox, script: string, extraEnv: Record<string, string> = {}, shell: string[] = ['busybox', 'sh']): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(shell[0]!, [...shell.slice(1), script], {
      env: {
        PATH: sb.bin,
        COCOON_ROOT: sb.root,
        COCOON_DEV_DIR: sb.devDir,
        COCOON_WORK: path.join(sb.dir, 'work'),
        COCOON_REBOOT: `touch ${path.join(sb.dir, 'rebooted')}`,
        COCOON_FAIL_ACTION: 'exit',
        COCOON_WAIT_TRIES: '2',
        COCOON_AGENT_TIMEOUT: '5',
        ...extraEnv,
      },
      stdio: ['ignore', 'inherit', 'pipe'],
      // A guard against a script that never ends (the bootstrap retries forever by design).
      timeout: 180_000,
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}


