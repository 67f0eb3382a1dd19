#!/usr/bin/env node
// cocoonctl at fleet scale: a real server (loopback, git off, no dnsmasq) holding N enrolled
// machines with agent-sized hardware facts, and the wall time and peak memory of the cocoonctl
// process for `list`, `list --json`, a filtered list and `status`.
//   node bench/cli-list.mjs [--n 10000] [--runs 3]
// (`pnpm bench:cli` builds first.) Figures only: nothing here asserts on time.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ADMIN_TOKEN, agentFacts, startTestServer } from '../packages/server/dist/http/testing.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '10000' }, runs: { type: 'string', default: '3' } } });
const N = Number(values.n);
const RUNS = Number(values.runs);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ctl = path.join(root, 'packages/cli/dist/main.js');
const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

const server = await startTestServer((doc) => {
  doc.git = { enabled: false };
  doc.network.ip_range = { start: '10.64.0.10', end: '10.127.255.250' };
  doc.network.subnet_size = 10;
  doc.network.bind_addr = '10.64.0.1';
  doc.network.bootstrap_range = { start: '10.63.0.100', end: '10.63.0.200' };
});
try {
  const t0 = performance.now();
  const mac = (i) => `52:54:${[(i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
  for (let i = 0; i < N; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, N - i) }, (_, k) =>
        fetch(`${server.bootUrl}/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(agentFacts(`bench-${i + k}`, mac(i + k))) }).then(async (r) => {
          if (!r.ok) throw new Error(`enroll ${i + k}: HTTP ${r.status} ${await r.text()}`);
          await r.arrayBuffer();
        }),
      ),
    );
  }
  console.log(`enrolled ${N} machines over HTTP in ${((performance.now() - t0) / 1000).toFixed(1)} s (setup, not measured below)`);

  const env = { ...process.env, COCOON_ENDPOINT: server.apiUrl, COCOON_TOKEN: ADMIN_TOKEN };
  const cases = [
    ['list', ['list']],
    ['list --json', ['list', '--json']],
    ['list --state running (0 rows)', ['list', '--state', 'running']],
    ['list --fields ip,serial,state', ['list', '--fields', 'ip,serial,state']],
    ['status <serial>', ['status', `bench-${Math.floor(N / 2)}`]],
  ];
  console.log(`\ncocoonctl against ${N} machines, ${RUNS} runs each (median; peak RSS of the cocoonctl process)`);
  for (const [name, args] of cases) {
    const times = [];
    let rss = 0;
    let bytes = 0;
    for (let r = 0; r < RUNS; r++) {
      const res = await run(args, env);
      times.push(res.ms);
      rss = Math.max(rss, res.rssKb);
      bytes = res.bytes;
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)];
    console.log(`  ${name.padEnd(32)} ${median.toFixed(0).padStart(6)} ms   ${rss ? `${(rss / 1024).toFixed(0).padStart(4)} MiB` : '   ? MiB'}   ${(bytes / 1024).toFixed(0)} KiB out`);
  }
  const baseline = performance.now();
  execFileSync(process.execPath, ['-e', '0']);
  console.log(`  (node -e 0 on this machine: ${(performance.now() - baseline).toFixed(0)} ms; load average ${(await import('node:os')).loadavg()[0].toFixed(1)})`);
} finally {
  await server.close();
}

function run(args, env) {
  return new Promise((resolve, reject) => {
    const [file, argv] = timeBin ? [timeBin, ['-f', '%M', process.execPath, ctl, ...args]] : [process.execPath, [ctl, ...args]];
    const start = performance.now();
    const child = spawn(file, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let bytes = 0;
    let err = '';
    child.stdout.on('data', (d) => (bytes += d.length));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - start;
      if (code !== 0) return reject(new Error(`cocoonctl ${args.join(' ')}: exit ${code}: ${err}`));
      const rssKb = timeBin ? Number(err.trim().split('\n').pop()) || 0 : 0;
      resolve({ ms, rssKb, bytes });
    });
  });
}
