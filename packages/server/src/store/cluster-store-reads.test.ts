import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { MachineState } from '../lifecycle/states.js';
import { tempDir } from '../testing/store-fixtures.js';
import { openClusterStore, type ClusterStore } from './cluster-store.js';
import { editableRecord, emptyRecord, serializeRecord } from './record.js';
import type { MachineFilter, MachineRecord } from './types.js';

interface StoreOptions {
  git?: boolean;
  hardwareCacheSize?: number;
}

/** A temporary cluster directory; every store opened on it is closed, and the directory removed, when the test ends. */
function storeDir(t: TestContext): { dir: string; open: (opts?: StoreOptions) => Promise<ClusterStore> } {
  const { dir, cleanup } = tempDir();
  const opened: ClusterStore[] = [];
  t.after(async () => {
    for (const s of opened) await s.close();
    cleanup();
  });
  const open = async (opts: StoreOptions = {}): Promise<ClusterStore> => {
    const store = await openClusterStore({
      dir,
      git: { enabled: opts.git ?? false, authorName: 'Cocoon Test', authorEmail: 'cocoon@test.invalid' },
      indexFlushMs: 20,
      ...(opts.hardwareCacheSize !== undefined && { hardwareCacheSize: opts.hardwareCacheSize }),
    });
    opened.push(store);
    return store;
  };
  return { dir, open };
}

function machine(serial: string, ip: string, n: number, fields: Partial<MachineRecord> = {}): MachineRecord {
  const mac = `52:54:00:aa:00:${n.toString(16).padStart(2, '0')}`;
  return { ...emptyRecord(serial), InternalAddr: ip, MacAddresses: [mac], State: 'installing', Profile: 'worker', ...fields };
}

async function put(store: ClusterStore, rec: MachineRecord): Promise<Readonly<MachineRecord> | undefined> {
  return store.mutate(rec.Serial, () => rec, { what: 'test' });
}

async function change(store: ClusterStore, serial: string, fields: Partial<MachineRecord>): Promise<Readonly<MachineRecord> | undefined> {
  return store.mutate(serial, (cur) => ({ ...editableRecord(cur!), ...fields }), { what: 'test change' });
}

function serialsOf(json: string): string[] {
  return (JSON.parse(json) as MachineRecord[]).map((m) => m.Serial);
}

function pageSerials(store: ClusterStore, filter: MachineFilter, offset: number, limit: number): { total: number; serials: string[] } {
  const p = store.page(filter, offset, limit);
  return { total: p.total, serials: serialsOf(p.json) };
}

test('a record handed out is never stale after mutate, cache eviction or remove', async (t) => {
  const { open } = storeDir(t);
  const store = await open({ hardwareCacheSize: 2 });
  for (let i = 1; i <= 4; i++) await put(store, machine(`m${i}`, `10.0.2.${i}`, i));

  // mutate hands out the record it stored, and reads answer with that very object
  const stored = await change(store, 'm1', { State: 'running' });
  assert.equal(store.get('m1'), stored);
  assert.equal(store.byMac('52:54:00:aa:00:01'), stored);
  assert.equal(store.byIp('10.0.2.1'), stored);
  assert.ok(Object.isFrozen(stored) && Object.isFrozen(stored?.MacAddresses));

  // read everything (evicting m1 from a 2-entry cache), then change each record and read again
  for (let round = 0; round < 3; round++) {
    for (let i = 1; i <= 4; i++) {
      assert.equal(store.get(`m${i}`)?.Hostname, round === 0 ? '' : `h${i}-${round - 1}`);
      assert.equal(store.byIp(`10.0.2.${i}`)?.Serial, `m${i}`);
    }
    for (let i = 1; i <= 4; i++) {
      const seen = store.get(`m${i}`); // cached before the change
      await change(store, `m${i}`, { Hostname: `h${i}-${round}` });
      assert.notEqual(store.get(`m${i}`), seen);
      assert.equal(store.get(`m${i}`)?.Hostname, `h${i}-${round}`);
      assert.equal(store.byMac(`52:54:00:aa:00:0${i}`)?.Hostname, `h${i}-${round}`);
    }
  }
  // a record evicted from the cache comes back equal, frozen, and from then on cached again
  const again = store.get('m1');
  assert.deepEqual(again, { ...machine('m1', '10.0.2.1', 1), State: 'running', Hostname: 'h1-2' });
  assert.ok(Object.isFrozen(again?.Overrides));
  assert.equal(store.get('m1'), again);
  assert.equal(store.get('M1'), again, 'serials are matched case-insensitively');

  // removal drops it from every index and the cache; a new record of that serial is served fresh
  assert.ok(store.get('m2'));
  assert.equal(await store.remove('m2', { what: 'decommissioned' }), true);
  assert.equal(store.get('m2'), undefined);
  assert.equal(store.byMac('52:54:00:aa:00:02'), undefined);
  assert.equal(store.byIp('10.0.2.2'), undefined);
  await put(store, machine('m2', '10.0.2.99', 9, { Hostname: 'reborn' }));
  assert.equal(store.get('m2')?.Hostname, 'reborn');
  assert.equal(store.byIp('10.0.2.2'), undefined);
  assert.equal(store.byMac('52:54:00:aa:00:02'), undefined);
  assert.equal(store.byMac('52:54:00:aa:00:09')?.Serial, 'm2');

  // an unchanged write stores nothing and answers the current record
  const cur = store.get('m3');
  assert.equal(await store.mutate('m3', (c) => editableRecord(c!), { what: 'nothing' }), cur);
});

