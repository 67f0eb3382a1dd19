import { test, before, after } from 'node:test';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { writeManifest } from '../images/manifest.js';
import type { MachineRecord } from '../store/types.js';
import type { Problem } from './problem.js';
import { ADMIN_TOKEN, agentFacts, json, rawRequest, startTestServer, type TestServer } from './testing.js';

// A diskless fleet: a live profile with its own kernel, two initrds and a root filesystem archive
// (with a manifest: checksums), a rescue image, and one machine declared in the config.
const ROOTFS = Buffer.alloc(300_000, 5);
let s: TestServer;
let imagesDir = '';
before(async () => {
  s = await startTestServer((doc) => {
    const paths = doc['paths'] as { images_dir: string };
    imagesDir = paths.images_dir;
    const live = path.join(imagesDir, 'ram', '1');
    mkdirSync(live, { recursive: true });
    writeFileSync(path.join(live, 'vmlinuz'), 'ram kernel');
    writeFileSync(path.join(live, 'initrd.cpio.gz'), 'ram initrd');
    writeFileSync(path.join(live, 'modules.cpio.gz'), 'ram modules');
    writeFileSync(path.join(live, 'rootfs.tar.gz'), ROOTFS);
    const rescue = path.join(imagesDir, 'rescue');
    mkdirSync(rescue, { recursive: true });
    writeFileSync(path.join(rescue, 'vmlinuz'), 'rescue kernel');
    writeFileSync(path.join(rescue, 'initrd.gz'), 'rescue initrd');
    doc['profiles'] = [
      { name: 'default' },
      {
        name: 'ram',
        boot: 'live',
        live: {
          kernel: 'ram/1/vmlinuz',
          initrds: ['ram/1/initrd.cpio.gz', 'ram/1/modules.cpio.gz'],
          args: 'rdinit=/init cocoon.rootfs={{ assets["rootfs.tar.gz"] }} hostname={{ machine.Hostname }}',
          assets: ['ram/1/rootfs.tar.gz'],
        },
      },
    ];
    doc['rescue'] = { kernel: 'rescue/vmlinuz', initrds: ['rescue/initrd.gz'], args: 'console=ttyS0' };
    doc['machines'] = [{ mac: '52:54:00:77:00:01', hostname: 'ram-cfg', ip: '10.99.1.200', profile: 'ram' }];
  });
  await writeManifest(path.join(imagesDir, 'ram', '1'), { os: 'ram', version: '1' });
});
after(() => s.close());

