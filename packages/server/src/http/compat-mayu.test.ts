import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { MachineRecord } from '../store/types.js';
import { ADMIN_TOKEN, agentFacts, json, rawRequest, startTestServer, type TestServer } from './testing.js';

let s: TestServer;
before(async () => {
  s = await startTestServer();
  for (const [serial, mac] of [['MAYU-A', '52:54:00:ee:00:01'], ['MAYU-B', '52:54:00:ee:00:02'], ['MAYU-C', '52:54:00:ee:00:03']] as const) {
    const r = await rawRequest(s.bootPort, 'POST', '/enroll', { headers: json(), body: JSON.stringify(agentFacts(serial, mac)) });
    assert.equal(r.status, 200, r.text);
  }
});
after(() => s.close());

// mayuctl sends no token and no content type.
const put = (serial: string, action: string, body?: string) => rawRequest(s.apiPort, 'PUT', `/admin/host/${serial}/${action}`, body === undefined ? {} : { body });

test('GET /admin/hosts: a JSON array of host records in a stable order', async () => {
  const r1 = await rawRequest(s.apiPort, 'GET', '/admin/hosts');
  assert.equal(r1.status, 200);
  assert.match(String(r1.headers['content-type']), /^application\/json/);
  const hosts = r1.json<MachineRecord[]>();
  assert.deepEqual(hosts.map((h) => h.Serial), [...s.store.records()].map((m) => m.Serial));
  assert.ok(hosts.every((h) => typeof h.InternalAddr === 'string' && Array.isArray(h.MacAddresses)));
  const r2 = await rawRequest(s.apiPort, 'GET', '/admin/hosts');
  assert.equal(r2.text, r1.text);
});

test('set_state stores exactly what it is told (running stays running); unknown states are refused', async () => {
  let r = await put('mayu-a', 'set_state', '{"State":"running"}');
  assert.equal(r.status, 202);
  assert.equal(r.body.length, 0);
  assert.equal(s.store.get('mayu-a')?.State, 'running');
  const commit = (await s.store.history('mayu-a'))[0];
  assert.match(commit?.message ?? '', /operator: mayu-compat/);
  r = await put('mayu-a', 'set_state', '{"State":"configured"}');
  assert.equal(r.status, 202);
  assert.equal(s.store.get('mayu-a')?.State, 'configured');
  r = await put('mayu-a', 'set_state', '{"State":"exploded"}');
  assert.equal(r.status, 400);
  assert.match(String(r.headers['content-type']), /^text\/plain/);
  assert.match(r.text, /State: must be one of "unknown", "configured"/);
  r = await put('mayu-a', 'set_state', '{"State":');
  assert.equal(r.status, 400);
  assert.equal(r.text, 'unable to parse json data in set_state request');
  r = await put('mayu-a', 'set_state');
  assert.equal(r.status, 400);
  assert.equal(r.text, 'unable to parse json data in set_state request');
  r = await put('nobody', 'set_state', '{"State":"running"}');
  assert.equal(r.status, 400);
  assert.equal(r.text, "host doesn't exist");
});

test('override merges into this machine only; an empty override is refused', async () => {
  let r = await put('mayu-b', 'override', '{"Overrides":{"docker_version":"1.12","extra":{"a":1}}}');
  assert.equal(r.status, 202);
  assert.deepEqual(s.store.get('mayu-b')?.Overrides, { docker_version: '1.12', extra: { a: 1 } });
  assert.deepEqual(s.store.get('mayu-c')?.Overrides, {});
  r = await put('mayu-b', 'override', '{"Overrides":{}}');
  assert.equal(r.status, 400);
  assert.equal(r.text, 'nothing to override');
  r = await put('mayu-b', 'override', '{"Overrides":"x"}');
  assert.equal(r.status, 400);
});

test('field setters: provider id, IPMI address, cabinet, metadata, etcd token', async () => {
  const cases: [string, string, (m: MachineRecord) => unknown, unknown][] = [
    ['set_provider_id', '{"ProviderId":"i-123"}', (m) => m.ProviderId, 'i-123'],
    ['set_ipmi_addr', '{"IPMIAddr":"10.9.9.9"}', (m) => m.IPMIAddr, '10.9.9.9'],
    ['set_cabinet', '{"Cabinet":3,"MachineOnCabinet":12}', (m) => [m.Cabinet, m.MachineOnCabinet], [3, 12]],
    ['set_metadata', '{"FleetMetadata":["role=worker","zone=a"]}', (m) => m.FleetMetadata, ['role=worker', 'zone=a']],
    ['set_etcd_cluster_token', '{"EtcdClusterToken":"tok-1"}', (m) => m.EtcdClusterToken, 'tok-1'],
  ];
  for (const [action, body, get, want] of cases) {
    const r = await put('mayu-c', action, body);
    assert.equal(r.status, 202, `${action}: ${r.text}`);
    assert.deepEqual(get(s.store.get('mayu-c') as MachineRecord), want, action);
  }
  let r = await put('mayu-c', 'set_cabinet', '{"Cabinet":"three"}');
  assert.equal(r.status, 400);
  assert.match(r.text, /Cabinet: must be integer/);
  r = await put('mayu-c', 'set_provider_id', '{}');
  assert.equal(r.status, 400);
  assert.match(r.text, /ProviderId: is required/);
});

