// Self-checks of the e2e harness that need no Cocoon server: namespace isolation and cleanup,
// the guest assets, and the QEMU launcher booting the "installed OS" from its disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, truncateSync, mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { createNetwork } from './harness/netns.js';
import { ensureAssets } from './harness/assets.js';
import { chooseAccel, Machine } from './harness/qemu.js';
import { spawnManaged } from './harness/proc.js';
import { labPrerequisites } from './harness/lab.js';
import { waitFor } from './harness/wait.js';

const missing = labPrerequisites();

function netnsPids(name: string): number[] {
  return execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).split(/\s+/).filter(Boolean).map(Number);
}

function netnsExists(name: string): boolean {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').some((l) => l.split(' ')[0] === name);
}

test('a lab network is private and leaves nothing behind', { skip: missing }, async () => {
  const net = await createNetwork({ purpose: 'e2e-selftest' });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cocoon-e2e-'));
  try {
    const tap = await net.addTap();
    const links = execFileSync('ip', ['-n', net.name, '-o', 'link'], { encoding: 'utf8' });
    assert.match(links, new RegExp(`${tap}.*master ${net.bridge}`));
    // no route out: the namespace knows only its own subnet
    const routes = execFileSync('ip', ['-n', net.name, '-4', 'route'], { encoding: 'utf8' }).trim();
    assert.doesNotMatch(routes, /default/);
    assert.equal(routes.split('\n').length, 1, routes);
    // the bridge address is not on the host
    const hostAddrs = execFileSync('ip', ['-o', 'addr'], { encoding: 'utf8' });
    assert.ok(netnsExists(net.name));
    const sleeper = spawnManaged('sleeper', 'sleep', ['600'], { netns: net.name, stdoutFile: path.join(dir, 'sleep.log') });
    try {
      await waitFor('the sleeper to be inside the namespace', () => (netnsPids(net.name).includes(sleeper.pid) ? true : undefined), { timeoutMs: 10_000, intervalMs: 50 });
    } finally {
      // do not let a failed wait leave a 10-minute sleep behind
      if (!netnsPids(net.name).includes(sleeper.pid)) await sleeper.stop(100);
    }
    await net.destroy();
    assert.equal(netnsExists(net.name), false);
    const exit = await sleeper.exited;
    assert.equal(exit.signal, 'SIGKILL', 'a process left in the namespace is killed with it');
    assert.doesNotMatch(hostAddrs, new RegExp(`inet ${net.address.replace(/\./g, '\\.')}/${net.prefix} .*${net.bridge}`));
  } finally {
    await net.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the installed-OS disk boots from its disk under SeaBIOS', { skip: missing, timeout: 300_000 }, async (t) => {
  const assets = await ensureAssets({ progress: (l) => t.diagnostic(l) });
  const net = await createNetwork({ purpose: 'e2e-diskboot' });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cocoon-e2e-'));
  try {
    const accel = await chooseAccel(assets, dir);
    const tap = await net.addTap();
    const m = new Machine(
      { name: 'diskboot', serial: 'e2e-diskboot', uuid: 'c0c00000-0000-4000-8000-00000000ff01', mac: '52:54:00:e2:ff:01', firmware: 'bios', memoryMiB: 256, netBoot: false },
      net,
      tap,
      path.join(dir, 'm'),
      accel,
    );
    copyFileSync(assets.path('os-disk.img'), m.disk);
    truncateSync(m.disk, 64 * 1024 * 1024);
    m.powerOn();
    await m.waitForConsole(/COCOON-E2E os: init at/, 180_000);
    await m.powerOff();
    assert.match(m.console(), /SYSLINUX/);
    assert.equal(readFileSync(m.disk).subarray(510, 512).toString('hex'), '55aa', 'the disk carries a boot signature');
  } finally {
    await net.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
