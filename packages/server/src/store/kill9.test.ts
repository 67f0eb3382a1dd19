import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gitCli, openTestStore, tempDir } from '../testing/store-fixtures.js';

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A child that enrolls machines 8 at a time and prints each serial once its enrollment is acknowledged. */
const CHILD = `
import { openClusterStore } from ${JSON.stringify(path.join(dist, 'store/cluster-store.js'))};
import { Provisioner } from ${JSON.stringify(path.join(dist, 'lifecycle/provisioner.js'))};
import { parseConfig } from ${JSON.stringify(path.join(dist, 'config/load.js'))};
const [dir, base] = process.argv.slice(2);
const config = parseConfig({ network: { pxe_interface: 'br0', bind_addr: '10.9.0.1', bootstrap_range: { start: '10.8.0.10', end: '10.8.0.20' }, ip_range: { start: '10.9.0.10', end: '10.9.255.250' }, subnet_size: 16 }, profiles: [{ name: 'cp', quantity: 3 }], default_os: { name: 'flatcar', version: '1.0.0' }, auth: { mode: 'none' } }, '/tmp/x/config.yaml');
const store = await openClusterStore({ dir, git: { enabled: true, authorName: 'k', authorEmail: 'k@k' } });
const p = new Provisioner(store, config);
let n = Number(base);
const worker = async () => {
  for (;;) {
    const i = n++;
    const hex = i.toString(16).padStart(6, '0');
    const m = await p.enroll({ serial: { product: 'K-' + hex }, macs: [{ name: 'e', mac: '02:00:00:' + hex.slice(0, 2) + ':' + hex.slice(2, 4) + ':' + hex.slice(4, 6) }] });
    process.stdout.write('ack ' + m.Serial + '\\n');
  }
};
await Promise.all(Array.from({ length: 8 }, worker));
`;

async function runAndKill(script: string, dir: string, base: number, acksBeforeKill: number): Promise<string[]> {
  const child = spawn(process.execPath, [script, dir, String(base)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const acked: string[] = [];
  let buf = '';
  await new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', () => resolve());
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const l of lines) if (l.startsWith('ack ')) acked.push(l.slice(4));
      if (acked.length >= acksBeforeKill && child.exitCode === null && !child.killed) child.kill('SIGKILL');
    });
  });
  return acked;
}

test('kill -9 in the middle of enrollments loses no acknowledged change and leaves a clean repository', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  // Inside the temporary directory (next to the cluster, not in it), so the cleanup removes it too.
  const script = path.join(dir, 'child.mjs');
  writeFileSync(script, CHILD);
  const cluster = path.join(dir, 'cluster');
  const acked: string[] = [];
  acked.push(...(await runAndKill(script, cluster, 0, 30)));
  acked.push(...(await runAndKill(script, cluster, 0x10000, 20)));
  assert.ok(acked.length >= 50, `acknowledged: ${acked.length}`);

  const store = await openTestStore(cluster);
  await store.whenHistoryReady();
  for (const serial of acked) {
    const r = store.get(serial);
    assert.ok(r, `acknowledged ${serial} is stored`);
    assert.equal(r.State, 'installing');
    assert.ok((await store.history(serial)).length >= 1, `${serial} has its commit`);
  }
  // whatever was half done is whole: every record parses, none is lost between file and git
  assert.deepEqual(store.problems, []);
  const ips = [...store.records()].map((m) => m.InternalAddr);
  assert.equal(new Set(ips).size, ips.length, 'no address handed out twice across the crash');
  await store.close();
  assert.equal(gitCli(cluster, ['status', '--porcelain', '--untracked-files=all']), '');
  gitCli(cluster, ['fsck', '--strict', '--no-dangling']);
  assert.equal(Number(gitCli(cluster, ['ls-files']).split('\n').filter(Boolean).length), store.count() + 1);
});
