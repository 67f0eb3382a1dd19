import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gitCli, openTestStore, report, tempDir, testConfig } from '../testing/store-fixtures.js';
import { CocoonError } from '../util/errors.js';
import type { LifecycleEvent } from './events.js';
import { Provisioner } from './provisioner.js';

const kindIs = (kind: string, field?: string) => (err: unknown) => {
  assert.ok(err instanceof CocoonError, String(err));
  assert.equal(err.kind, kind, err.message);
  if (field !== undefined) assert.equal(err.field, field, err.message);
  return true;
};

/** A rescue image: requesting rescue is refused without one. */
const RESCUE = { kernel: 'rescue/vmlinuz', initrds: ['rescue/initrd.gz'] };

test('install lifecycle: installed, boot-complete with versions, failure with its reason, checked transitions', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const store = await openTestStore(dir);
  const events: LifecycleEvent[] = [];
  const p = new Provisioner(store, testConfig(), { publish: (e: LifecycleEvent) => events.push(e) });
  const m = await p.enroll(report(1));
  p.reportProgress(m.Serial, 'writing image');
  await assert.rejects(p.bootComplete(m.Serial, {}), kindIs('conflict', 'State'), 'installing -> running is not allowed for install profiles');
  const inst = await p.reportInstalled(m.Serial);
  assert.equal(inst.State, 'installed');
  assert.ok(inst.InstalledAt);
  assert.equal((await p.reportInstalled(m.Serial)).InstalledAt, inst.InstalledAt, 'a repeated report is idempotent');
  const run = await p.bootComplete(m.Serial, { coreos: '3815.2.0', docker: '24.0.9', CustomVersion: '1', agent: '0.1.0' });
  assert.equal(run.State, 'running');
  assert.equal(run.CoreOSVersion, '3815.2.0');
  assert.equal(run.DockerVersion, '24.0.9');
  assert.equal(run.CustomVersion, undefined, 'only known version fields are record fields');
  assert.deepEqual(run.Versions, { CustomVersion: '1', agent: '0.1.0' });
  assert.equal(run.BootCount, 1);
  assert.notEqual(run.LastBoot, '0001-01-01T00:00:00Z');
  assert.equal((await p.bootComplete(m.Serial, {})).BootCount, 2);
  await assert.rejects(p.bootComplete(m.Serial, { 'bad key': 'x' }), kindIs('invalid', 'versions'));

  await p.setState(m.Serial, 'configured', { operator: 'alice', reason: 'new disk layout' });
  await p.enroll(report(1));
  const failed = await p.reportFailed(m.Serial, 'sha256 of flatcar_production_image.bin.bz2 does not match');
  assert.equal(failed.State, 'failed');
  assert.equal(failed.StateReason, 'sha256 of flatcar_production_image.bin.bz2 does not match');
  assert.equal((await p.reportFailed(m.Serial, 'no disk larger than 8 GiB')).StateReason, 'no disk larger than 8 GiB', 'a repeated report updates the reason');
  await assert.rejects(p.reportInstalled(m.Serial), kindIs('conflict', 'State'));
  await assert.rejects(p.reportFailed(m.Serial, ''), kindIs('invalid', 'reason'));
  await assert.rejects(p.setState(m.Serial, 'running', { operator: 'bob' }), kindIs('invalid', 'reason'));
  await assert.rejects(p.setState(m.Serial, 'bogus' as 'running', { operator: 'bob', reason: 'x' }), kindIs('invalid', 'state'));
  await assert.rejects(p.reportInstalled('nosuchmachine'), kindIs('not-found'));
  assert.throws(() => p.reportProgress('nosuchmachine', 'x'), kindIs('not-found'));

  assert.deepEqual(
    events.map((e) => e.type),
    ['enrolled', 'progress', 'installed', 'installed', 'boot-complete', 'boot-complete', 'state-change', 'enrolled', 'failed', 'failed'],
  );
  assert.ok(events.every((e) => e.source === 'server' && e.serial === m.Serial && e.ip === m.InternalAddr && e.mac === '52:54:00:00:00:01' && e.time));
  p.close();
  await store.close();
  const subjects = gitCli(dir, ['log', '--format=%s']).trim().split('\n');
  assert.equal(subjects[0], 'sn-000001: state failed -> failed: no disk larger than 8 GiB');
  assert.equal(subjects[1], 'sn-000001: state installing -> failed: sha256 of flatcar_production_image.bin.bz2 does not match');
  assert.ok(subjects.includes('sn-000001: state installed -> running: boot complete'));
  assert.ok(subjects.includes('sn-000001: state running -> running: boot complete'));
});

