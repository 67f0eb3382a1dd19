import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { emptyRecord } from '../store/record.js';
import type { MachineRecord } from '../store/types.js';
import { labConfig as testConfig } from '../testing/lab-config.js';
import { openTestStore } from '../testing/store-fixtures.js';
import { HostsDir, hostLine } from './hosts-dir.js';
import { LeaseCounter } from './lease-file.js';

const AUDIT = { what: 'test' };

function testMachine(serial: string, fields: Partial<MachineRecord> = {}): MachineRecord {
  return { ...emptyRecord(serial), ...fields };
}
const M1 = '52:54:00:aa:00:01';
const M2 = '52:54:00:aa:00:02';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cocoon-hosts-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function files(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(path.join(dir, f), 'utf8')]));
}

test('hostLine follows the policy and never emits set: tags', () =>
  withDir(async (dir) => {
    const answer = testConfig(dir);
    const ignore = testConfig(dir, { host_policy: 'ignore-installed' });
    const statik = testConfig(dir, { static_leases: true });
    const running = testMachine('s1', { State: 'running', InternalAddr: '10.77.0.10', MacAddresses: [M1] });
    const installing = testMachine('s1', { State: 'installing', InternalAddr: '10.77.0.10', MacAddresses: [M1] });
    assert.equal(hostLine(answer, M1, running, undefined), undefined);
    assert.equal(hostLine(ignore, M1, running, undefined), `${M1},ignore`);
    assert.equal(hostLine(ignore, M1, installing, undefined), undefined);
    assert.equal(hostLine(statik, M1, installing, undefined), `${M1},10.77.0.10`);
    assert.equal(hostLine(answer, M1, undefined, { mac: M1, ip: '10.77.0.20' }), `${M1},10.77.0.20`);
    assert.equal(hostLine(answer, M1, undefined, { mac: M1 }), undefined);
    for (const l of [hostLine(ignore, M1, running, undefined), hostLine(statik, M1, installing, undefined)]) assert.doesNotMatch(l ?? '', /set:|tag:/);
  }));

test('reconcile writes the desired files and removes strays; changes are incremental; removals ask for SIGHUP', () =>
  withDir(async (dir) => {
    const store = await openTestStore(path.join(dir, 'cluster'), false);
    await store.mutate('s1', () => testMachine('s1', { State: 'running', MacAddresses: [M1, M2], InternalAddr: '10.77.0.10' }), AUDIT);
    await store.mutate('s2', () => testMachine('s2', { State: 'installing', MacAddresses: ['52:54:00:aa:00:03'] }), AUDIT);
    const hostsDir = path.join(dir, 'hosts');
    mkdirSync(hostsDir);
    writeFileSync(path.join(hostsDir, 'stale-entry'), '52:54:00:ff:ff:ff,ignore\n');
    const cfg = testConfig(dir, { host_policy: 'ignore-installed' }, { machines: [{ mac: '52:54:00:aa:00:09', ip: '10.77.0.30' }] });
    let reloads = 0;
    const hd = new HostsDir({ dir: hostsDir, config: cfg, store, requestReload: () => reloads++, reloadDelayMs: 5 });
    const r = await hd.reconcile();
    assert.deepEqual(r, { written: 3, removed: 1 });
    assert.deepEqual(files(hostsDir), {
      '52-54-00-aa-00-01': `${M1},ignore\n`,
      '52-54-00-aa-00-02': `${M2},ignore\n`,
      '52-54-00-aa-00-09': '52:54:00:aa:00:09,10.77.0.30\n',
    });
    assert.equal(await hd.reconcile().then((x) => x.written), 0, 'an unchanged dir is not rewritten');

    hd.follow();
    hd.setLive(true);
    // s2 becomes installed: an ignore file appears (inotify does the rest: no SIGHUP).
    await store.mutate('s2', (cur) => ({ ...cur!, State: 'installed' }), AUDIT);
    await hd.idle();
    assert.equal(files(hostsDir)['52-54-00-aa-00-03'], '52:54:00:aa:00:03,ignore\n');
    await new Promise((res) => setTimeout(res, 30));
    assert.equal(reloads, 0);
    // s1 is reinstalled (configured) and loses M2: both files go, one coalesced SIGHUP.
    await store.mutate('s1', (cur) => ({ ...cur!, State: 'configured', MacAddresses: [M1] }), AUDIT);
    await hd.idle();
    assert.equal(files(hostsDir)['52-54-00-aa-00-01'], undefined);
    assert.equal(files(hostsDir)['52-54-00-aa-00-02'], undefined);
    await new Promise((res) => setTimeout(res, 30));
    assert.equal(reloads, 1);
    // Decommissioned machine: its entry goes.
    await store.remove('s2', AUDIT);
    await hd.idle();
    assert.deepEqual(Object.keys(files(hostsDir)), ['52-54-00-aa-00-09']);
    assert.equal(hd.entryCount, 1);
    assert.ok(!readdirSync(hostsDir).some((f) => f.startsWith('.')), 'no temporary files left');
    hd.close();
    await store.close();
  }));

test('lease counter streams the file and skips the duid line', () =>
  withDir(async (dir) => {
    const file = path.join(dir, 'leases');
    const c = new LeaseCounter(file);
    assert.equal(await c.count(), 0);
    writeFileSync(file, 'duid 00:01:00:01\n1763700000 52:54:00:aa:00:01 10.77.0.100 * 01:52:54:00:aa:00:01\n1763700001 52:54:00:aa:00:02 10.77.0.101 * *\n');
    assert.equal(await c.count(), 2);
  }));

test('a machine declared through the API gets a static lease MAC,IP for its declared address, before and after it reports in', () =>
  withDir(async (dir) => {
    const answer = testConfig(dir);
    const declared = testMachine('52-54-00-aa-00-02', { State: 'unknown', InternalAddr: '10.77.0.40', MacAddresses: [M2], Declared: true });
    assert.equal(hostLine(answer, M2, declared, undefined), `${M2},10.77.0.40`);
    // a diskless machine stays declared while it runs: it keeps its address on every boot
    assert.equal(hostLine(answer, M2, { ...declared, State: 'running' }, undefined), `${M2},10.77.0.40`);
    assert.equal(hostLine(answer, M2, { ...declared, Declared: undefined }, undefined), undefined);
  }));
