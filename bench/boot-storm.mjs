#!/usr/bin/env node
// Boot storm: N simulated machines run the whole boot-port sequence against a real server
// (child process, loopback, git audit on) at concurrency C, then the invariants are checked.
//   node bench/boot-storm.mjs [N=1000] [C=20]
// Sequence per machine: GET /ipxe, GET /ipxe/machine, GET /first-stage/:serial, POST /enroll,
// POST /machines/:serial/installed, POST /machines/:serial/boot-complete.
import { mkdtempSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { client, ms, percentile, pool, startServer, writeConfig } from './lib.mjs';

const N = Number(process.argv[2] ?? 1000);
const C = Number(process.argv[3] ?? 20);
const PROFILES = [
  { name: 'control', quantity: 3 },
  { name: 'storage', quantity: Math.floor(N / 10) },
  { name: 'default' },
];
const STEPS = ['ipxe', 'ipxe-machine', 'first-stage', 'enroll', 'installed', 'boot-complete'];

const dir = mkdtempSync(path.join(tmpdir(), 'cocoon-storm-'));
const GIT = process.env.GIT !== '0';
const server = await startServer(writeConfig(dir, { git: GIT, profiles: PROFILES }));
const request = client(C);
const times = Object.fromEntries(STEPS.map((s) => [s, []]));
const failures = [];

function mac(i) {
  const hex = (i + 1).toString(16).padStart(6, '0');
  return `52:54:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}:01`;
}

async function step(name, method, port, p, body, want) {
  const t0 = performance.now();
  const r = await request(port, method, p, body);
  times[name].push(performance.now() - t0);
  if (r.status !== want) throw new Error(`${name} ${method} ${p}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
  return r;
}

async function machine(i) {
  const serial = `storm-${String(i).padStart(6, '0')}`;
  const m = mac(i);
  const b = server.bootPort;
  try {
    await step('ipxe', 'GET', b, '/ipxe', undefined, 200);
    await step('ipxe-machine', 'GET', b, `/ipxe/machine?serial=${serial}&uuid=&mac=${m}&arch=x86_64`, undefined, 200);
    await step('first-stage', 'GET', b, `/first-stage/${serial}`, undefined, 200);
    const facts = {
      serial: { product: serial, chassis: '', board: '' },
      uuid: '',
      firmware: 'uefi',
      nics: [{ name: 'eth0', mac: m, driver: 'virtio_net', pciAddress: '0000:00:03.0', link: 'up', speedMbps: 10000 }],
      connectedNic: 'eth0',
      cpu: { model: 'bench', sockets: 1, cores: 8, threads: 16 },
      memoryBytes: 68719476736,
      disks: [{ name: 'nvme0n1', sizeBytes: 960197124096, rotational: false, removable: false, model: 'bench', serial: `d-${i}`, wwn: '' }],
      kernel: '6.1.0',
    };
    const r = await step('enroll', 'POST', b, '/enroll', facts, 200);
    const filed = r.headers['cocoon-serial'];
    await step('installed', 'POST', b, `/machines/${filed}/installed`, {}, 204);
    await step('boot-complete', 'POST', b, `/machines/${filed}/boot-complete`, { versions: { flatcar: '1.0.0' } }, 204);
  } catch (err) {
    failures.push(String(err));
  }
}

const t0 = performance.now();
await pool(N, C, machine);
const seconds = (performance.now() - t0) / 1000;

// Invariants, from the API and from the cluster directory itself.
const list = JSON.parse((await request(server.apiPort, 'GET', '/api/v1/machines?limit=10000')).text);
const machines = list.machines;
const serials = new Set(machines.map((m) => m.Serial));
const ips = new Set(machines.map((m) => m.InternalAddr));
const byProfile = {};
for (const m of machines) byProfile[m.Profile] = (byProfile[m.Profile] ?? 0) + 1;
const running = machines.filter((m) => m.State === 'running').length;
const clusterDir = path.join(dir, 'cluster');
const recordDirs = readdirSync(clusterDir, { withFileTypes: true }).filter((e) => e.isDirectory() && existsSync(path.join(clusterDir, e.name, 'conf.json'))).length;
const rss = server.rssMB();
await server.stop();

const invariants = [
  ['every machine completed the sequence', failures.length === 0, `${failures.length} failures`],
  ['one record per machine (API)', list.total === N && serials.size === N, `${list.total} records, ${serials.size} serials`],
  ['one conf.json per machine (disk)', recordDirs === N, `${recordDirs} record dirs`],
  ['unique InternalAddr', ips.size === N && !ips.has(''), `${ips.size} addresses`],
  ['quota control = 3', byProfile.control === Math.min(3, N), JSON.stringify(byProfile)],
  ['quota storage exact', byProfile.storage === Math.min(PROFILES[1].quantity, Math.max(0, N - 3)), ''],
  ['all running', running === N, `${running} running`],
];

console.log(`boot storm: ${N} machines, concurrency ${C}, git audit ${GIT ? 'on' : 'off'}`);
console.log(`  total ${seconds.toFixed(2)} s, ${(N / seconds).toFixed(1)} machines/s, server RSS ${rss.rss.toFixed(0)} MB (peak ${rss.peak.toFixed(0)} MB)`);
for (const s of STEPS) {
  const t = times[s].sort((a, b) => a - b);
  console.log(`  ${s.padEnd(14)} n=${String(t.length).padStart(5)}  p50 ${ms(percentile(t, 50)).padStart(10)}  p99 ${ms(percentile(t, 99)).padStart(10)}  max ${ms(t.at(-1) ?? NaN).padStart(10)}`);
}
let ok = true;
for (const [name, pass, detail] of invariants) {
  ok &&= pass;
  console.log(`  ${pass ? 'ok  ' : 'FAIL'} ${name}${detail ? ` (${detail})` : ''}`);
}
for (const f of failures.slice(0, 5)) console.log(`  failure: ${f}`);
rmSync(dir, { recursive: true, force: true });
process.exit(ok ? 0 : 1);