test('patch: operator fields with checks against quotas, addresses and hostnames; unknown fields refused', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const store = await openTestStore(dir);
  const p = new Provisioner(store, testConfig({ profiles: [{ name: 'cp', quantity: 1 }, { name: 'gpu' }] }));
  const a = await p.enroll(report(1));
  const b = await p.enroll(report(2));
  assert.equal(a.Profile, 'cp');
  assert.equal(b.Profile, 'default');
  const op = { operator: 'alice', reason: 'racked' };
  const patched = await p.patch(b.Serial, { ProviderId: 'r1-u7', Cabinet: 1, MachineOnCabinet: 7, FleetMetadata: ['zone=a'], IPMIAddr: '10.9.0.7', Profile: 'gpu' }, op);
  assert.equal(patched.ProviderId, 'r1-u7');
  assert.equal(patched.Profile, 'gpu');
  await assert.rejects(p.patch(b.Serial, { Profile: 'cp' }, op), kindIs('exhausted', 'Profile'));
  await assert.rejects(p.patch(b.Serial, { Profile: 'nope' }, op), kindIs('invalid', 'Profile'));
  await assert.rejects(p.patch(b.Serial, { InternalAddr: a.InternalAddr }, op), kindIs('conflict', 'InternalAddr'));
  await assert.rejects(p.patch(b.Serial, { Hostname: a.Hostname }, op), kindIs('conflict', 'Hostname'));
  await assert.rejects(p.patch(b.Serial, { State: 'running' } as never, op), kindIs('invalid', 'State'));
  await assert.rejects(p.patch(b.Serial, { Cabinet: -1 }, op), kindIs('invalid', 'Cabinet'));
  await assert.rejects(p.patch(b.Serial, { IPMIAddr: 'bmc' }, op), kindIs('invalid', 'IPMIAddr'));
  const moved = await p.patch(b.Serial, { InternalAddr: '10.0.1.200', Hostname: 'gpu-1' }, op);
  assert.equal(moved.InternalAddr, '10.0.1.200');
  assert.equal(store.byIp('10.0.1.200')?.Serial, b.Serial);
  // the old address is free again
  const c = await p.enroll(report(3));
  assert.equal(c.InternalAddr, b.InternalAddr);

  const o = await p.setOverride(a.Serial, 'install_disk', '/dev/nvme0n1', op);
  assert.deepEqual(o.Overrides, { install_disk: '/dev/nvme0n1' });
  assert.deepEqual((await p.setOverride(a.Serial, 'install_disk', undefined, op)).Overrides, {});
  await assert.rejects(p.setOverride(a.Serial, '../x', 1, op), kindIs('invalid', 'key'));
  p.close();
  await store.close();
  const body = gitCli(dir, ['log', '--format=%B', '-n', '1', '--grep', 'ProviderId']);
  assert.match(body, /^sn-000002: set ProviderId "" -> "r1-u7", IPMIAddr "" -> "10\.9\.0\.7", FleetMetadata \[\] -> \["zone=a"\], Cabinet 0 -> 1, MachineOnCabinet 0 -> 7, Profile "default" -> "gpu"\n\noperator: alice\nreason: racked\n/);
});

