#!/usr/bin/env node
// Store + Provisioner benchmark: enroll N machines at concurrency C with the git audit on, in a
// fresh cluster directory and in one whose repository already has a long history (seeded with
// `git fast-import`), and print throughput, latency percentiles, commits written and how the
// last 10 % compares with the first 10 %.
//   node bench/store-enroll.mjs [--n 1000] [--c 20] [--history 20000] [--fleet 0] [--no-git] [--keep]
// (`pnpm bench:store` builds first.) Figures only: nothing here asserts on time.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openClusterStore, parseConfig, Provisioner, emptyRecord, serializeRecord } from '../packages/server/dist/index.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '1000' },
    c: { type: 'string', default: '20' },
    history: { type: 'string', default: '20000' },
    fleet: { type: 'string', default: '0' },
    'no-git': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const N = Number(values.n);
const C = Number(values.c);
const HISTORY = Number(values.history);
const FLEET = Number(values.fleet);
const GIT = !values['no-git'];

const config = parseConfig(
  {
    network: {
      pxe_interface: 'br0',
      bind_addr: '10.64.0.1',
      bootstrap_range: { start: '10.63.0.100', end: '10.63.0.200' },
      ip_range: { start: '10.64.0.10', end: '10.127.255.250' },
      subnet_size: 10,
    },
    profiles: [{ name: 'control-plane', quantity: 3 }, { name: 'storage', quantity: 50 }],
    default_os: { name: 'flatcar', version: '1.0.0' },
    auth: { mode: 'none' },
  },
  '/tmp/bench/config.yaml',
);

function report(n) {
  const hex = n.toString(16).padStart(6, '0');
  return {
    serial: { product: `BENCH-${hex}`, chassis: 'Not Specified', board: 'To Be Filled By O.E.M.' },
    uuid: `4c4c4544-0000-1000-8000-${hex.padStart(12, '0')}`,
    macs: [{ name: 'eno1', mac: `02:00:00:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}` }],
    connectedNic: 'eno1',
    hardware: { cpu: { model: 'Bench CPU', cores: 32 }, memoryBytes: 274877906944, disks: [{ name: 'nvme0n1', sizeBytes: 3840755982336 }] },
  };
}