test('page(): stable order, total, offset and limit, with and without filters; counts() per state and profile', async (t) => {
  const { open } = storeDir(t);
  const store = await open();
  const spec: [string, string, MachineState, string][] = [
    ['e', '10.0.3.5', 'running', 'worker'],
    ['a', '10.0.3.20', 'installing', 'worker'],
    ['c', '10.0.3.3', 'running', 'cp'],
    ['noip', '', 'unknown', ''],
    ['b', '10.0.3.100', 'running', 'worker'],
    ['d', '10.0.3.3', 'failed', 'cp'], // same address as c: serial breaks the tie
    ['f', '9.255.255.255', 'running', 'worker'], // numerically, not as text
  ];
  for (const [i, [serial, ip, state, profile]] of spec.entries()) await put(store, machine(serial, ip, i + 1, { State: state, Profile: profile }));

  const order = ['f', 'c', 'd', 'e', 'a', 'b', 'noip'];
  assert.deepEqual(pageSerials(store, {}, 0, 100), { total: 7, serials: order });
  assert.deepEqual(pageSerials(store, {}, 2, 3), { total: 7, serials: ['d', 'e', 'a'] });
  assert.deepEqual(pageSerials(store, {}, 6, 3), { total: 7, serials: ['noip'] });
  assert.deepEqual(pageSerials(store, {}, 7, 3), { total: 7, serials: [] });
  assert.deepEqual(store.page({}, 0, 0), { total: 7, json: '[]' });
  assert.deepEqual(pageSerials(store, { state: 'running' }, 0, 100), { total: 4, serials: ['f', 'c', 'e', 'b'] });
  assert.deepEqual(pageSerials(store, { state: 'running' }, 1, 2), { total: 4, serials: ['c', 'e'] });
  assert.deepEqual(pageSerials(store, { state: 'running' }, 4, 2), { total: 4, serials: [] });
  assert.deepEqual(pageSerials(store, { profile: 'cp' }, 0, 100), { total: 2, serials: ['c', 'd'] });
  assert.deepEqual(pageSerials(store, { profile: 'worker', state: 'running' }, 1, 100), { total: 3, serials: ['e', 'b'] });
  assert.deepEqual(pageSerials(store, { state: 'configured' }, 0, 100), { total: 0, serials: [] });
  assert.deepEqual(pageSerials(store, { mac: '52-54-00-AA-00-02' }, 0, 10), { total: 1, serials: ['a'] });
  assert.deepEqual(pageSerials(store, { mac: '52:54:00:aa:00:02' }, 1, 10), { total: 1, serials: [] });
  assert.deepEqual(pageSerials(store, { mac: '52:54:00:aa:00:02', state: 'running' }, 0, 10), { total: 0, serials: [] });
  assert.deepEqual(pageSerials(store, { mac: '52:54:00:aa:00:77' }, 0, 10), { total: 0, serials: [] });

  // the page text is exactly JSON.stringify of the records, and records()/recordTexts() agree
  const all = store.page({}, 0, 100).json;
  assert.equal(all, JSON.stringify(order.map((s) => store.get(s))));
  assert.equal(`[${[...store.recordTexts()].join(',')}]`, all);
  assert.equal(JSON.stringify([...store.records()]), all);

  assert.deepEqual(store.counts(), [
    { state: 'unknown', profile: '', count: 1 },
    { state: 'installing', profile: 'worker', count: 1 },
    { state: 'running', profile: 'cp', count: 1 },
    { state: 'running', profile: 'worker', count: 3 },
    { state: 'failed', profile: 'cp', count: 1 },
  ]);
  await change(store, 'a', { State: 'running' });
  await change(store, 'd', { Profile: 'worker', State: 'running' });
  await store.remove('noip', { what: 'gone' });
  assert.deepEqual(store.counts(), [
    { state: 'running', profile: 'cp', count: 1 },
    { state: 'running', profile: 'worker', count: 5 },
  ]);
  assert.equal(store.count(), 6);

  // a restarted store (records read from the files) pages byte for byte the same
  const before = store.page({}, 0, 100).json;
  await store.close();
  const reopened = await open();
  assert.equal(reopened.page({}, 0, 100).json, before);
  assert.deepEqual(reopened.counts(), store.counts());
});