test('boot-complete never overwrites operator-owned fields (OSName, OSVersion, Profile, ...)', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const store = await openTestStore(dir);
  const p = new Provisioner(store, testConfig({ profiles: [{ name: 'cp' }, { name: 'gpu' }] }));
  const m = await p.enroll(report(1));
  const op = { operator: 'alice', reason: 'pin the OS' };
  await p.patch(m.Serial, { OSName: 'flatcar', OSVersion: '3815.2.0', Profile: 'gpu', Hostname: 'gpu-1' }, op);
  await p.reportInstalled(m.Serial);
  const run = await p.bootComplete(m.Serial, {
    OSVersion: '9999.0.0',
    OSName: 'debian',
    Profile: 'cp',
    Hostname: 'evil',
    State: 'failed',
    InternalAddr: '10.9.9.9',
    BootCount: '0',
    os: '3815.2.1',
  });
  assert.deepEqual([run.OSName, run.OSVersion, run.Profile, run.Hostname, run.State, run.BootCount], ['flatcar', '3815.2.0', 'gpu', 'gpu-1', 'running', 1]);
  assert.notEqual(run.InternalAddr, '10.9.9.9');
  assert.equal(run.CoreOSVersion, '3815.2.1', 'the reported OS version is kept where mayu kept it');
  assert.deepEqual(run.Versions, { OSVersion: '9999.0.0', OSName: 'debian', Profile: 'cp', Hostname: 'evil', State: 'failed', InternalAddr: '10.9.9.9', BootCount: '0' });
  p.close();
  await store.close();
});

test('declared machines: by config (MAC) and by API, placeholder handed over at enrollment; rescue; decommission', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const store = await openTestStore(dir);
  const config = testConfig({ profiles: [{ name: 'cp', quantity: 3 }, { name: 'storage' }], machines: [{ mac: '52:54:00:00:00:05', hostname: 'storage-1', ip: '10.0.1.10', profile: 'storage' }], rescue: RESCUE });
  const p = new Provisioner(store, config);
  // the declared address is held for its machine
  const first = await p.enroll(report(1));
  assert.notEqual(first.InternalAddr, '10.0.1.10');
  const s1 = await p.enroll(report(5));
  assert.deepEqual([s1.Hostname, s1.InternalAddr, s1.Profile], ['storage-1', '10.0.1.10', 'storage']);

  const op = { operator: 'alice', reason: 'new rack' };
  const d = await p.declare({ mac: '52:54:00:00:00:09', hostname: 'edge-9', profile: 'cp' }, op);
  assert.equal(d.Serial, '52-54-00-00-00-09');
  assert.equal(d.State, 'unknown');
  assert.equal(d.Declared, true);
  await assert.rejects(p.declare({ mac: '52:54:00:00:00:09' }, op), kindIs('conflict', 'mac'));
  await assert.rejects(p.declare({ mac: '52:54:00:00:00:0c', serial: '52-54-00-00-00-09' }, op), kindIs('conflict', 'serial'));
  await assert.rejects(p.declare({ mac: '52:54:00:00:00:09', serial: 'other-1' }, op), kindIs('conflict', 'mac'));
  await assert.rejects(p.declare({ mac: 'zz' }, op), kindIs('invalid', 'mac'));
  await assert.rejects(p.declare({ mac: '52:54:00:00:00:0a', serial: '../x' }, op), kindIs('invalid', 'serial'));
  const e9 = await p.enroll(report(9));
  assert.equal(e9.Serial, 'sn-000009');
  assert.deepEqual([e9.Hostname, e9.InternalAddr, e9.Profile, e9.MachineID], ['edge-9', d.InternalAddr, 'cp', d.MachineID]);
  assert.equal(e9.Declared, undefined);
  assert.equal(store.get(d.Serial), undefined, 'the placeholder is gone');
  assert.equal(store.byMac('52:54:00:00:00:09')?.Serial, 'sn-000009');

  const withSerial = await p.declare({ mac: '52:54:00:00:00:0b', serial: 'SN-00000B', ip: '10.0.1.99' }, op);
  assert.equal(withSerial.Serial, 'sn-00000b');
  const e11 = await p.enroll(report(11));
  assert.equal(e11.InternalAddr, '10.0.1.99');

  // a MAC that belongs to an enrolled machine cannot be taken by another serial
  await assert.rejects(p.enroll(report(12, { macs: [{ name: 'eth0', mac: '52:54:00:00:00:01' }] })), kindIs('conflict', 'macs'));

  const r = await p.requestRescue(e9.Serial, op);
  assert.equal(r.RescuePending, true);
  assert.equal((await p.rescueServed(e9.Serial)).RescuePending, undefined);

  await p.decommission(e9.Serial, { operator: 'bob', reason: 'returned' });
  assert.equal(store.get(e9.Serial), undefined);
  await assert.rejects(p.decommission(e9.Serial, op), kindIs('not-found'));
  p.close();
  await store.close();
  assert.equal(gitCli(dir, ['status', '--porcelain']), '');
  const subjects = gitCli(dir, ['log', '--format=%s']).trim().split('\n');
  assert.ok(subjects.includes('52-54-00-00-00-09: declared machine enrolled as sn-000009'));
  assert.ok(subjects.some((s) => /^sn-000009: enrolled: .* \(declared as 52-54-00-00-00-09\)$/.test(s)));
});