test('set_installed, boot_complete (versions), mark_fresh', async () => {
  let r = await put('mayu-c', 'set_installed');
  assert.equal(r.status, 202, r.text);
  assert.equal(s.store.get('mayu-c')?.State, 'installed');
  r = await put('mayu-c', 'boot_complete', '{"CoreOSVersion":"1122.2.0","DockerVersion":"1.12.6"}');
  assert.equal(r.status, 202, r.text);
  const m = s.store.get('mayu-c');
  assert.equal(m?.State, 'running');
  assert.equal(m?.CoreOSVersion, '1122.2.0');
  assert.equal(m?.DockerVersion, '1.12.6');
  assert.notEqual(m?.LastBoot, '0001-01-01T00:00:00Z');
  r = await put('mayu-c', 'mark_fresh');
  assert.equal(r.status, 202);
  assert.equal(s.store.get('mayu-c')?.State, 'configured');
});

test('compat paths: traversal and wrong methods', async () => {
  let r = await put('..%2F..%2Fetc', 'set_state', '{"State":"running"}');
  assert.equal(r.status, 400);
  assert.match(String(r.headers['content-type']), /^text\/plain/);
  r = await put('%2e%2e', 'mark_fresh');
  assert.equal(r.status, 400);
  r = await rawRequest(s.apiPort, 'GET', '/admin/host/mayu-a/set_state');
  assert.equal(r.status, 405);
  assert.equal(r.headers['allow'], 'PUT');
  r = await rawRequest(s.apiPort, 'PUT', '/admin/host/mayu-a/self_destruct', { body: '{}' });
  assert.equal(r.status, 404);
});

test('compat_admin: token requires an admin token; off removes the routes', async (t) => {
  const tok = await startTestServer((doc) => {
    (doc['auth'] as Record<string, unknown>)['compat_admin'] = 'token';
  });
  t.after(() => tok.close());
  let r = await rawRequest(tok.apiPort, 'GET', '/admin/hosts');
  assert.equal(r.status, 401);
  assert.match(String(r.headers['content-type']), /^text\/plain/);
  r = await rawRequest(tok.apiPort, 'GET', '/admin/hosts', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  assert.equal(r.status, 200);
  const off = await startTestServer((doc) => {
    (doc['auth'] as Record<string, unknown>)['compat_admin'] = 'off';
  });
  t.after(() => off.close());
  r = await rawRequest(off.apiPort, 'GET', '/admin/hosts');
  assert.equal(r.status, 404);
});

test('a cloud-config profile: /final-cloud-config.yaml answers the cloud-config, the Ignition route a 409', async (t) => {
  const cc = await startTestServer((doc) => {
    doc['profiles'] = [{ name: 'default', config_format: 'cloud-config' }];
  });
  t.after(() => cc.close());
  const body = JSON.stringify({ Serial: 'CC-1', NetDevs: [{ Name: 'eth0', MacAddress: '52:54:00:ff:00:01' }], ConnectedNIC: 'eth0' });
  let r = await rawRequest(cc.bootPort, 'POST', '/final-cloud-config.yaml', { body });
  assert.equal(r.status, 200, r.text);
  assert.match(String(r.headers['content-type']), /^text\/cloud-config/);
  assert.match(r.text, /^#cloud-config/);
  r = await rawRequest(cc.bootPort, 'POST', '/final-ignition-config.json', { body });
  assert.equal(r.status, 409);
  assert.match(r.text, /final-cloud-config\.yaml/);
  r = await rawRequest(cc.apiPort, 'GET', '/api/v1/machines/cc-1/render/ignition', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  assert.equal(r.status, 409);
  r = await rawRequest(cc.apiPort, 'GET', '/api/v1/machines/cc-1/render/config', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  assert.equal(r.status, 200);
  assert.match(r.text, /^#cloud-config/);
});
