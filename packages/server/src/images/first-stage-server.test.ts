// The machine side against the real Cocoon server (store + git, provisioner, renderer, boot port
// on loopback): the agent bundle enrolls a machine, and the rendered first-stage script installs
// one end to end in a busybox sandbox.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startTestServer, type TestServer } from '../http/testing.js';
import { writeManifest } from './manifest.js';
import { AGENT_BUNDLE, MiB, SANDBOX_MACS, runScript, sandbox } from './first-stage-sandbox.js';

async function server(t: { after: (fn: () => Promise<void>) => void }): Promise<TestServer> {
  const s = await startTestServer();
  t.after(() => s.close());
  // The test config names port 4081; the listener is ephemeral. Scripts must point at it.
  s.config.http.boot.public_url = s.bootUrl;
  // The real agent instead of the stand-in the HTTP tests serve.
  await copyFile(AGENT_BUNDLE, path.join(s.dir, 'agent', 'cocoon-agent.js'));
  return s;
}

test('agent bundle against the real server: the machine is enrolled with its MACs, connected NIC, IPMI address and facts', async (t) => {
  const s = await server(t);
  const sb = await sandbox(t);
  const agent = path.join(sb.dir, 'cocoon-agent.js');
  await copyFile(AGENT_BUNDLE, agent);
  const out = path.join(sb.dir, 'config.ign');
  const info = path.join(sb.dir, 'info');
  const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [agent, '--server', s.bootUrl, '--root', sb.root, '--serial-hint', 'hint-1', '--out', out, '--info', info], {
      env: { PATH: sb.bin }, // ipmitool here is the sandbox's stub
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 120_000,
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code) => resolve({ code, stderr }));
  });
  assert.equal(r.code, 0, r.stderr);

  // DMI product serial is junk in the sandbox: the server files the machine under its UUID.
  const serial = '8f1d2c3b-4a5e-6f70-8192-a3b4c5d6e7f8';
  assert.equal(await readFile(info, 'utf8'), `COCOON_SERIAL='${serial}'\nCOCOON_CONFIG_TYPE='application/vnd.coreos.ignition+json'\n`);
  const config = JSON.parse(await readFile(out, 'utf8')) as { ignition: { version: string } };
  assert.match(config.ignition.version, /^3\./);
  const m = s.store.get(serial);
  assert.ok(m, 'the machine is enrolled');
  assert.equal(m.State, 'installing');
  assert.deepEqual([...m.MacAddresses].sort(), [SANDBOX_MACS.eth0, SANDBOX_MACS.eth1]);
  assert.equal(m.ConnectedNIC, 'eth0');
  assert.equal(m.IPMIAddr, '10.99.7.21');
  const hw = m.Hardware as { kernel?: string; disks?: { name: string }[]; nics?: { name: string }[] };
  assert.equal(hw.kernel, '6.1.0-test');
  assert.deepEqual(hw.disks?.map((d) => d.name), ['sdb', 'vda', 'vdb']);
  assert.deepEqual(hw.nics?.map((n) => n.name), ['eth0', 'eth1']);
});

test('first-stage script from the real server: enroll, stream + verify the manifest image, place the config, installed', async (t) => {
  const s = await server(t);
  const sb = await sandbox(t);
  // A real compressed image in place of the HTTP tests' filler, with its manifest rewritten.
  const version = path.join(s.dir, 'images', 'flatcar', '1.0.0');
  const raw = randomBytes(2 * MiB);
  const bz2 = spawnSync('bzip2', ['-c'], { input: raw, maxBuffer: 64 * MiB }).stdout;
  await writeFile(path.join(version, 'install_image.bin.bz2'), bz2);
  await writeManifest(version, { os: 'flatcar', version: '1.0.0', kernel: 'vmlinuz', initrd: 'initrd.cpio.gz', install: 'install_image.bin.bz2' });

  const script = path.join(sb.dir, 'first-stage.sh');
  const res = await fetch(`${s.bootUrl}/first-stage/to-be-filled-by-o-e-m`);
  assert.equal(res.status, 200);
  await writeFile(script, await res.text());
  const r = await runScript(sb, script);
  assert.equal(r.code, 0, r.stderr);

  const serial = '8f1d2c3b-4a5e-6f70-8192-a3b4c5d6e7f8';
  const m = s.store.get(serial);
  assert.equal(m?.State, 'installed');
  const disk = await readFile(sb.disk);
  assert.ok(disk.subarray(0, raw.length).equals(raw), 'the image is on the disk');
  const served = await (await fetch(`${s.bootUrl}/config/${serial}`)).text();
  const header = `COCOON-CONFIG ${Buffer.byteLength(served)}\n`;
  assert.equal(disk.subarray(disk.length - MiB, disk.length - MiB + header.length + Buffer.byteLength(served)).toString(), header + served);
  const progress = s.events.timeline(serial).filter((e) => e.type === 'progress').map((e) => e.message);
  const sum = createHash('sha256').update(bz2).digest('hex');
  for (const expected of [`installing install_image.bin.bz2 (sha256 ${sum}) to ${sb.disk}`, `image written to ${sb.disk} and verified`]) {
    assert.ok(progress.some((p) => p.includes(expected)), `progress "${expected}" in ${JSON.stringify(progress)}`);
  }
});