test('declare: conflicts name the field (MAC twice, also against the config; IP twice; IP outside the range; unknown profile)', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const store = await openTestStore(dir);
  const config = testConfig({ profiles: [{ name: 'ram' }], machines: [{ mac: '52:54:00:00:01:01', hostname: 'cfg-1', ip: '10.0.1.20' }] });
  const p = new Provisioner(store, config);
  const op = { operator: 'alice', reason: 'rack 4' };
  const d = await p.declare({ mac: '52:54:00:00:01:02', hostname: 'ram-2', ip: '10.0.1.21', profile: 'ram' }, op);
  assert.deepEqual([d.InternalAddr, d.Hostname, d.Profile, d.State, d.Declared], ['10.0.1.21', 'ram-2', 'ram', 'unknown', true]);
  await assert.rejects(p.declare({ mac: '52:54:00:00:01:01' }, op), kindIs('conflict', 'mac'), 'declared in the config');
  await assert.rejects(p.declare({ mac: '52:54:00:00:01:02', serial: 'x-2' }, op), kindIs('conflict', 'mac'));
  await assert.rejects(p.declare({ mac: '52:54:00:00:01:03', ip: '10.0.1.21' }, op), kindIs('conflict', 'ip'));
  await assert.rejects(p.declare({ mac: '52:54:00:00:01:03', ip: '10.0.1.20' }, op), kindIs('conflict', 'ip'), 'held for the config declaration');
  await assert.rejects(p.declare({ mac: '52:54:00:00:01:03', ip: '10.0.2.5' }, op), (err: unknown) => {
    kindIs('invalid', 'ip')(err);
    assert.match((err as Error).message, /outside network\.ip_range 10\.0\.1\.10-10\.0\.1\.250/);
    return true;
  });
  await assert.rejects(p.declare({ mac: '52:54:00:00:01:03', profile: 'nope' }, op), kindIs('invalid', 'profile'));
  await assert.rejects(p.declare({ mac: '52:54:00:00:01:03', hostname: 'ram-2' }, op), kindIs('conflict', 'hostname'));
  // nothing of the refused declarations was kept: the address and hostname are still free
  const ok = await p.declare({ mac: '52:54:00:00:01:03', ip: '10.0.1.22', hostname: 'ram-3' }, op);
  assert.equal(ok.InternalAddr, '10.0.1.22');
  p.close();
  await store.close();
  const log = gitCli(dir, ['log', '--format=%B']);
  assert.match(log, /52-54-00-00-01-02: declared \(mac 52:54:00:00:01:02, ip 10\.0\.1\.21, profile ram\)\n\noperator: alice\nreason: rack 4/);
});

