import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { MachineRecord } from '../store/types.js';
import type { Problem } from './problem.js';
import { ADMIN_TOKEN, READ_TOKEN, agentFacts, json, rawRequest, startTestServer, type TestServer } from './testing.js';

let s: TestServer;
before(async () => {
  s = await startTestServer();
  for (let i = 1; i <= 4; i++) {
    const r = await rawRequest(s.bootPort, 'POST', '/enroll', { headers: json(), body: JSON.stringify(agentFacts(`API-${i}`, `52:54:00:cc:00:0${i}`)) });
    assert.equal(r.status, 200, r.text);
  }
});
after(() => s.close());

const api = (method: string, path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) =>
  rawRequest(s.apiPort, method, path, {
    headers: { ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...opts.headers },
    ...(opts.body !== undefined ? { body: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) } : {}),
  });
const admin = (method: string, path: string, body?: unknown) => api(method, path, { token: ADMIN_TOKEN, ...(body !== undefined ? { body } : {}) });
const reader = (method: string, path: string, body?: unknown) => api(method, path, { token: READ_TOKEN, ...(body !== undefined ? { body } : {}) });

interface Page {
  total: number;
  offset: number;
  limit: number;
  machines: MachineRecord[];
}

test('healthz needs no token; the API does; a read token cannot change anything', async () => {
  let r = await api('GET', '/healthz');
  assert.equal(r.status, 200);
  assert.equal(r.json<{ status: string }>().status, 'ok');
  r = await api('GET', '/api/v1/machines');
  assert.equal(r.status, 401);
  assert.match(String(r.headers['content-type']), /^application\/problem\+json/);
  r = await api('GET', '/api/v1/machines', { token: 'wrong-token-wrong-token' });
  assert.equal(r.status, 401);
  r = await reader('PUT', '/api/v1/machines/api-1/state', { state: 'configured', reason: 'x' });
  assert.equal(r.status, 403);
  r = await reader('GET', '/metrics');
  assert.equal(r.status, 200);
  r = await api('GET', '/metrics');
  assert.equal(r.status, 401);
});

test('list: stable order, filters, paging, bad filters', async () => {
  let r = await reader('GET', '/api/v1/machines');
  assert.equal(r.status, 200);
  const page = r.json<Page>();
  assert.ok(page.total >= 4);
  const ips = page.machines.map((m) => m.InternalAddr);
  const sorted = [...ips].sort((a, b) => a.split('.').map(Number).reduce((x, y) => x * 256 + y, 0) - b.split('.').map(Number).reduce((x, y) => x * 256 + y, 0));
  assert.deepEqual(ips, sorted);
  r = await reader('GET', '/api/v1/machines?limit=2&offset=1');
  assert.deepEqual(r.json<Page>().machines.map((m) => m.Serial), page.machines.slice(1, 3).map((m) => m.Serial));
  r = await reader('GET', '/api/v1/machines?state=installing&profile=control');
  assert.ok(r.json<Page>().machines.every((m) => m.State === 'installing' && m.Profile === 'control'));
  assert.equal(r.json<Page>().total, 2);
  r = await reader('GET', '/api/v1/machines?mac=52-54-00-CC-00-03');
  assert.deepEqual(r.json<Page>().machines.map((m) => m.Serial), ['api-3']);
  r = await reader('GET', '/api/v1/machines?state=sleeping');
  assert.equal(r.status, 400);
  assert.equal(r.json<Problem>().field, 'state');
  assert.match(r.json<Problem>().detail, /must be one of "unknown"/);
  r = await reader('GET', '/api/v1/machines?limit=0');
  assert.equal(r.status, 400);
  r = await reader('GET', '/api/v1/machines?limit=abc');
  assert.equal(r.status, 400);
});

