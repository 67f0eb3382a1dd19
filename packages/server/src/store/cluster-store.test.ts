import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gitCli, openTestStore, tempDir } from '../testing/store-fixtures.js';
import { emptyRecord, editableRecord } from './record.js';
import type { MachineRecord } from './types.js';

function rec(serial: string, ip: string, mac: string): MachineRecord {
  return { ...emptyRecord(serial), InternalAddr: ip, MacAddresses: [mac], State: 'installing' };
}

test('mutations are durable, indexed, frozen and committed; git sees a clean, truthful repo', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const store = await openTestStore(dir);
  await store.mutate('abc1', () => rec('abc1', '10.0.1.12', '52:54:00:00:00:01'), { what: 'enrolled' });
  await store.mutate('abc2', () => rec('abc2', '10.0.1.11', '52-54-00-00-00-02'), { what: 'enrolled' });
  const r = await store.mutate('abc1', (cur) => ({ ...editableRecord(cur!), State: 'running' }), { what: 'state installing -> running', operator: 'alice', reason: 'checked by hand' });
  assert.equal(r?.State, 'running');
  assert.ok(Object.isFrozen(r) && Object.isFrozen(r?.MacAddresses));
  assert.throws(() => (r!.MacAddresses as string[]).push('x'));
  assert.equal(store.byMac('52:54:00:00:00:02')?.Serial, 'abc2');
  assert.equal(store.byIp('10.0.1.12')?.Serial, 'abc1');
  assert.deepEqual([...store.records()].map((m) => m.Serial), ['abc2', 'abc1'], 'ordered by InternalAddr');
  assert.deepEqual(JSON.parse(store.page({ state: 'running' }, 0, 10).json).map((m: MachineRecord) => m.Serial), ['abc1']);

  const onDisk = JSON.parse(readFileSync(path.join(dir, 'abc1', 'conf.json'), 'utf8'));
  assert.equal(onDisk.State, 'running');
  assert.equal(onDisk.LastBoot, '0001-01-01T00:00:00Z');

  // unchanged write: no commit
  const before = store.commitsWritten;
  await store.mutate('abc1', (cur) => editableRecord(cur!), { what: 'nothing' });
  assert.equal(store.commitsWritten, before);

  await store.close();
  assert.equal(gitCli(dir, ['status', '--porcelain']), '', 'git status is clean');
  const log = gitCli(dir, ['log', '--format=%s|%an <%ae>']).trim().split('\n');
  assert.deepEqual(log, [
    'abc1: state installing -> running|Cocoon Test <cocoon@test.invalid>',
    'abc2: enrolled|Cocoon Test <cocoon@test.invalid>',
    'abc1: enrolled|Cocoon Test <cocoon@test.invalid>',
    'cocoon: new cluster directory|Cocoon Test <cocoon@test.invalid>',
  ]);
  const full = gitCli(dir, ['log', '-1', '--format=%B']);
  assert.match(full, /^abc1: state installing -> running\n\noperator: alice\nreason: checked by hand\n/);
  const patch = gitCli(dir, ['log', '-1', '-p', '--format=']);
  assert.match(patch, /-\s+"State": "installing"/);
  assert.match(patch, /\+\s+"State": "running"/);
  gitCli(dir, ['fsck', '--strict']);
  assert.equal(gitCli(dir, ['diff', 'HEAD', '--stat']), '');
});

