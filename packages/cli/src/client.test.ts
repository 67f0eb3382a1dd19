// The client's own machinery against small real HTTP(S) servers: where the endpoint and token come
// from, TLS trust, unreachable servers and SSE reconnection. Commands against the real Cocoon server
// are in commands.test.ts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseJson, runCtl } from './testing/run-ctl.js';

interface Seen {
  method: string;
  url: string;
  authorization?: string;
  lastEventId?: string;
}

function listen(server: http.Server | https.Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(String((server.address() as AddressInfo).port))));
}

/** Listens on loopback for the enclosing describe block; the returned function gives its URL. */
function serveDuringSuite(server: http.Server): () => string {
  let endpoint = '';
  before(async () => {
    endpoint = `http://127.0.0.1:${await listen(server)}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  return () => endpoint;
}

function statusHandler(seen: Seen[]): http.RequestListener {
  return (req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    if (req.url === '/api/v1/status') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ version: '9.9.9-test' }));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ type: 'about:blank', title: 'Not Found', status: 404, detail: `no route ${req.method} ${req.url}` }));
  };
}

describe('connection settings', () => {
  const seen: Seen[] = [];
  const server = http.createServer(statusHandler(seen));
  let endpoint = '';
  let home = '';
  before(async () => {
    endpoint = `http://127.0.0.1:${await listen(server)}`;
    home = mkdtempSync(path.join(os.tmpdir(), 'cocoonctl-settings-'));
    mkdirSync(path.join(home, 'cocoon'));
  });
  after(() => {
    server.close();
    rmSync(home, { recursive: true, force: true });
  });

  test('the settings file gives endpoint and token; COCOON_TOKEN beats it; --token beats both', async () => {
    const file = path.join(home, 'cocoon', 'cli.yaml');
    writeFileSync(file, `endpoint: ${endpoint}\ntoken: from-file-token-0001\n`, { mode: 0o644 });
    chmodSync(file, 0o644);
    const env = { XDG_CONFIG_HOME: home };
    const loose = await runCtl(['version', '--json'], { env });
    assert.equal(loose.code, 0, loose.stderr);
    assert.match(loose.stderr, /warning: .*cli\.yaml holds an API token but others may read it \(chmod 600/);
    chmodSync(file, 0o600);
    const r1 = await runCtl(['version', '--json'], { env });
    assert.equal(r1.code, 0, r1.stderr);
    assert.equal(r1.stderr, '');
    assert.deepEqual({ ...parseJson<Record<string, string>>(r1), node: undefined }, { client: '0.1.0', server: '9.9.9-test', node: undefined });
    assert.equal(seen.at(-1)?.authorization, 'Bearer from-file-token-0001');

    assert.equal((await runCtl(['version'], { env: { ...env, COCOON_TOKEN: 'from-env-token-0002' } })).code, 0);
    assert.equal(seen.at(-1)?.authorization, 'Bearer from-env-token-0002');

    assert.equal((await runCtl(['version', '--token', 'from-flag-token-003'], { env: { ...env, COCOON_TOKEN: 'from-env-token-0002' } })).code, 0);
    assert.equal(seen.at(-1)?.authorization, 'Bearer from-flag-token-003');
  });

  test('a broken settings file is a usage error naming the file and the key', async () => {
    writeFileSync(path.join(home, 'cocoon', 'cli.yaml'), `endpoint: ${endpoint}\ntokn: typo\n`);
    const r = await runCtl(['version'], { env: { XDG_CONFIG_HOME: home } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cli\.yaml: unknown key "tokn"; allowed: endpoint, token, ca, insecure/);
  });

  test('an endpoint that is not a URL is a usage error', async () => {
    const r = await runCtl(['list', '--endpoint', 'localhost:4080']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--endpoint: "localhost:4080" must use http:\/\/ or https:\/\//);
  });

  test('an unreachable server: exit 1 and the endpoint named', async () => {
    const closed = http.createServer();
    const port = await listen(closed);
    await new Promise((r) => closed.close(r));
    const r = await runCtl(['list', '--endpoint', `http://127.0.0.1:${port}`]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^cocoonctl: cannot reach http://127\\.0\\.0\\.1:${port}: connection refused .*ECONNREFUSED`));
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });
});

describe('TLS', () => {
  const seen: Seen[] = [];
  let dir = '';
  let server: https.Server;
  let endpoint = '';
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'cocoonctl-tls-'));
    const ca = path.join(dir, 'ca');
    // A throw-away CA and a server certificate for 127.0.0.1 signed by it.
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=cocoon test CA', '-keyout', `${ca}.key`, '-out', `${ca}.pem`], { stdio: 'ignore' });
    execFileSync('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', path.join(dir, 'server.key'), '-out', path.join(dir, 'server.csr')], { stdio: 'ignore' });
    writeFileSync(path.join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1\n');
    execFileSync('openssl', ['x509', '-req', '-in', path.join(dir, 'server.csr'), '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-extfile', path.join(dir, 'ext'), '-out', path.join(dir, 'server.pem')], { stdio: 'ignore' });
    const { readFileSync } = await import('node:fs');
    server = https.createServer({ key: readFileSync(path.join(dir, 'server.key')), cert: readFileSync(path.join(dir, 'server.pem')) }, statusHandler(seen));
    endpoint = `https://127.0.0.1:${await listen(server)}`;
  });
  after(() => {
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('an untrusted certificate fails with a hint; --ca trusts it; --insecure skips the check', async () => {
    const bad = await runCtl(['version', '--endpoint', endpoint]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /cannot reach https:\/\/127\.0\.0\.1:\d+: TLS certificate not trusted: .*use --ca FILE/);

    const ok = await runCtl(['version', '--json', '--endpoint', endpoint, '--ca', path.join(dir, 'ca.pem')]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(parseJson<{ server: string }>(ok).server, '9.9.9-test');

    const insecure = await runCtl(['version', '--json', '--endpoint', endpoint, '--insecure']);
    assert.equal(insecure.code, 0, insecure.stderr);

    const missing = await runCtl(['version', '--endpoint', endpoint, '--ca', path.join(dir, 'nope.pem')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--ca: cannot read .*nope\.pem: ENOENT/);
  });
});

describe('logs -f reconnects', () => {
  const seen: Seen[] = [];
  let connections = 0;
  const event = (id: number): string =>
    `id: ${id}\nevent: progress\ndata: ${JSON.stringify({ id, time: '2026-01-01T00:00:00.000Z', source: 'agent', type: 'progress', serial: 's1', message: `step ${id}` })}\n\n`;
  // First connection: two events, then the server drops the stream. Second: resumes after
  // Last-Event-ID, as the Cocoon server does.
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', lastEventId: req.headers['last-event-id'] as string | undefined });
    connections++;
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    if (connections === 1) {
      res.end(`retry: 250\n: hello\n\n${event(1)}${event(2)}`);
    } else {
      const after = Number(req.headers['last-event-id'] ?? 0);
      res.write(`retry: 250\n\n${event(after + 1)}`);
    }
  });
  const endpoint = serveDuringSuite(server);

  test('the stream resumes with Last-Event-ID after a drop; --json prints one event per line', async () => {
    const r = await runCtl(['logs', '-f', '--tail', '0', '--count', '3', '--json', '--serial', 's1', '--endpoint', endpoint()]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: number; message: string });
    assert.deepEqual(lines.map((e) => e.message), ['step 1', 'step 2', 'step 3']);
    assert.equal(seen.length, 2);
    assert.equal(seen[0]?.lastEventId, undefined);
    assert.equal(seen[1]?.lastEventId, '2');
    assert.match(seen[1]?.url ?? '', /serial=s1/);
    assert.match(r.stderr, /stream interrupted \(the server closed the stream\); reconnecting/);
  });
});