const boot = (method: string, p: string, opts: { headers?: Record<string, string>; body?: string } = {}) => rawRequest(s.bootPort, method, p, opts);
const api = (method: string, p: string, body?: unknown) =>
  rawRequest(s.apiPort, method, p, { headers: json(ADMIN_TOKEN), ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
const history = (serial: string): string[] =>
  execFileSync('git', ['-C', path.join(s.dir, 'cluster'), 'log', '--format=%s', '--', serial], { encoding: 'utf8' }).trim().split('\n');

test('declare through the API: conflicts are refused naming the field; the declared machine boots its live image', async () => {
  const bad = async (body: Record<string, unknown>, status: number, field: string): Promise<void> => {
    const r = await api('POST', '/api/v1/machines', { reason: 'rack 7', ...body });
    assert.equal(r.status, status, r.text);
    assert.equal(r.json<Problem>().field, field, r.text);
  };
  let r = await api('POST', '/api/v1/machines', { mac: '52:54:00:77:00:02', hostname: 'ram-2', ip: '10.99.1.201', profile: 'ram', reason: 'rack 7' });
  assert.equal(r.status, 201, r.text);
  const serial = r.json<MachineRecord>().Serial;
  await bad({ mac: '52:54:00:77:00:02', serial: 'other' }, 409, 'mac');
  await bad({ mac: '52:54:00:77:00:01' }, 409, 'mac');
  await bad({ mac: '52:54:00:77:00:03', ip: '10.99.1.201' }, 409, 'ip');
  await bad({ mac: '52:54:00:77:00:03', ip: '10.99.9.9' }, 400, 'ip');
  await bad({ mac: '52:54:00:77:00:03', profile: 'gpu' }, 400, 'profile');

  // First boot: the live script with the declared name; kernel, both initrds, the rootfs URL.
  r = await boot('GET', '/ipxe/machine?serial=&uuid=&mac=52:54:00:77:00:02&arch=x86_64');
  assert.equal(r.status, 200, r.text);
  const base = `http://127.0.0.1:4081/images/${serial}/ram/1`;
  assert.match(r.text, new RegExp(`^kernel ${base}/vmlinuz initrd=initrd\\.cpio\\.gz initrd=modules\\.cpio\\.gz .*cocoon\\.rootfs=${base}/rootfs\\.tar\\.gz hostname=ram-2 `, 'm'));
  assert.match(r.text, new RegExp(`^initrd --name modules\\.cpio\\.gz ${base}/modules\\.cpio\\.gz `, 'm'));

  // The archive: streamed with Range, the manifest's sha256 as a strong ETag.
  const sha = createHash('sha256').update(ROOTFS).digest('hex');
  r = await boot('GET', `/images/${serial}/ram/1/rootfs.tar.gz`, { headers: { range: 'bytes=100-199' } });
  assert.equal(r.status, 206);
  assert.equal(r.body.length, 100);
  assert.equal(r.headers['etag'], `"${sha}"`);
  r = await boot('GET', `/images/${serial}/ram/1/rootfs.tar.gz`);
  assert.equal(createHash('sha256').update(r.body).digest('hex'), sha);
  // A file the manifest does not list is not served, even under the live image's directory.
  writeFileSync(path.join(imagesDir, 'ram', '1', 'vmlinuz.unlisted'), 'x');
  assert.equal((await boot('GET', `/images/${serial}/ram/1/vmlinuz.unlisted`)).status, 404);

  // The OS reports in on every boot: running, BootCount, LastBoot; it cannot touch operator fields.
  const report = (versions: Record<string, string>) => boot('POST', `/machines/${serial}/boot-complete`, { headers: json(), body: JSON.stringify({ versions }) });
  assert.equal((await report({ os: '12', OSVersion: '99', Profile: 'default' })).status, 204);
  assert.equal((await report({})).status, 204);
  const m = s.store.get(serial);
  assert.deepEqual([m?.State, m?.BootCount, m?.Profile, m?.OSVersion], ['running', 2, 'ram', undefined]);
  assert.ok(m?.LastBoot && m.LastBoot > '2020');
  // Live machines boot live again (never their disk).
  r = await boot('GET', '/ipxe/machine?mac=52:54:00:77:00:02');
  assert.match(r.text, /boots live \(profile ram\)/);
});

test('a machine declared in the config boots live on first boot, with its declared name', async () => {
  const r = await boot('GET', '/ipxe/machine?mac=52:54:00:77:00:01');
  assert.equal(r.status, 200, r.text);
  assert.match(r.text, /hostname=ram-cfg /);
  assert.ok(s.store.byMac('52:54:00:77:00:01')?.Declared);
});

test('rescue: one-shot, then back to the profile; recorded in the history both ways', async () => {
  let r = await api('POST', '/api/v1/machines', { mac: '52:54:00:77:00:10', hostname: 'ram-10', profile: 'ram', reason: 'rack 7' });
  const serial = r.json<MachineRecord>().Serial;
  r = await api('POST', `/api/v1/machines/${serial}/rescue`, { reason: 'memtest' });
  assert.equal(r.status, 200, r.text);
  r = await boot('GET', '/ipxe/machine?mac=52:54:00:77:00:10');
  assert.match(r.text, /boots the rescue image/);
  assert.match(r.text, new RegExp(`^kernel http://127\\.0\\.0\\.1:4081/images/${serial}/rescue/vmlinuz initrd=initrd\\.gz .*cocoon\\.rescue=1`, 'm'));
  assert.equal(s.store.get(serial)?.RescuePending, undefined);
  r = await boot('GET', '/ipxe/machine?mac=52:54:00:77:00:10');
  assert.match(r.text, /boots live \(profile ram\)/);
  const h = history(serial);
  assert.equal(h[0], `${serial}: rescue boot served (next boot: its profile again)`);
  assert.equal(h[1], `${serial}: rescue boot requested`);
  assert.ok(s.events.timeline(serial).some((e) => e.type === 'rescue-served'));
});

test('failsafe: a script that cannot be rendered falls back to the rescue image; recorded once; cleared when fixed', async () => {
  let r = await boot('POST', '/enroll', { headers: json(), body: JSON.stringify(agentFacts('FS-1', '52:54:00:77:00:20')) });
  assert.equal(r.status, 200, r.text);
  assert.equal((await boot('POST', '/machines/fs-1/installed', { headers: json(), body: '{}' })).status, 204);
  // An override the local-disk template refuses: this machine's script cannot be rendered.
  r = await api('PUT', '/api/v1/machines/fs-1/overrides/local_boot', { value: 'floppy', reason: 'typo' });
  assert.equal(r.status, 200, r.text);
  for (let i = 0; i < 2; i++) {
    r = await boot('GET', '/ipxe/machine?serial=FS-1&mac=52:54:00:77:00:20');
    assert.equal(r.status, 200, r.text);
    assert.match(r.text, /^#!ipxe\n/);
    assert.match(r.text, /^echo Cocoon: FAILSAFE for fs-1/m);
    assert.match(r.text, /^echo Cocoon: .*local_boot must be/m);
    assert.match(r.text, /^kernel http:\/\/127\.0\.0\.1:4081\/images\/fs-1\/rescue\/vmlinuz initrd=initrd\.gz cocoon\.server=http:\/\/127\.0\.0\.1:4081 cocoon\.serial=fs-1 cocoon\.failsafe=1 console=ttyS0 \|\| goto failed$/m);
    assert.match(r.text, /^chain --autofree http:\/\/127\.0\.0\.1:4081\/ipxe \|\| goto failed$/m);
  }
  assert.match(String(s.store.get('fs-1')?.Failsafe), /local_boot must be/);
  assert.equal(s.events.timeline('fs-1').filter((e) => e.type === 'failsafe').length, 2);
  assert.equal(history('fs-1').filter((l) => l.includes('failsafe boot')).length, 1, 'one history entry per distinct error');
  r = await api('DELETE', '/api/v1/machines/fs-1/overrides/local_boot?reason=fixed');
  assert.equal(r.status, 200, r.text);
  r = await boot('GET', '/ipxe/machine?serial=FS-1&mac=52:54:00:77:00:20');
  assert.match(r.text, /booting from the local disk/);
  assert.equal(s.store.get('fs-1')?.Failsafe, undefined);
  assert.equal(history('fs-1')[0], 'fs-1: failsafe cleared: its boot script renders again');
});