test('get one; unknown is 404; traversal in the serial is 400', async () => {
  let r = await reader('GET', '/api/v1/machines/api-1');
  assert.equal(r.status, 200);
  assert.equal(r.json<MachineRecord>().Serial, 'api-1');
  r = await reader('GET', '/api/v1/machines/API-1');
  assert.equal(r.status, 200);
  r = await reader('GET', '/api/v1/machines/nobody');
  assert.equal(r.status, 404);
  assert.match(r.json<Problem>().detail, /"nobody" does not exist/);
  for (const p of ['..%2F..%2Fetc%2Fpasswd', '%2e%2e%2f%2e%2e%2fetc', '%252e%252e%252f', '..']) {
    r = await reader('GET', `/api/v1/machines/${p}`);
    assert.equal(r.status, 400, p);
    r = await reader('GET', `/api/v1/machines/api-1/render/${p}`);
    assert.equal(r.status, 400, p);
    r = await admin('PUT', `/api/v1/machines/api-1/overrides/${p}`, { value: 1 });
    assert.equal(r.status, 400, p);
  }
});

test('PATCH operator fields; bad bodies name the field; audit commit names the operator', async () => {
  let r = await admin('PATCH', '/api/v1/machines/api-1', { ProviderId: 'rack-7/slot-3', Cabinet: 7, reason: 'racked' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json<MachineRecord>().ProviderId, 'rack-7/slot-3');
  assert.equal(s.store.get('api-1')?.Cabinet, 7);
  const hist = await s.store.history('api-1');
  assert.match(hist[0]?.message ?? '', /operator: alice/);
  assert.match(hist[0]?.message ?? '', /reason: racked/);
  r = await admin('PATCH', '/api/v1/machines/api-1', { Cabinet: 'seven' });
  assert.equal(r.status, 400);
  assert.equal(r.json<Problem>().field, 'Cabinet');
  r = await admin('PATCH', '/api/v1/machines/api-1', { State: 'running' });
  assert.equal(r.status, 400);
  assert.match(r.json<Problem>().detail, /State: unknown key/);
  r = await admin('PATCH', '/api/v1/machines/api-1', {});
  assert.equal(r.status, 400);
  r = await admin('PATCH', '/api/v1/machines/api-1', '{"ProviderId":');
  assert.equal(r.status, 400);
  r = await admin('PATCH', '/api/v1/machines/api-1', { ProviderId: 'x'.repeat(70_000) });
  assert.equal(r.status, 413);
  r = await api('PATCH', '/api/v1/machines/api-1', { token: ADMIN_TOKEN, body: 'ProviderId=x', headers: { 'content-type': 'text/plain' } });
  assert.equal(r.status, 415);
  r = await admin('PATCH', '/api/v1/machines/nobody', { ProviderId: 'x' });
  assert.equal(r.status, 404);
});

test('state with a reason; overrides of one machine never show in another', async () => {
  let r = await admin('PUT', '/api/v1/machines/api-2/state', { state: 'configured', reason: 'reinstall' });
  assert.equal(r.status, 200, r.text);
  assert.equal(s.store.get('api-2')?.State, 'configured');
  r = await admin('PUT', '/api/v1/machines/api-2/state', { state: 'configured' });
  assert.equal(r.status, 400);
  assert.equal(r.json<Problem>().field, 'reason');
  r = await admin('PUT', '/api/v1/machines/api-2/state', { state: 'melted', reason: 'x' });
  assert.equal(r.status, 400);
  r = await admin('PUT', '/api/v1/machines/api-2/overrides/ssh_key', { value: 'ssh-ed25519 AAAA' });
  assert.equal(r.status, 200, r.text);
  assert.equal(s.store.get('api-2')?.Overrides['ssh_key'], 'ssh-ed25519 AAAA');
  assert.equal(s.store.get('api-3')?.Overrides['ssh_key'], undefined);
  r = await admin('PUT', '/api/v1/machines/api-2/overrides/ssh_key', {});
  assert.equal(r.status, 400);
  r = await admin('DELETE', '/api/v1/machines/api-2/overrides/ssh_key?reason=gone');
  assert.equal(r.status, 200);
  assert.equal(s.store.get('api-2')?.Overrides['ssh_key'], undefined);
});

test('history with patches, previews, timeline, status, metrics', async () => {
  let r = await reader('GET', '/api/v1/machines/api-1/history?patch=1&limit=5');
  assert.equal(r.status, 200);
  const h = r.json<{ history: { message: string; patch?: string }[] }>().history;
  assert.ok(h.length >= 2);
  assert.ok(h.some((e) => (e.patch ?? '').includes('ProviderId')));
  r = await reader('GET', '/api/v1/machines/nobody/history');
  assert.equal(r.status, 404);

  r = await reader('GET', '/api/v1/machines/api-1/render/ipxe');
  assert.equal(r.status, 200);
  assert.match(r.text, /^#!ipxe/);
  r = await reader('GET', '/api/v1/machines/api-1/render/ignition');
  assert.equal(r.status, 200);
  assert.match(JSON.parse(r.text).ignition.version, /^3\./);
  r = await reader('GET', '/api/v1/machines/api-1/render/first-stage');
  assert.equal(r.status, 200);
  r = await reader('GET', '/api/v1/machines/api-1/render/kernel');
  assert.equal(r.status, 400);
  assert.equal(r.json<Problem>().field, 'kind');

  r = await reader('GET', '/api/v1/machines/api-1/timeline');
  assert.equal(r.status, 200);
  const events = r.json<{ events: { type: string }[] }>().events;
  assert.ok(events.some((e) => e.type === 'enrolled'), JSON.stringify(events));

  r = await reader('GET', '/api/v1/status');
  assert.equal(r.status, 200);
  const st = r.json<{ version: string; machines: { total: number }; dnsmasq: unknown }>();
  assert.ok(st.machines.total >= 4);
  assert.deepEqual(st.dnsmasq, { enabled: false });

  r = await reader('GET', '/metrics');
  assert.match(r.text, /cocoon_machines\{state="installing",profile="control"\} \d/);
  assert.match(r.text, /cocoon_renders_total\{kind="final-config"\} \d/);
  assert.match(r.text, /cocoon_http_request_duration_seconds_bucket\{[^}]*route="\/enroll"/);
  assert.match(r.text, /cocoon_events_total/);
});

test('SSE: /api/v1/events streams live events; JSON with Accept: application/json', async () => {
  const got = await new Promise<string>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: s.apiPort, path: '/api/v1/events?serial=api-4&type=progress', headers: { authorization: `Bearer ${READ_TOKEN}` } }, (res) => {
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /^text\/event-stream/);
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        if (buf.includes('event: progress')) {
          req.destroy();
          resolve(buf);
        }
      });
      // Publish once the stream is open.
      void rawRequest(s.bootPort, 'POST', '/machines/api-4/progress', { headers: json(), body: '{"message":"sse check"}' });
    });
    req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err)));
  });
  assert.match(got, /"message":"sse check"/);
  const r = await api('GET', '/api/v1/events?serial=api-4', { token: READ_TOKEN, headers: { accept: 'application/json' } });
  assert.equal(r.status, 200);
  assert.ok(r.json<{ events: { message: string }[] }>().events.some((e) => e.message === 'sse check'));
  const timeline = await new Promise<string>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: s.apiPort, path: '/api/v1/machines/api-4/timeline?follow=1', headers: { authorization: `Bearer ${READ_TOKEN}` } }, (res) => {
      resolve(String(res.headers['content-type']));
      req.destroy();
    });
    req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err)));
  });
  assert.match(timeline, /^text\/event-stream/);
  const head = await reader('HEAD', '/api/v1/events');
  assert.equal(head.status, 200);
  assert.match(String(head.headers['content-type']), /^text\/event-stream/);
  const bad = await reader('GET', '/api/v1/events?mac=nope');
  assert.equal(bad.status, 400);
  assert.equal(bad.json<Problem>().field, 'mac');
});

