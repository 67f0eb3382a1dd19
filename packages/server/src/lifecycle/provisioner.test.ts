import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gitCli, openTestStore, report, tempDir, testConfig } from '../testing/store-fixtures.js';
import type { LifecycleEvent } from './events.js';
import { Provisioner } from './provisioner.js';
import { isMachineId } from './machine-id.js';

test('enroll: identity, address, profile, machine-id, hostname; state installing; event published', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const store = await openTestStore(dir);
  const events: LifecycleEvent[] = [];
  const p = new Provisioner(store, testConfig(), (e) => events.push(e));
  const m = await p.enroll(report(1));
  assert.equal(m.Serial, 'sn-000001');
  assert.equal(m.IdentitySource, 'product');
  assert.equal(m.State, 'installing');
  assert.equal(m.InternalAddr, '10.0.1.10');
  assert.equal(m.Profile, 'control-plane');
  assert.ok(isMachineId(m.MachineID));
  assert.equal(m.Hostname, `00${m.MachineID.slice(0, 10)}`);
  assert.deepEqual(m.MacAddresses, ['52:54:00:00:00:01']);
  assert.equal(m.ConnectedNIC, 'eth0');
  assert.equal(events[0]?.type, 'enrolled');
  assert.equal(events[0]?.serial, 'sn-000001');

  // enrolling again keeps address, profile and ids
  await p.reportInstalled(m.Serial);
  await p.setState(m.Serial, 'configured', { operator: 'alice', reason: 'reinstall with new disk layout' });
  const again = await p.enroll(report(1));
  assert.equal(again.InternalAddr, m.InternalAddr);
  assert.equal(again.MachineID, m.MachineID);
  assert.equal(again.Hostname, m.Hostname);
  assert.equal(again.State, 'installing');
  p.close();
  await store.close();
  const log = gitCli(dir, ['log', '--format=%s']).trim().split('\n');
  assert.equal(log[0], 'sn-000001: enrolled again (state configured -> installing)');
  assert.equal(log[1], 'sn-000001: state installed -> configured: forced by operator');
  assert.equal(log[2], 'sn-000001: state installing -> installed: install finished');
  assert.match(log[3]!, /^sn-000001: enrolled: ip 10\.0\.1\.10, profile control-plane, hostname 00[0-9a-f]{10}, identity from product$/);
  assert.match(gitCli(dir, ['log', '-1', '--skip=1', '--format=%b']), /operator: alice\nreason: reinstall with new disk layout/);
  assert.equal(gitCli(dir, ['status', '--porcelain']), '');
});

test('200 concurrent enrollments never overfill a profile and never share an address', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const store = await openTestStore(dir);
  const p = new Provisioner(store, testConfig({ ipRange: ['10.0.0.10', '10.0.3.250'], network: { subnet_size: 22 }, profiles: [{ name: 'cp', quantity: 3 }, { name: 'storage', quantity: 5 }] }));
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) => p.enroll(report(i + 1))));
  const count = (name: string): number => results.filter((r) => r.Profile === name).length;
  assert.equal(count('cp'), 3);
  assert.equal(count('storage'), 5);
  assert.equal(count('default'), 192);
  assert.equal(new Set(results.map((r) => r.InternalAddr)).size, 200);
  assert.equal(new Set(results.map((r) => r.Hostname)).size, 200);
  assert.equal(store.page({ profile: 'cp' }, 0, 0).total, 3);
  p.close();
  await store.close();
  assert.equal(gitCli(dir, ['rev-list', '--count', 'HEAD']).trim(), '201');
  assert.equal(gitCli(dir, ['status', '--porcelain']), '');
});

test('an exhausted ip_range is an error for that machine, never a wrap-around', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const store = await openTestStore(dir, false);
  // .1 is the provisioner (bind_addr), .0 the network: 3 usable addresses in .0-.4
  const p = new Provisioner(store, testConfig({ ipRange: ['10.0.1.0', '10.0.1.4'], network: { subnet_gateway: '10.0.1.2' } }));
  const a = await p.enroll(report(1));
  const b = await p.enroll(report(2));
  assert.deepEqual([a.InternalAddr, b.InternalAddr], ['10.0.1.3', '10.0.1.4']);
  await assert.rejects(p.enroll(report(3)), (err: Error & { kind?: string; field?: string }) => {
    assert.equal(err.kind, 'exhausted');
    assert.equal(err.field, 'network.ip_range');
    assert.match(err.message, /10\.0\.1\.0-10\.0\.1\.4 has no free address left for machine "sn-000003"/);
    return true;
  });
  assert.equal(store.get('sn-000003'), undefined);
  // a decommissioned machine's address is reused
  await p.decommission(a.Serial, { operator: 'op', reason: 'returned to vendor' });
  assert.equal((await p.enroll(report(3))).InternalAddr, '10.0.1.3');
  p.close();
  await store.close();
});

test('junk serials fall back to chassis, board, SMBIOS UUID, then MAC', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const store = await openTestStore(dir, false);
  const p = new Provisioner(store, testConfig());
  const junk = { product: 'To Be Filled By O.E.M.', chassis: '0123456789', board: 'Default string' };
  const byUuid = await p.enroll(report(5, { serial: junk, uuid: '4C4C4544-0031-4D10-8052-B7C04F4E4B31' }));
  assert.equal(byUuid.Serial, '4c4c4544-0031-4d10-8052-b7c04f4e4b31');
  assert.equal(byUuid.IdentitySource, 'uuid');
  const byMac = await p.enroll(report(6, { serial: { product: 'VMware-56 4d 7f 3a' }, uuid: '00000000-0000-0000-0000-000000000000' }));
  assert.equal(byMac.Serial, '52-54-00-00-00-06');
  assert.equal(byMac.IdentitySource, 'mac');
  const byBoard = await p.enroll(report(7, { serial: { product: 'None', chassis: 'System Serial Number', board: 'BRD-77' } }));
  assert.equal(byBoard.Serial, 'brd-77');
  p.close();
  await store.close();
});

test('path-like serials in a report are refused before they reach the filesystem', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const store = await openTestStore(dir, false);
  const p = new Provisioner(store, testConfig());
  for (const bad of ['../../etc', 'a/b', '..', 'x\\y', 'a\u0000b']) {
    await assert.rejects(p.enroll(report(9, { serial: { product: bad } })), (err: Error & { kind?: string; field?: string }) => err.kind === 'invalid' && err.field === 'serial.product', bad);
  }
  await assert.rejects(p.reportInstalled('../x'), (err: Error & { kind?: string }) => err.kind === 'invalid');
  assert.equal(store.count(), 0);
  p.close();
  await store.close();
  assert.deepEqual(JSON.parse(readFileSync(path.join(dir, 'cluster.json'), 'utf8')), { GitStore: false });
});