test('an address change moves the record in the order; removal takes it out; a snapshot iteration is unaffected', async (t) => {
  const { open } = storeDir(t);
  const store = await open({ git: true });
  for (let i = 1; i <= 5; i++) await put(store, machine(`s${i}`, `10.0.4.${i * 10}`, i));
  const order = (): string[] => serialsOf(store.page({}, 0, 100).json);
  assert.deepEqual(order(), ['s1', 's2', 's3', 's4', 's5']);

  const snapshot = store.records();
  assert.equal(snapshot.next().value?.Serial, 's1');

  await change(store, 's1', { InternalAddr: '10.0.4.45' });
  assert.deepEqual(order(), ['s2', 's3', 's4', 's1', 's5']);
  await change(store, 's5', { InternalAddr: '10.0.4.1' });
  assert.deepEqual(order(), ['s5', 's2', 's3', 's4', 's1']);
  await change(store, 's3', { InternalAddr: '' });
  assert.deepEqual(order(), ['s5', 's2', 's4', 's1', 's3']);
  assert.equal(store.byIp('10.0.4.30'), undefined);
  assert.equal(store.byIp('10.0.4.45')?.Serial, 's1');
  await change(store, 's3', { InternalAddr: '10.0.4.20' }); // ties with s2: serial decides
  assert.deepEqual(order(), ['s5', 's2', 's3', 's4', 's1']);
  await store.remove('s4', { what: 'gone' });
  assert.deepEqual(order(), ['s5', 's2', 's3', 's1']);
  assert.deepEqual(pageSerials(store, {}, 1, 2), { total: 4, serials: ['s2', 's3'] });

  // the iteration started before the changes still yields each machine once, as it was then
  assert.deepEqual([...snapshot].map((m) => `${m.Serial}@${m.InternalAddr}`), ['s2@10.0.4.20', 's3@10.0.4.30', 's4@10.0.4.40', 's5@10.0.4.50']);
});

test('records with fields this version does not know round-trip unchanged, in memory and on disk', async (t) => {
  const { dir, open } = storeDir(t);
  const raw = {
    Serial: 'legacy1',
    ZetaField: { nested: [1, 'two', { three: null }], flag: true },
    MacAddresses: ['52:54:00:bb:00:01'],
    InternalAddr: '10.0.5.1',
    State: 'running',
    Alpha: 'kept',
    Hardware: { nics: [{ name: 'eno1', mac: '52:54:00:bb:00:01', speedMbps: null }], memoryBytes: 68719476736 },
    Unicode: 'Grüße ✓ \u2028',
  };
  mkdirSync(path.join(dir, 'legacy1'));
  writeFileSync(path.join(dir, 'legacy1', 'conf.json'), JSON.stringify(raw, null, 4));
  const store = await open({ git: true });

  const rec = store.get('legacy1') as Readonly<MachineRecord>;
  assert.deepEqual(rec['ZetaField'], raw.ZetaField);
  assert.equal(rec['Alpha'], 'kept');
  assert.equal(rec['Unicode'], raw.Unicode);
  assert.deepEqual(rec.Hardware, raw.Hardware);
  assert.deepEqual(Object.keys(rec).slice(0, 7), ['Serial', 'ZetaField', 'MacAddresses', 'InternalAddr', 'State', 'Alpha', 'Hardware'], "the file's field order first");
  assert.equal(store.page({}, 0, 1).json, `[${JSON.stringify(rec)}]`);

  const updated = await change(store, 'legacy1', { ProviderId: 'rack-7' });
  const onDisk = readFileSync(path.join(dir, 'legacy1', 'conf.json'), 'utf8');
  assert.equal(onDisk, serializeRecord(updated as MachineRecord), "the file keeps serializeRecord's format");
  const parsed = JSON.parse(onDisk) as Record<string, unknown>;
  assert.deepEqual(parsed['ZetaField'], raw.ZetaField);
  assert.equal(parsed['Unicode'], raw.Unicode);
  assert.equal(parsed['ProviderId'], 'rack-7');
  assert.deepEqual(Object.keys(parsed), Object.keys(rec));
  assert.equal([...store.recordTexts()][0], JSON.stringify(updated));
});

