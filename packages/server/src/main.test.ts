import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './testing/wait.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], until?: (child: ReturnType<typeof spawn>) => Promise<void>): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr });
    });
    until?.(child).catch((err: unknown) => {
      child.kill('SIGKILL');
      reject(err instanceof Error ? err : new Error(String(err)));
    });
  });
}

test('an invalid config exits 1 listing every problem, without a stack trace', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cocoon-main-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'config.yaml');
  writeFileSync(
    file,
    ['network:', '  pxe_interface: br0', '  bind_addr: 10.0.0.300', '  bootstrap_range: {start: 10.0.0.100, end: 10.0.0.150}', '  ip_range: {start: 10.0.1.20, end: 10.0.1.10}', '  colour: blue', 'profiles: [{name: core}]', 'auth: {mode: tokens}', ''].join('\n'),
  );
  const r = await run(['--config', file, '--no-dnsmasq']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /invalid configuration/);
  assert.match(r.stderr, /network\.bind_addr: must be a valid ipv4/);
  assert.match(r.stderr, /network\.colour: unknown key/);
  assert.doesNotMatch(r.stderr, /\bat .*\.js:\d+/);

  const bad = await run(['--config', file, '--api-port', 'eighty']);
  assert.notEqual(bad.code, 0);
  const missing = await run(['--config', path.join(dir, 'nope.yaml')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read the file: ENOENT/);
});

test('a valid config starts (flags override the file), answers /healthz, stops on SIGTERM', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cocoon-main-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'config.yaml');
  writeFileSync(
    file,
    [
      'network:',
      '  pxe_interface: lo',
      '  bind_addr: 127.0.0.1',
      '  bootstrap_range: {start: 10.98.0.100, end: 10.98.0.150}',
      '  ip_range: {start: 10.98.1.10, end: 10.98.1.20}',
      'http:',
      '  boot: {listen: 127.0.0.1, port: 4081}',
      '  api: {listen: 127.0.0.1, port: 4080}',
      'auth: {mode: none}',
      'default_os: {name: flatcar, version: 1.0.0}',
      'profiles: [{name: default}]',
      'paths: {cluster_dir: cluster-from-file, images_dir: images, state_dir: state}',
      'dnsmasq: {enabled: true}',
      '',
    ].join('\n'),
  );
  const [apiPort, bootPort] = [await freePort(), await freePort()];
  const clusterDir = path.join(dir, 'cluster-from-flag');
  let health: unknown;
  const r = await run(['--config', file, '--no-dnsmasq', '--no-git', '--cluster-dir', clusterDir, '--api-port', String(apiPort), '--boot-port', String(bootPort), '--log-level', 'warn'], async (child) => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        const res = await fetch(`http://127.0.0.1:${apiPort}/healthz`);
        health = await res.json();
        const ipxe = await fetch(`http://127.0.0.1:${bootPort}/ipxe`);
        assert.equal(ipxe.status, 200);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((res) => setTimeout(res, 200));
      }
    }
    child.kill('SIGTERM');
  });
  assert.deepEqual(health, { status: 'ok', machines: 0 });
  assert.equal(r.code, 0, r.stderr);
});
