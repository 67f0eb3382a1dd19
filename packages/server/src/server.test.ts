import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import https from 'node:https';
import path from 'node:path';
import { startTestServer, READ_TOKEN } from './http/testing.js';

test('the API port serves TLS when http.api.tls names a certificate and key', async (t) => {
  let certDir = '';
  const s = await startTestServer((doc) => {
    certDir = path.dirname(String((doc['paths'] as Record<string, string>)['cluster_dir']));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', path.join(certDir, 'key.pem'), '-out', path.join(certDir, 'cert.pem')], { stdio: 'ignore' });
    ((doc['http'] as Record<string, Record<string, unknown>>)['api'] as Record<string, unknown>)['tls'] = { cert: path.join(certDir, 'cert.pem'), key: path.join(certDir, 'key.pem') };
  });
  t.after(() => s.close());
  assert.match(s.apiUrl, /^https:/);
  const body = await new Promise<string>((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port: s.apiPort, path: '/api/v1/status', headers: { authorization: `Bearer ${READ_TOKEN}` }, rejectUnauthorized: false }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`HTTP ${res.statusCode}: ${text}`))));
      })
      .on('error', reject);
  });
  assert.ok((JSON.parse(body) as { version: string }).version);
});

test('stop() ends open event streams and frees both ports', async () => {
  const s = await startTestServer();
  const { default: http } = await import('node:http');
  const ended = new Promise<void>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: s.apiPort, path: '/api/v1/events', headers: { authorization: `Bearer ${READ_TOKEN}` } }, (res) => {
        res.resume();
        res.on('end', () => resolve());
        res.on('error', () => resolve());
        res.on('close', () => resolve());
        void s.close();
      })
      .on('error', reject);
  });
  await ended;
  await assert.rejects(fetch(`http://127.0.0.1:${s.apiPort}/healthz`));
  await assert.rejects(fetch(`http://127.0.0.1:${s.bootPort}/ipxe`));
});

test('the event timelines take their caps from events.timeline_size, max_timelines and max_events', async (t) => {
  const s = await startTestServer((doc) => {
    doc['events'] = { timeline_size: 2, max_timelines: 1 };
  });
  t.after(() => s.close());
  for (const message of ['one', 'two', 'three']) s.events.publish({ source: 'server', type: 'progress', serial: 'cap-1', message });
  assert.deepEqual(s.events.timeline('cap-1').map((e) => e.message), ['two', 'three']);
  s.events.publish({ source: 'server', type: 'progress', serial: 'cap-2', message: 'other' });
  assert.deepEqual(s.events.timeline('cap-1'), []);

  const e = await startTestServer((doc) => {
    doc['events'] = { timeline_size: 4, max_events: 3 };
  });
  t.after(() => e.close());
  for (const serial of ['ev-1', 'ev-1', 'ev-2', 'ev-3']) e.events.publish({ source: 'server', type: 'progress', serial, message: serial });
  assert.deepEqual(e.events.timeline('ev-1'), []);
  assert.equal(e.events.retainedEvents, 2);
});
