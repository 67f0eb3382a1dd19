import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectFacts } from './collect/index.js';
import { biosServerTree, writeTree } from './testing/fixture-tree.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const IGNITION = JSON.stringify({ ignition: { version: '3.4.0' }, storage: { files: [] } });

interface Run { code: number | null; stdout: string; stderr: string }

function runAgent(args: string[], onStderr?: (chunk: string) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      onStderr?.(d.toString());
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

async function listen(handler: Handler, port = 0): Promise<Server> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d));
    req.on('end', () => handler(req, body, res));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return server;
}

const urlOf = (s: Server): string => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
const close = (s: Server): Promise<void> => new Promise((r) => s.close(() => r()));

async function fixture(t: { after: (fn: () => Promise<void>) => void }): Promise<{ dir: string; root: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'cocoon-agent-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return { dir, root: await writeTree(biosServerTree(), path.join(dir, 'root')) };
}

test('posts the collected facts to /enroll and writes the Ignition config and the serial it was filed under', async (t) => {
  const { dir, root } = await fixture(t);
  const received: { method?: string; url?: string; type?: string; body?: unknown }[] = [];
  const server = await listen((req, body, res) => {
    received.push({ method: req.method, url: req.url, type: req.headers['content-type'], body: JSON.parse(body) });
    res.writeHead(200, { 'content-type': 'application/json', 'cocoon-serial': 'cz2d1234xy' }).end(IGNITION);
  });
  t.after(() => close(server));
  const out = path.join(dir, 'config.ign');
  const info = path.join(dir, 'info.sh');
  const r = await runAgent(['--server', `${urlOf(server)}/`, '--root', root, '--no-ipmi', '--serial-hint', 'CZ2D1234XY', '--out', out, '--info', info]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await readFile(out, 'utf8'), IGNITION);
  assert.equal(await readFile(info, 'utf8'), "COCOON_SERIAL='cz2d1234xy'\nCOCOON_CONFIG_TYPE='application/json'\n");
  const expected = await collectFacts({ root, ipmitool: false, serialHint: 'CZ2D1234XY' });
  assert.deepEqual(received, [{ method: 'POST', url: '/enroll', type: 'application/json', body: expected }]);
});

test('server unreachable at first: retries with back-off and succeeds once it listens', async (t) => {
  const { root } = await fixture(t);
  // Reserve a free port, then release it so the first attempts are refused.
  const probe = await listen(() => undefined);
  const port = (probe.address() as AddressInfo).port;
  await close(probe);
  let server: Server | undefined;
  t.after(() => (server ? close(server) : Promise.resolve()));
  let posts = 0;
  let retriesSeen = 0;
  const r = await runAgent(['--server', `http://127.0.0.1:${port}`, '--root', root, '--no-ipmi', '--timeout', '60'], (line) => {
    if (!line.includes('retrying')) return;
    retriesSeen++;
    if (retriesSeen === 2 && !server) {
      void listen((_req, _body, res) => {
        posts++;
        res.writeHead(200, { 'content-type': 'application/json' }).end(IGNITION);
      }, port).then((s) => (server = s));
    }
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, IGNITION);
  assert.equal(posts, 1);
  assert.match(r.stderr, /attempt 1 failed \(ECONNREFUSED\); retrying in 1s/);
  assert.match(r.stderr, /attempt 2 failed \(ECONNREFUSED\); retrying in 2s/);
});

test('server answers 500: exit 4, one line on stderr, no config file', async (t) => {
  const { dir, root } = await fixture(t);
  const server = await listen((_req, _body, res) => {
    res.writeHead(500, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ title: 'Internal Server Error', detail: 'store is\nread-only' }));
  });
  t.after(() => close(server));
  const out = path.join(dir, 'config.ign');
  const r = await runAgent(['--server', urlOf(server), '--root', root, '--no-ipmi', '--out', out]);
  assert.equal(r.code, 4);
  assert.equal(r.stderr, 'cocoon-agent: server refused enrollment: HTTP 500 Internal Server Error: store is read-only\n');
  assert.deepEqual((await readdir(dir)).sort(), ['root']);
});

test('a 200 that is not a config (HTML, problem+json, JSON without ignition.version) is refused', async (t) => {
  const { dir, root } = await fixture(t);
  const answers: [string, string][] = [
    ['text/html', '<html>proxy error</html>'],
    ['application/json', '{"error":"no profile"}'],
    ['text/yaml', 'error: nope\n'],
  ];
  let i = 0;
  const server = await listen((_req, _body, res) => {
    const [type, body] = answers[i++]!;
    res.writeHead(200, { 'content-type': type }).end(body);
  });
  t.after(() => close(server));
  const out = path.join(dir, 'config');
  for (const expected of [/unexpected content type "text\/html"/, /not an Ignition config/, /does not start with #cloud-config/]) {
    const r = await runAgent(['--server', urlOf(server), '--root', root, '--no-ipmi', '--out', out]);
    assert.equal(r.code, 4);
    assert.match(r.stderr, expected);
  }
  assert.deepEqual(await readdir(dir), ['root']);
});

test('usage errors exit 2; a server that never answers exits 3 after the deadline', async (t) => {
  const { root } = await fixture(t);
  assert.equal((await runAgent(['--root', root])).code, 2);
  assert.equal((await runAgent(['--server', 'ftp://x', '--root', root])).code, 2);
  assert.equal((await runAgent(['--server', 'http://127.0.0.1:1', '--bogus'])).code, 2);
  const probe = await listen(() => undefined);
  const port = (probe.address() as AddressInfo).port;
  await close(probe);
  const r = await runAgent(['--server', `http://127.0.0.1:${port}`, '--root', root, '--no-ipmi', '--timeout', '1']);
  assert.equal(r.code, 3);
  assert.match(r.stderr, /unreachable after \d+ attempts: ECONNREFUSED\n$/);
});

test('--dry-run prints the facts without contacting a server', async (t) => {
  const { root } = await fixture(t);
  const r = await runAgent(['--dry-run', '--root', root, '--no-ipmi']);
  assert.equal(r.code, 0);
  assert.deepEqual(JSON.parse(r.stdout), await collectFacts({ root, ipmitool: false }));
});