describe('logs -f after recent events', () => {
  const seen: Seen[] = [];
  const ev = (id: number): Record<string, unknown> => ({ id, time: '2026-01-01T00:00:00.000Z', source: 'dnsmasq', type: 'dhcp-ack', mac: '52:54:00:00:00:01', message: `ack ${id}` });
  // Recent events as JSON first, then the stream: it must resume after the last one printed.
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', lastEventId: req.headers['last-event-id'] as string | undefined });
    if (/json/.test(req.headers.accept ?? '')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ events: [ev(40), ev(41)] }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`id: 42\ndata: ${JSON.stringify(ev(42))}\n\n`);
  });
  const endpoint = serveDuringSuite(server);

  test('the stream is opened with Last-Event-ID of the last recent event, so nothing falls in between', async () => {
    const r = await runCtl(['logs', '-f', '--count', '1', '--mac', '52:54:00:00:00:01', '--endpoint', endpoint()]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n').map((l) => l.split(/\s+/).at(-1)), ['40', '41', '42']);
    assert.equal(seen.length, 2);
    assert.match(seen[0]?.url ?? '', /^\/api\/v1\/events\?mac=52%3A54%3A00%3A00%3A00%3A01&limit=50$/);
    assert.equal(seen[1]?.lastEventId, '41');
  });
});