test('history lists a machine\'s commits with unified diffs, newest first', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const store = await openTestStore(dir);
  await store.mutate('m1', () => rec('m1', '10.0.1.20', '52:54:00:00:00:11'), { what: 'enrolled' });
  await store.mutate('m2', () => rec('m2', '10.0.1.21', '52:54:00:00:00:12'), { what: 'enrolled' });
  await store.mutate('m1', (cur) => ({ ...editableRecord(cur!), Profile: 'worker' }), { what: 'set Profile' });
  const h = await store.history('m1', { patch: true });
  assert.deepEqual(h.map((e) => e.message), ['m1: set Profile', 'm1: enrolled']);
  assert.match(h[0]!.patch!, /-\s+"Profile": ""/);
  assert.match(h[0]!.patch!, /\+\s+"Profile": "worker"/);
  assert.match(h[1]!.patch!, /\+\s+"Serial": "m1"/);
  assert.equal((await store.history('m1', { limit: 1 })).length, 1);
  assert.equal(h[0]!.author, 'Cocoon Test <cocoon@test.invalid>');
  await store.close();
});

test('remove deletes the record and commits the deletion', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const store = await openTestStore(dir);
  await store.mutate('gone1', () => rec('gone1', '10.0.1.30', '52:54:00:00:00:21'), { what: 'enrolled' });
  assert.equal(await store.remove('gone1', { what: 'decommissioned', operator: 'bob', reason: 'dead disk' }), true);
  assert.equal(await store.remove('gone1', { what: 'again' }), false);
  assert.equal(store.get('gone1'), undefined);
  assert.equal(store.byMac('52:54:00:00:00:21'), undefined);
  assert.equal(existsSync(path.join(dir, 'gone1')), false);
  await store.close();
  assert.equal(gitCli(dir, ['status', '--porcelain']), '');
  assert.match(gitCli(dir, ['log', '-1', '--format=%B']), /^gone1: decommissioned\n\noperator: bob\nreason: dead disk/);
  assert.equal(gitCli(dir, ['ls-tree', '-r', '--name-only', 'HEAD']).trim(), 'cluster.json');
});

test('serials that could escape the cluster directory are refused', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const store = await openTestStore(dir, false);
  for (const bad of ['../etc', '..', '.', 'a/b', '/abs', '.git', 'cluster.json', '', 'a\\b', 'x'.repeat(200)]) {
    await assert.rejects(store.mutate(bad, () => rec(bad, '', ''), { what: 'x' }), (err: Error & { kind?: string }) => err.kind === 'invalid', bad);
  }
  await assert.rejects(store.mutate('ok1', () => rec('other', '', ''), { what: 'x' }), /cannot be renamed/);
  assert.deepEqual(readdirSync(dir).sort(), ['cluster.json']);
  await store.close();
});

test('crash repair: a file written but not committed is committed at open; stray temp files removed', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  let store = await openTestStore(dir);
  await store.mutate('c1', () => rec('c1', '10.0.1.40', '52:54:00:00:00:31'), { what: 'enrolled' });
  await store.mutate('c2', () => rec('c2', '10.0.1.41', '52:54:00:00:00:32'), { what: 'enrolled' });
  await store.mutate('c3', () => rec('c3', '10.0.1.42', '52:54:00:00:00:33'), { what: 'enrolled' });
  await store.close();
  // What a kill -9 between "file durable" and "commit written" leaves behind:
  const changed = { ...JSON.parse(readFileSync(path.join(dir, 'c1', 'conf.json'), 'utf8')), State: 'installed' };
  writeFileSync(path.join(dir, 'c1', 'conf.json'), `${JSON.stringify(changed, null, 2)}\n`);
  mkdirSync(path.join(dir, 'c9'));
  writeFileSync(path.join(dir, 'c9', 'conf.json'), `${JSON.stringify(rec('c9', '10.0.1.49', '52:54:00:00:00:39'), null, 2)}\n`);
  await import('node:fs/promises').then((fs) => fs.rm(path.join(dir, 'c2'), { recursive: true }));
  // ... and a write interrupted before its rename:
  writeFileSync(path.join(dir, 'c3', '.conf.json.tmp-999-1'), '{"Serial": "c3", "Sta');
  writeFileSync(path.join(dir, '.cluster.json.tmp-999-2'), '{');

  store = await openTestStore(dir);
  assert.deepEqual([...store.recovered].sort(), ['c1', 'c2', 'c9']);
  assert.equal(store.get('c1')?.State, 'installed');
  assert.equal(store.get('c9')?.InternalAddr, '10.0.1.49');
  assert.equal(store.get('c2'), undefined);
  assert.equal(store.get('c3')?.State, 'installing');
  assert.equal(existsSync(path.join(dir, 'c3', '.conf.json.tmp-999-1')), false);
  assert.equal(existsSync(path.join(dir, '.cluster.json.tmp-999-2')), false);
  await store.close();

  assert.equal(gitCli(dir, ['status', '--porcelain']), '');
  const subjects = gitCli(dir, ['log', '-3', '--format=%s']).trim().split('\n').sort();
  assert.deepEqual(subjects, [
    'c1: change recovered after a crash (written to disk but not committed)',
    'c2: removal recovered after a crash (deleted from disk but not committed)',
    'c9: new record recovered after a crash (written to disk but not committed)',
  ]);
  assert.match(gitCli(dir, ['show', '--format=', 'HEAD~2', '--', 'c1/conf.json']) + gitCli(dir, ['log', '-p', '-3', '--format=', '--', 'c1/conf.json']), /\+\s+"State": "installed"/);

  // a clean reopen commits nothing
  store = await openTestStore(dir);
  assert.deepEqual(store.recovered, []);
  assert.equal(store.commitsWritten, 0);
  await store.close();
});

