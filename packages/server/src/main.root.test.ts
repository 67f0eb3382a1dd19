import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { canUseNetns, createTestNetwork, dhcpRequest } from './testing/netns.js';
import { freePort, waitFor } from './testing/wait.js';

// The real server process with its dnsmasq in a network namespace this test creates: SIGHUP
// re-reads the config file; a changed dnsmasq config restarts dnsmasq, a refused one changes nothing.

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
// A whole server process starting and reloading: more time than one dnsmasq takes.
const SERVER_WAIT = { timeoutMs: 20_000, intervalMs: 100 };
const skip = canUseNetns() ? false : 'needs root and iproute2 (network namespaces)';

test('SIGHUP reloads the dnsmasq part of the configuration', { skip }, async (t) => {
  const netw = await createTestNetwork({ purpose: 'mainhup', clientMacs: ['52:54:00:c0:c0:21'] });
  const dir = mkdtempSync(path.join(tmpdir(), 'cocoon-mainhup-'));
  t.after(async () => {
    await netw.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  const [apiPort, bootPort] = [await freePort(), await freePort()];
  const file = path.join(dir, 'config.yaml');
  const writeConfig = (networkExtra: string[], extraLines: string[] = []): void =>
    writeFileSync(
      file,
      [
        'network:',
        '  pxe_interface: br0',
        '  bind_addr: 10.77.0.1',
        '  bootstrap_range: {start: 10.77.0.100, end: 10.77.0.150}',
        '  ip_range: {start: 10.77.0.10, end: 10.77.0.60}',
        ...networkExtra.map((l) => `  ${l}`),
        'http:',
        `  boot: {listen: 127.0.0.1, port: ${bootPort}}`,
        `  api: {listen: 127.0.0.1, port: ${apiPort}}`,
        'auth: {mode: none}',
        'default_os: {name: flatcar, version: 1.0.0}',
        'profiles: [{name: default}]',
        'paths: {cluster_dir: cluster, images_dir: images, state_dir: state, tftp_root: tftp}',
        `dnsmasq: {netns: ${netw.ns}, extra: ${JSON.stringify(extraLines)}}`,
        'log: {level: info}',
        '',
      ].join('\n'),
    );
  writeConfig([]);
  const child = spawn(process.execPath, [MAIN, '--config', file, '--no-git'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  type Status = { dnsmasq: { running: boolean; pid?: number; reloads: number } };
  const status = async (): Promise<Status> => (await (await fetch(`http://127.0.0.1:${apiPort}/api/v1/status`)).json()) as Status;
  const first = await waitFor('dnsmasq running under the server', async () => {
    const s = await status();
    return s.dnsmasq.running && s.dnsmasq.pid !== undefined && s;
  }, SERVER_WAIT);
  const pid1 = first.dnsmasq.pid!;
  const health = (await (await fetch(`http://127.0.0.1:${apiPort}/healthz`)).json()) as Record<string, unknown>;
  assert.deepEqual(health.dnsmasq, { running: true, restarts: 0 });
  const before = await dhcpRequest(netw, netw.clients[0]!);
  assert.equal(before?.router, '');

  writeConfig(['router: 10.77.0.254']);
  child.kill('SIGHUP');
  const second = await waitFor('a restarted dnsmasq', async () => {
    const s = await status();
    return s.dnsmasq.running && s.dnsmasq.pid !== pid1 && s;
  }, SERVER_WAIT);
  assert.equal(second.dnsmasq.reloads, 1);
  assert.equal((await dhcpRequest(netw, netw.clients[0]!))?.router, '10.77.0.254');

  writeConfig(['router: 10.77.0.254'], ['no-such-dnsmasq-option']);
  child.kill('SIGHUP');
  await waitFor('the refusal in the log', async () => /configuration reload refused; dnsmasq keeps its configuration/.test(stderr) && /bad option at line/.test(stderr), SERVER_WAIT);
  const third = await status();
  assert.equal(third.dnsmasq.pid, second.dnsmasq.pid);
  assert.equal(third.dnsmasq.running, true);
  assert.doesNotMatch(readFileSync(path.join(dir, 'state', 'dnsmasq.conf'), 'utf8'), /no-such-dnsmasq-option/);

  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  assert.throws(() => process.kill(second.dnsmasq.pid!, 0), 'dnsmasq stopped with the server');
});