test('declare, rescue, decommission (reason required), wrong methods', async () => {
  let r = await admin('POST', '/api/v1/machines', { mac: '52:54:00:dd:00:01', serial: 'declared-1', profile: 'default', reason: 'new rack' });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.headers['location'], '/api/v1/machines/declared-1');
  r = await admin('POST', '/api/v1/machines', { mac: '52:54:00:dd:00:01' });
  assert.equal(r.status, 409);
  r = await admin('POST', '/api/v1/machines', { mac: 'nope' });
  assert.equal(r.status, 400);
  // No rescue image in this server's config: the request could never be served (ramboot.test has one).
  r = await admin('POST', '/api/v1/machines/declared-1/rescue', { reason: 'fsck' });
  assert.equal(r.status, 409, r.text);
  assert.equal(r.json<Problem>().field, 'rescue');
  assert.match(r.json<Problem>().detail ?? '', /no rescue image is configured/);
  assert.equal(s.store.get('declared-1')?.RescuePending, undefined);
  r = await admin('DELETE', '/api/v1/machines/declared-1');
  assert.equal(r.status, 400);
  assert.equal(r.json<Problem>().field, 'reason');
  r = await admin('DELETE', '/api/v1/machines/declared-1?reason=returned');
  assert.equal(r.status, 204);
  assert.equal(s.store.get('declared-1'), undefined);
  r = await reader('GET', '/api/v1/machines/declared-1');
  assert.equal(r.status, 404);
  r = await admin('POST', '/api/v1/machines/api-1');
  assert.equal(r.status, 405);
  assert.equal(r.headers['allow'], 'DELETE, GET, HEAD, PATCH');
  r = await admin('GET', '/api/v1/machines/api-1/state');
  assert.equal(r.status, 405);
  r = await admin('GET', '/api/v1/nothing');
  assert.equal(r.status, 404);
  assert.match(String(r.headers['content-type']), /^application\/problem\+json/);
});