const git = (dir, args, input) =>
  execFileSync('git', args, { cwd: dir, input, maxBuffer: 1 << 30, env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', HOME: dir } });

/**
 * A repository as the store would have left it: `machines` machine records in a first commit,
 * then `commits - 1` commits each rewriting one record (round-robin), written with git fast-import.
 */
function seedRepo(dir, machines, commits) {
  git(dir, ['init', '-q', '-b', 'main']);
  const chunks = [];
  let mark = 0;
  const ts = 1_700_000_000;
  const commit = (i, msg, files) => {
    let s = `commit refs/heads/main\nmark :${++mark}\ncommitter Seed <seed@bench> ${ts + i} +0000\ndata ${Buffer.byteLength(msg)}\n${msg}\n`;
    for (const [p, content] of files) s += `M 100644 inline ${p}\ndata ${Buffer.byteLength(content)}\n${content}\n`;
    chunks.push(s);
  };
  const rec = (i, v) => {
    const hex = (0x800000 + i).toString(16);
    const r = { ...emptyRecord(`seed-${hex}`), MacAddresses: [`06:00:00:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`], InternalAddr: `10.100.${(i >> 8) & 255}.${i & 255}`, Profile: 'default', State: v % 2 ? 'running' : 'installed', BootCount: v };
    return [`seed-${hex}/conf.json`, serializeRecord(r)];
  };
  const all = [['cluster.json', '{\n  "GitStore": true\n}\n']];
  for (let m = 0; m < machines; m++) all.push(rec(m, 0));
  commit(0, `cocoon: took over the cluster directory (${machines} machines)`, all);
  for (let i = 1; i < commits; i++) {
    const m = (i - 1) % Math.max(machines, 1);
    const v = 1 + Math.floor((i - 1) / Math.max(machines, 1));
    commit(i, `seed-${(0x800000 + m).toString(16)}: seeded change ${v}`, machines ? [rec(m, v)] : []);
  }
  git(dir, ['fast-import', '--quiet'], chunks.join(''));
  git(dir, ['reset', '-q', '--hard', 'main']);
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function run(label, dir) {
  const t0 = performance.now();
  const store = await openClusterStore({ dir, git: { enabled: GIT, authorName: 'Cocoon Bench', authorEmail: 'bench@cocoon.invalid' } });
  const openMs = performance.now() - t0;
  const p = new Provisioner(store, config);
  const base = store.count();
  const lat = new Array(N);
  let next = 0;
  const cpu0 = process.cpuUsage();
  // CPU at each tenth of the completions: a load-independent view of whether the work per
  // machine grows as the run goes on (wall-clock latencies move with the other processes).
  const cpuAt = [];
  let done = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: C }, async () => {
      while (next < N) {
        const i = next++;
        const s = performance.now();
        await p.enroll(report(i + 1));
        lat[i] = performance.now() - s;
        done++;
        if (done % Math.max(1, Math.floor(N / 10)) === 0) {
          const u = process.cpuUsage(cpu0);
          cpuAt.push((u.user + u.system) / 1000);
        }
      }
    }),
  );
  const wall = performance.now() - start;
  const cpu = process.cpuUsage(cpu0);
  const commits = store.commitsWritten;
  await store.whenHistoryReady();
  const th = performance.now();
  const histories = [report(1), report(N)].map((r) => `bench-${r.serial.product.slice(6).toLowerCase()}`);
  let historyEntries = 0;
  for (const s of histories) historyEntries += (await store.history(s, { patch: true, limit: 50 })).length;
  const historyMs = (performance.now() - th) / histories.length;
  const tc = performance.now();
  await store.close();
  const closeMs = performance.now() - tc;
  p.close();
  const sorted = [...lat].sort((a, b) => a - b);
  const tenth = Math.max(1, Math.floor(N / 10));
  const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
  const first = mean(lat.slice(0, tenth));
  const last = mean(lat.slice(N - tenth));
  let status = '';
  if (GIT) status = git(dir, ['status', '--porcelain']).toString().trim() === '' ? 'clean' : 'NOT CLEAN';
  const line = (k, v) => console.log(`  ${k.padEnd(28)} ${v}`);
  console.log(`\n${label}`);
  line('machines before', base);
  line('open (scan + repair + index)', `${openMs.toFixed(0)} ms`);
  line('enrolled', `${N} at concurrency ${C} in ${(wall / 1000).toFixed(2)} s`);
  line('machines/s', (N / (wall / 1000)).toFixed(0));
  line('latency p50 / p99 / max', `${pct(sorted, 50).toFixed(1)} / ${pct(sorted, 99).toFixed(1)} / ${sorted.at(-1).toFixed(1)} ms`);
  line('commits written', commits);
  line('mean first 10% / last 10%', `${first.toFixed(1)} / ${last.toFixed(1)} ms (x${(last / first).toFixed(2)})`);
  line('CPU per machine (user+sys)', `${((cpu.user + cpu.system) / 1000 / N).toFixed(2)} ms (${((cpu.user + cpu.system) / 1000 / wall * 100).toFixed(0)}% of one core)`);
  if (cpuAt.length >= 10) {
    const firstCpu = cpuAt[0];
    const lastCpu = cpuAt[9] - cpuAt[8];
    line('CPU first 10% / last 10%', `${firstCpu.toFixed(0)} / ${lastCpu.toFixed(0)} ms (x${(lastCpu / firstCpu).toFixed(2)})`);
  }
  line('per commit (wall / commits)', `${(wall / Math.max(commits, 1)).toFixed(2)} ms`);
  line('history(serial, patch) read', `${historyMs.toFixed(1)} ms (${historyEntries} entries for ${histories.length} machines)`);
  line('close (final index write)', `${closeMs.toFixed(0)} ms`);
  if (GIT) line('git status', status);
  return { wall, p50: pct(sorted, 50), perCommit: wall / Math.max(commits, 1) };
}

const root = mkdtempSync(path.join(tmpdir(), 'cocoon-bench-'));
try {
  console.log(`store-enroll: N=${N} C=${C} git=${GIT ? 'on' : 'off'} node ${process.version}, load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  // Warm-up in a throwaway directory, so the first measured run is not the JIT's cold start.
  const warm = path.join(root, 'warm-up');
  mkdirSync(warm);
  {
    const s = await openClusterStore({ dir: warm, git: { enabled: GIT, authorName: 'w', authorEmail: 'w@w' } });
    const wp = new Provisioner(s, config);
    for (let i = 0; i < 200; i += 20) await Promise.all(Array.from({ length: 20 }, (_, k) => wp.enroll(report(0xf00000 + i + k))));
    wp.close();
    await s.close();
  }
  const fresh = path.join(root, 'fresh');
  mkdirSync(fresh);
  const a = await run('fresh cluster directory', fresh);

  if (GIT && HISTORY > 0) {
    const long = path.join(root, 'long');
    mkdirSync(long);
    const ts = performance.now();
    seedRepo(long, 1000, HISTORY);
    console.log(`\nseeded ${HISTORY} commits over 1000 machines with git fast-import in ${((performance.now() - ts) / 1000).toFixed(1)} s`);
    const b = await run(`repository with ${git(long, ['rev-list', '--count', 'HEAD']).toString().trim()} commits of history`, long);
    console.log(`\n  per-commit cost, long history vs fresh: ${b.perCommit.toFixed(2)} vs ${a.perCommit.toFixed(2)} ms (x${(b.perCommit / a.perCommit).toFixed(2)})`);
  }
  if (GIT && FLEET > 0) {
    const big = path.join(root, 'fleet');
    mkdirSync(big);
    const ts = performance.now();
    seedRepo(big, FLEET, 1);
    console.log(`\nseeded a fleet of ${FLEET} machines in ${((performance.now() - ts) / 1000).toFixed(1)} s`);
    await run(`cluster directory with ${FLEET} machines`, big);
  }
} finally {
  if (!values.keep) rmSync(root, { recursive: true, force: true });
  else console.log(`kept ${root}`);
}
