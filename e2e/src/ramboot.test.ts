// Scenario (issue 9): a diskless machine declared by MAC gets its declared address over DHCP,
// boots a RAM image (initramfs unpacks a root filesystem archive into tmpfs and switch_root's
// into it), reports in and is `running` with its boot count; `rescue` sends it to the rescue
// image once, and the boot after that is the RAM image again.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { linkSync, mkdirSync, copyFileSync } from 'node:fs';
import path from 'node:path';
import { writeManifest } from '@cocoon/server/images';
import { labSuite } from './harness/scenario.js';
import { E2E_DIR } from './harness/paths.js';
import type { Lab } from './harness/lab.js';

const LIVE_DIR = 'ram/1';
const RESCUE_DIR = 'rescue/1';

/** Builds (cached) the RAM image, root filesystem archive and rescue image next to the lab's assets. */
function ramAssets(lab: Lab): string {
  const r = spawnSync('bash', [path.join(E2E_DIR, 'assets', 'ram', 'build-ram-assets.sh'), lab.assets.dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build-ram-assets.sh failed (status ${r.status}): ${r.stderr}`);
  return r.stdout.trim().split('\n').pop() ?? '';
}

function place(src: string, dst: string): void {
  try {
    linkSync(src, dst);
  } catch {
    copyFileSync(src, dst);
  }
}

/** Lays the images out under the lab's images dir, each directory with its sha256 manifest. */
async function layoutRamImages(lab: Lab): Promise<void> {
  const built = ramAssets(lab);
  const images = path.join(lab.dir, 'images');
  const live = path.join(images, LIVE_DIR);
  const rescue = path.join(images, RESCUE_DIR);
  mkdirSync(live, { recursive: true });
  mkdirSync(rescue, { recursive: true });
  place(lab.assets.path('vmlinuz'), path.join(live, 'vmlinuz'));
  place(path.join(built, 'ram-initrd.cpio.gz'), path.join(live, 'initrd.cpio.gz'));
  place(path.join(built, 'ram-rootfs.cpio.gz'), path.join(live, 'rootfs.cpio.gz'));
  await writeManifest(live, { os: 'ram', version: '1' });
  place(lab.assets.path('vmlinuz'), path.join(rescue, 'vmlinuz'));
  place(path.join(built, 'rescue-initrd.cpio.gz'), path.join(rescue, 'initrd.cpio.gz'));
  await writeManifest(rescue, { os: 'rescue', version: '1' });
}

const KERNEL_ARGS = 'console=ttyS0,115200n8 quiet panic=-1';

describe('diskless RAM boot, declared machine, rescue', () => {
  const suite = labSuite({
    purpose: 'ramboot',
    config: {
      profiles: [
        { name: 'default', template: 'default' },
        {
          name: 'ram',
          template: 'default',
          boot: 'live',
          live: {
            kernel: `${LIVE_DIR}/vmlinuz`,
            initrds: [`${LIVE_DIR}/initrd.cpio.gz`],
            args: 'cocoon.rootfs={{ assets["rootfs.cpio.gz"] }}',
            assets: [`${LIVE_DIR}/rootfs.cpio.gz`],
          },
        },
      ],
      rescue: { kernel: `${RESCUE_DIR}/vmlinuz`, initrds: [`${RESCUE_DIR}/initrd.cpio.gz`], args: KERNEL_ARGS },
    },
  });

  test('declared by MAC -> declared IP over DHCP -> RAM image, rootfs in tmpfs, no disk -> running; rescue once, then RAM again', { skip: suite.skip, timeout: 600_000 }, suite.step(async (lab) => {
    await layoutRamImages(lab);
    const m = await lab.addMachine({ diskless: true, memoryMiB: 512 });
    const ip = lab.net.address.split('.').slice(0, 3).concat('42').join('.');
    const add = await lab.cocoonctl(['add', '--mac', m.spec.mac, '--hostname', 'ram-1', '--ip', ip, '--profile', 'ram', '--reason', 'e2e rack', '--json']);
    assert.equal(add.code, 0, add.stderr);
    const serial = (JSON.parse(add.stdout) as { Serial: string }).Serial;

    // Boot 1: the RAM image.
    m.powerOn();
    const done = await m.waitForConsole(/COCOON-E2E-RAM-BOOT-COMPLETE serial=(\S+) rootfs=(\S+) disks=\[([^\]]*)\]/, 300_000);
    assert.equal(done[1], serial);
    assert.equal(done[2], 'tmpfs', 'the root filesystem is the unpacked archive in tmpfs');
    assert.equal(done[3]?.trim(), '', 'no block device: the machine has no disk');
    assert.match(m.consoleSinceBoot(), new RegExp(`ram-initrd: \\S+ has ${ip.replace(/\./g, '\\.')}`), 'the declared address came over DHCP');
    await m.waitPoweredOff(60_000);
    let rec = await lab.record(serial);
    assert.equal(rec?.State, 'running');
    assert.equal(rec?.BootCount, 1);
    assert.equal(rec?.InternalAddr, ip);
    assert.equal(rec?.Hostname, 'ram-1');
    assert.equal(rec?.OSVersion, undefined, 'the OS report did not touch the operator field');

    // Rescue: the next boot only.
    const rescue = await lab.cocoonctl(['rescue', serial, '--reason', 'e2e memtest']);
    assert.equal(rescue.code, 0, rescue.stderr);
    m.powerOn();
    const r = await m.waitForConsole(/COCOON-E2E-RESCUE serial=(\S+) rescue=(\S+)/, 300_000);
    assert.deepEqual([r[1], r[2]], [serial, '1']);
    await m.waitPoweredOff(60_000);
    rec = await lab.record(serial);
    assert.equal(rec?.RescuePending, undefined);
    assert.equal(rec?.BootCount, 1, 'the rescue image does not count as a boot of the OS');

    // And back to the RAM image.
    m.powerOn();
    await m.waitForConsole(/COCOON-E2E-RAM-BOOT-COMPLETE/, 300_000);
    await m.waitPoweredOff(60_000);
    rec = await lab.record(serial);
    assert.equal(rec?.BootCount, 2);
    const history = (await lab.history(serial)).map((h) => h.message).join('\n');
    assert.match(history, /rescue boot requested/);
    assert.match(history, /rescue boot served/);
    assert.match(history, /declared \(mac /);
  }));
});
