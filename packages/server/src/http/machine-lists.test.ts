import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { emptyRecord } from '../store/record.js';
import type { MachineRecord } from '../store/types.js';
import { READ_TOKEN, rawRequest, startTestServer, type TestServer } from './testing.js';

// The fleet-wide answers built from stored record texts (the list page, mayu's host list streamed
// in chunks) must be byte for byte what serialising the records gives.

const N = 150; // ~2 KB each: the host list spans several 64 KB chunks

let s: TestServer;
before(async () => {
  s = await startTestServer();
  for (let i = 0; i < N; i++) {
    const serial = `list-${String(i).padStart(3, '0')}`;
    const mac = (port: number): string => `52:54:01:00:${i.toString(16).padStart(2, '0')}:0${port}`;
    const rec: MachineRecord = {
      ...emptyRecord(serial),
      MacAddresses: [0, 1, 2, 3].map(mac),
      // Addresses not in serial order, and one record without an address (sorted last).
      InternalAddr: i === 7 ? '' : `10.99.${(i * 37) % 200}.${(i % 200) + 1}`,
      State: i % 3 === 0 ? 'running' : 'installing',
      Profile: i % 2 === 0 ? 'worker' : 'control',
      Hardware: {
        vendor: 'Dell Inc.',
        nics: [0, 1, 2, 3].map((p) => ({ name: `eno${p}`, mac: mac(p), driver: 'ixgbe', pciAddress: `0000:18:00.${p}`, link: 'up', speedMbps: 10000 })),
        disks: [0, 1, 2, 3].map((d) => ({ name: `sd${'abcd'[d]}`, sizeBytes: 960197124096, model: 'SAMSUNG MZQL2960HCJR-00A07', serial: `S64F${i}${d}`, wwn: `eui.${i}${d}` })),
        note: 'Grüße ✓',
      },
    };
    await s.store.mutate(serial, () => rec, { what: 'seeded' });
  }
});
after(() => s.close());

test('GET /admin/hosts streams exactly JSON.stringify of every record, in the stable order', async () => {
  const r = await rawRequest(s.apiPort, 'GET', '/admin/hosts');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/json; charset=utf-8');
  const records = [...s.store.records()];
  assert.equal(records.length, N);
  assert.ok(r.body.length > 3 * 64 * 1024, `several chunks (${r.body.length} bytes)`);
  assert.equal(r.text, `${JSON.stringify(records)}\n`);
  assert.equal(records.at(-1)?.InternalAddr, '', 'a record without an address sorts last');
});

test('a client that goes away mid-stream does not disturb the server', async () => {
  await new Promise<void>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: s.apiPort, path: '/admin/hosts', agent: false }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? resolve() : reject(err)));
  });
  const r = await rawRequest(s.apiPort, 'GET', '/admin/hosts');
  assert.equal(r.status, 200);
  assert.equal((JSON.parse(r.text) as unknown[]).length, N);
});

test('GET /api/v1/machines answers what serialising the page of records gives, with and without filters', async () => {
  const auth = { authorization: `Bearer ${READ_TOKEN}` };
  const all = [...s.store.records()];
  const cases: [string, MachineRecord[], number, number][] = [
    ['/api/v1/machines?limit=50&offset=30', all, 30, 50],
    ['/api/v1/machines', all, 0, 1000],
    ['/api/v1/machines?state=running&limit=7&offset=3', all.filter((m) => m.State === 'running'), 3, 7],
    ['/api/v1/machines?profile=control&state=installing&offset=40', all.filter((m) => m.Profile === 'control' && m.State === 'installing'), 40, 1000],
    ['/api/v1/machines?mac=52-54-01-00-05-02', all.filter((m) => m.Serial === 'list-005'), 0, 1000],
    ['/api/v1/machines?offset=500', all, 500, 1000],
  ];
  for (const [url, matching, offset, limit] of cases) {
    const r = await rawRequest(s.apiPort, 'GET', url, { headers: auth });
    assert.equal(r.status, 200, url);
    assert.equal(r.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(r.text, JSON.stringify({ total: matching.length, offset, limit, machines: matching.slice(offset, offset + limit) }), url);
  }
});