test('open reads the directory in batches: every record is indexed, an uncommitted change past the first batch is recovered', async (t) => {
  const { dir, open } = storeDir(t);
  const n = 600; // more than two load batches
  const write = (i: number, fields: Partial<MachineRecord> = {}): void => {
    const serial = `b${String(i).padStart(4, '0')}`;
    mkdirSync(path.join(dir, serial), { recursive: true });
    writeFileSync(path.join(dir, serial, 'conf.json'), serializeRecord(machine(serial, `10.1.${i >> 8}.${i & 255}`, i & 255, fields)));
  };
  for (let i = 0; i < n; i++) write(i);
  const first = await open({ git: true });
  assert.equal(first.count(), n);
  await first.close();

  write(555, { State: 'running' }); // as if the process died between the write and the commit
  const second = await open({ git: true });
  assert.deepEqual(second.recovered, ['b0555']);
  assert.equal(second.count(), n);
  assert.equal(second.get('b0555')?.State, 'running');
  const all = serialsOf(second.page({}, 0, n).json);
  assert.deepEqual(all, Array.from({ length: n }, (_, i) => `b${String(i).padStart(4, '0')}`));
  assert.deepEqual(second.counts(), [
    { state: 'installing', profile: 'worker', count: n - 1 },
    { state: 'running', profile: 'worker', count: 1 },
  ]);
});

test('hardware facts are read on demand, cached in a bounded LRU, and each record keeps its own version', async (t) => {
  const { dir, open } = storeDir(t);
  const facts = (n: number): Record<string, unknown> => ({ nics: [{ name: 'eno1', mac: `52:54:00:aa:00:0${n}` }], memoryBytes: n * 1024 });
  let store = await open({ hardwareCacheSize: 2 });
  for (let i = 1; i <= 4; i++) await put(store, machine(`h${i}`, `10.0.4.${i}`, i, { Hardware: facts(i) }));

  // A restarted store reads the files: every fact comes back through the stored text.
  await store.close();
  store = await open({ hardwareCacheSize: 2 });
  for (let round = 0; round < 2; round++) {
    for (let i = 1; i <= 4; i++) assert.deepEqual(store.get(`h${i}`)?.Hardware, facts(i));
  }
  const h1 = store.get('h1');
  assert.ok(h1 && Object.isFrozen(h1.Hardware) && Object.isFrozen((h1.Hardware as { nics: object[] }).nics[0]));
  assert.equal(h1.Hardware, store.get('h1')?.Hardware, 'a cached read hands out the same frozen object');
  assert.equal(JSON.stringify(h1), JSON.stringify(JSON.parse(readFileSync(path.join(dir, 'h1', 'conf.json'), 'utf8'))), 'same text as the file');

  // A record handed out before a change keeps its own facts; the new record has the new ones.
  const before = store.get('h2');
  await change(store, 'h2', { Hardware: facts(9) });
  assert.deepEqual(before?.Hardware, facts(2));
  assert.deepEqual(store.get('h2')?.Hardware, facts(9));
  // The change kept everything else, and a change that leaves the facts alone keeps them.
  await change(store, 'h2', { Hostname: 'renamed' });
  assert.deepEqual(store.get('h2')?.Hardware, facts(9));
  assert.equal(store.get('h2')?.Hostname, 'renamed');
});