test('git off: files only, no repository', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const store = await openTestStore(dir, false);
  await store.mutate('n1', () => rec('n1', '10.0.1.50', '52:54:00:00:00:41'), { what: 'enrolled' });
  assert.deepEqual(await store.history('n1'), []);
  await store.close();
  assert.equal(existsSync(path.join(dir, '.git')), false);
  assert.equal(JSON.parse(readFileSync(path.join(dir, 'n1', 'conf.json'), 'utf8')).Serial, 'n1');
});

test('concurrent mutations of one serial are serialised (no lost update)', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const store = await openTestStore(dir);
  await store.mutate('cnt', () => ({ ...rec('cnt', '10.0.1.60', '52:54:00:00:00:51'), BootCount: 0 }), { what: 'enrolled' });
  await Promise.all(
    Array.from({ length: 25 }, () =>
      store.mutate('cnt', async (cur) => {
        await new Promise((r) => setImmediate(r));
        return { ...editableRecord(cur!), BootCount: (cur!.BootCount ?? 0) + 1 };
      }, { what: 'boot' }),
    ),
  );
  assert.equal(store.get('cnt')?.BootCount, 25);
  await store.close();
  assert.equal(gitCli(dir, ['rev-list', '--count', 'HEAD']).trim(), '27');
  assert.equal(gitCli(dir, ['status', '--porcelain']), '');
});

test('records are normalised the way mayu wrote them: numeric states, nulls, missing fields', async () => {
  const { normalizeRecord } = await import('./record.js');
  const r = normalizeRecord({ Serial: 'x1', State: 4, InternalAddr: null, FleetMetadata: null, Overrides: null, Extra: { kept: true } }, 'x1');
  assert.equal(r.State, 'running');
  assert.equal(r.InternalAddr, '');
  assert.deepEqual(r.FleetMetadata, []);
  assert.deepEqual(r.Overrides, {});
  assert.equal(r.LastBoot, '0001-01-01T00:00:00Z');
  assert.deepEqual(r.Extra, { kept: true });
  assert.deepEqual(Object.keys(r).slice(0, 6), ['Serial', 'State', 'InternalAddr', 'FleetMetadata', 'Overrides', 'Extra']);
  assert.equal(normalizeRecord({ State: 'Installed' }, 'x2').State, 'installed');
  assert.equal(normalizeRecord({ State: 'weird' }, 'x3').State, 'unknown');
  assert.equal(normalizeRecord({}, 'x4').Serial, 'x4');
});
