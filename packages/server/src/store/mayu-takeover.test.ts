import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Provisioner } from '../lifecycle/provisioner.js';
import { gitCli, openTestStore, report, tempDir, testConfig } from '../testing/store-fixtures.js';
import { editableRecord } from './record.js';

/*
 * A cluster directory as mayu 0.11 left it, written by hand from its field list: Go's
 * MarshalIndent output (two-space indent, no trailing newline), nil slices and maps as null,
 * never-booted machines with Go's zero time, fields this version does not know (Enabled,
 * AdditionalAddrs, KeepDiskData), an upper-case serial directory, and a history committed with
 * the git command line (so .git/index is git's own).
 */
const running = {
  Enabled: true,
  Serial: '0123abcd',
  MacAddresses: ['00:25:90:aa:bb:01', '00:25:90:aa:bb:02'],
  InternalAddr: '10.0.1.31',
  AdditionalAddrs: {},
  Hostname: '00006811af601f',
  MachineID: '006811af601fe8b4b8ae6b9d1f8d8f22',
  ConnectedNIC: 'eth0',
  IPMIAddr: '10.0.4.31',
  ProviderId: 'rack1-u12',
  Cabinet: 1,
  MachineOnCabinet: 12,
  Profile: 'control-plane',
  FleetMetadata: ['role-core=true'],
  FleetDisableEngine: false,
  EtcdClusterToken: '',
  Overrides: { DockerVersion: '1.12.6' },
  State: 'running',
  LastBoot: '2017-05-03T10:12:45.123456789Z',
  CoreOSVersion: '1298.7.0',
  DockerVersion: '1.12.6',
  EtcdVersion: '3.1.5',
  FleetVersion: '0.11.8',
  K8sVersion: '',
  MayuVersion: '0.11.1',
  RktVersion: '',
  YochuVersion: '0.21.0',
  KeepDiskData: true,
};

const neverBooted = {
  ...running,
  Serial: 'SYS-7F3A',
  MacAddresses: ['0C:C4:7A:11:22:33'],
  InternalAddr: '10.0.1.32',
  Hostname: '0000a1b2c3d4e5',
  MachineID: '00a1b2c3d4e5f60718293a4b5c6d7e8f',
  IPMIAddr: '',
  Profile: 'default',
  FleetMetadata: null,
  Overrides: null,
  State: 'installed',
  LastBoot: '0001-01-01T00:00:00Z',
  CoreOSVersion: '',
  DockerVersion: '',
  EtcdVersion: '',
  FleetVersion: '',
  MayuVersion: '',
  YochuVersion: '',
};

function writeMayuDir(dir: string): void {
  const goJson = (v: unknown): string => JSON.stringify(v, null, 2); // MarshalIndent: no newline at the end
  writeFileSync(path.join(dir, 'cluster.json'), goJson({ GitStore: true, Config: { DefaultEtcdQuorumSize: 3, EtcdDiscoveryUrl: 'https://discovery.etcd.io' } }));
  gitCli(dir, ['init', '-q', '-b', 'master']);
  gitCli(dir, ['add', 'cluster.json']);
  gitCli(dir, ['commit', '-q', '-m', 'initial cluster commit']);
  for (const host of [running, neverBooted]) {
    mkdirSync(path.join(dir, host.Serial));
    writeFileSync(path.join(dir, host.Serial, 'conf.json'), goJson({ ...host, State: 'installing' }));
    gitCli(dir, ['add', '.']);
    gitCli(dir, ['commit', '-q', '-m', `${host.Serial}: updated host state to installing`]);
    writeFileSync(path.join(dir, host.Serial, 'conf.json'), goJson(host));
    gitCli(dir, ['commit', '-q', '-am', `${host.Serial}: updated host state to ${host.State}`]);
  }
}