test('rescue is one-shot and recorded both ways; failsafe recorded once per distinct error, cleared once', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const store = await openTestStore(dir);
  const events: LifecycleEvent[] = [];
  const refusing = new Provisioner(store, testConfig());
  const first = await refusing.enroll(report(2));
  await assert.rejects(refusing.requestRescue(first.Serial, { operator: 'alice', reason: 'memtest' }), kindIs('conflict', 'rescue'));
  assert.equal(store.get(first.Serial)?.RescuePending, undefined, 'nothing recorded');
  refusing.close();
  const p = new Provisioner(store, testConfig({ rescue: RESCUE }), (e) => events.push(e));
  const m = await p.enroll(report(1));
  await p.requestRescue(m.Serial, { operator: 'alice', reason: 'memtest' });
  assert.equal((await p.requestRescue(m.Serial, { operator: 'alice', reason: 'again' })).RescuePending, true, 'a second request changes nothing');
  assert.equal((await p.rescueServed(m.Serial)).RescuePending, undefined);
  assert.equal((await p.rescueServed(m.Serial)).RescuePending, undefined, 'served twice: no change');
  assert.ok(events.some((e) => e.type === 'rescue-served' && e.serial === m.Serial));

  await p.failsafeServed(m.Serial, 'template ipxe/local-disk.ipxe: boom');
  await p.failsafeServed(m.Serial, 'template ipxe/local-disk.ipxe: boom');
  assert.equal(store.get(m.Serial)?.Failsafe, 'template ipxe/local-disk.ipxe: boom');
  await p.failsafeServed(m.Serial, 'another error');
  await p.failsafeCleared(m.Serial);
  await p.failsafeCleared(m.Serial);
  assert.equal(store.get(m.Serial)?.Failsafe, undefined);
  assert.equal(events.filter((e) => e.type === 'failsafe').length, 3, 'every failsafe boot is on the timeline');
  // a machine not enrolled yet: an event, no record
  assert.equal(await p.failsafeServed('not-there', 'no profile', '52:54:00:99:00:01'), undefined);
  assert.equal(store.get('not-there'), undefined);
  assert.equal(events.at(-1)?.mac, '52:54:00:99:00:01');
  p.close();
  await store.close();
  const subjects = gitCli(dir, ['log', '--format=%s']).trim().split('\n');
  assert.deepEqual(subjects.slice(0, 5), [
    'sn-000001: failsafe cleared: its boot script renders again',
    'sn-000001: failsafe boot: another error',
    'sn-000001: failsafe boot: template ipxe/local-disk.ipxe: boom',
    'sn-000001: rescue boot served (next boot: its profile again)',
    'sn-000001: rescue boot requested',
  ]);
});

test('config declarations are filed once (operator config); the machine enrolls into its declared record', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const store = await openTestStore(dir);
  const config = testConfig({ profiles: [{ name: 'ram' }], machines: [{ mac: '52:54:00:00:00:07', hostname: 'ram-7', ip: '10.0.1.70', profile: 'ram' }] });
  const p = new Provisioner(store, config);
  assert.deepEqual(await p.applyConfigDeclarations(), { added: 1, errors: [] });
  assert.deepEqual(await p.applyConfigDeclarations(), { added: 0, errors: [] }, 'idempotent');
  const d = store.byMac('52:54:00:00:00:07');
  assert.deepEqual([d?.Serial, d?.InternalAddr, d?.Hostname, d?.Profile, d?.Declared], ['52-54-00-00-00-07', '10.0.1.70', 'ram-7', 'ram', true]);
  const e = await p.enroll(report(7));
  assert.deepEqual([e.Serial, e.InternalAddr, e.Hostname, e.Profile, e.MachineID], ['sn-000007', '10.0.1.70', 'ram-7', 'ram', d?.MachineID]);
  p.close();
  // a new start: the machine is enrolled, nothing is filed again
  const p2 = new Provisioner(store, config);
  assert.deepEqual(await p2.applyConfigDeclarations(), { added: 0, errors: [] });
  p2.close();
  await store.close();
  assert.match(gitCli(dir, ['log', '--format=%B', '--', '52-54-00-00-00-07']), /declared \(mac 52:54:00:00:00:07, ip 10\.0\.1\.70, profile ram\)\n\noperator: config\nreason: declared in the config \(machines\[\]\)/);
});