test('the OpenAPI document covers every route of both ports', async () => {
  const r = await api('GET', '/api/v1/openapi.json');
  assert.equal(r.status, 200);
  const doc = r.json<{ openapi: string; paths: Record<string, Record<string, unknown>> }>();
  assert.equal(doc.openapi, '3.1.0');
  const expected = [
    ['get', '/api/v1/machines'], ['post', '/api/v1/machines'], ['get', '/api/v1/machines/{serial}'], ['patch', '/api/v1/machines/{serial}'],
    ['delete', '/api/v1/machines/{serial}'], ['put', '/api/v1/machines/{serial}/state'], ['put', '/api/v1/machines/{serial}/overrides/{key}'],
    ['delete', '/api/v1/machines/{serial}/overrides/{key}'], ['post', '/api/v1/machines/{serial}/rescue'], ['get', '/api/v1/machines/{serial}/history'],
    ['get', '/api/v1/machines/{serial}/render/{kind}'], ['get', '/api/v1/machines/{serial}/timeline'], ['get', '/api/v1/events'], ['get', '/api/v1/status'],
    ['get', '/healthz'], ['get', '/metrics'], ['get', '/api/v1/openapi.json'], ['get', '/admin/hosts'], ['put', '/admin/host/{serial}/set_state'],
    ['get', '/ipxe'], ['get', '/ipxe/machine'], ['get', '/first-stage/{serial}'], ['post', '/enroll'], ['get', '/config/{serial}'],
    ['post', '/machines/{serial}/boot-complete'], ['get', '/images/{serial}/{file}'], ['get', '/ipxebootscript'], ['post', '/final-ignition-config.json'],
  ];
  for (const [method, path] of expected) assert.ok(doc.paths[path as string]?.[method as string], `${method} ${path} missing`);
});