test('a mayu 0.11 cluster directory is taken over as it is', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  writeMayuDir(dir);
  const headBefore = gitCli(dir, ['rev-parse', 'HEAD']).trim();

  const store = await openTestStore(dir);
  assert.deepEqual(store.recovered, [], 'nothing to repair');
  assert.equal(store.commitsWritten, 0, 'taking over writes no commit');
  assert.equal(store.count(), 2);
  assert.equal(store.cluster().GitStore, true);

  const a = store.get('0123abcd');
  assert.ok(a);
  assert.equal(a.State, 'running');
  assert.equal(a.LastBoot, '2017-05-03T10:12:45.123456789Z');
  assert.equal(a.KeepDiskData, true, 'unknown fields are kept');
  assert.deepEqual(a.AdditionalAddrs, {});
  assert.equal(store.byMac('00:25:90:AA:BB:02')?.Serial, '0123abcd');
  assert.equal(store.byIp('10.0.1.31')?.Serial, '0123abcd');

  const b = store.get('sys-7f3a');
  assert.equal(b?.Serial, 'SYS-7F3A', 'upper-case mayu serials are found case-insensitively');
  assert.equal(b?.LastBoot, '0001-01-01T00:00:00Z');
  assert.deepEqual(b?.FleetMetadata, []);
  assert.deepEqual(b?.Overrides, {});
  assert.deepEqual(b?.MacAddresses, ['0C:C4:7A:11:22:33'], 'MACs as mayu wrote them');
  assert.equal(store.byMac('0c:c4:7a:11:22:33')?.Serial, 'SYS-7F3A');

  // history includes mayu's own commits for the machine
  const h = await store.history('0123abcd', { patch: true });
  assert.deepEqual(h.map((e) => e.message), ['0123abcd: updated host state to running', '0123abcd: updated host state to installing']);
  assert.match(h[0]!.patch!, /-\s+"State": "installing",\n\+\s+"State": "running",/);

  // The lifecycle continues where mayu stopped: addresses and ids are kept, new machines avoid them.
  const p = new Provisioner(store, testConfig({ ipRange: ['10.0.1.31', '10.0.1.40'], profiles: [{ name: 'control-plane', quantity: 1 }] }));
  await p.setState('0123abcd', 'configured', { operator: 'ops', reason: 'reinstall after takeover' });
  const again = await p.enroll(report(1, { serial: { product: '0123ABCD' }, macs: [{ name: 'eth0', mac: '00:25:90:aa:bb:01' }] }));
  assert.equal(again.Serial, '0123abcd');
  assert.equal(again.InternalAddr, '10.0.1.31');
  assert.equal(again.MachineID, running.MachineID);
  assert.equal(again.Hostname, running.Hostname);
  assert.equal(again.KeepDiskData, true);
  assert.equal(again.Enabled, true);
  const fresh = await p.enroll(report(2));
  assert.equal(fresh.InternalAddr, '10.0.1.33', 'mayu machines\' addresses are in use');
  assert.equal(fresh.Profile, 'default', 'the mayu control-plane machine fills the quota of 1');
  await store.mutate('SYS-7F3A', (cur) => ({ ...editableRecord(cur!), ProviderId: 'rack2-u1' }), { what: 'set ProviderId' });
  p.close();
  await store.close();

  assert.equal(gitCli(dir, ['status', '--porcelain']), '', 'git status clean after taking over');
  assert.equal(gitCli(dir, ['rev-parse', 'HEAD~4']).trim(), headBefore, 'our commits continue mayu\'s branch');
  assert.equal(gitCli(dir, ['symbolic-ref', 'HEAD']).trim(), 'refs/heads/master');
  const onDisk = JSON.parse(readFileSync(path.join(dir, '0123abcd', 'conf.json'), 'utf8'));
  assert.deepEqual(Object.keys(onDisk).slice(0, 3), ['Enabled', 'Serial', 'MacAddresses'], 'field order kept');
  assert.equal(onDisk.AdditionalAddrs !== undefined && onDisk.KeepDiskData, true);
  const diff = gitCli(dir, ['log', '-1', '-p', '--format=', '--', 'SYS-7F3A/conf.json']);
  assert.match(diff, /-\s+"ProviderId": "rack1-u12",\n\+\s+"ProviderId": "rack2-u1",/);
  gitCli(dir, ['fsck', '--strict']);
});
