#!/usr/bin/env node
// Server memory with full event timelines: a seeded fleet, then every machine sends progress
// events (POST /machines/:serial/progress, as the first-stage agent does during an install),
// round robin, until each has sent E. Prints RSS and the timeline gauges at every quarter, so the
// events.max_events cap shows: past it, memory stays flat while events keep coming.
//   node bench/timeline-memory.mjs [machines=10000] [events-per-machine=25] [concurrency=20]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { client, pool, seedFleet, startServer, writeConfig } from './lib.mjs';

const N = Number(process.argv[2] ?? 10_000);
const E = Number(process.argv[3] ?? 25);
const C = Number(process.argv[4] ?? 20);

const dir = mkdtempSync(path.join(tmpdir(), 'cocoon-timelines-'));
const serials = seedFleet(path.join(dir, 'cluster'), N);
const configFile = writeConfig(dir, { git: true });
// The first start adopts the seeded files; the measured server is a restarted one.
await (await startServer(configFile)).stop();
const server = await startServer(configFile);
try {
  const request = client(C);
  const gauge = async (name) => {
    const r = await request(server.apiPort, 'GET', '/metrics');
    return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(r.text)?.[1] ?? NaN);
  };
  const report = async (sent) => {
    const { rss, peak } = server.rssMB();
    const heap = (await gauge('cocoon_nodejs_heap_size_used_bytes')) / 2 ** 20;
    console.log(
      `${String(sent).padStart(8)} events sent: RSS ${rss.toFixed(0)} MB (peak ${peak.toFixed(0)} MB), heap used ${heap.toFixed(0)} MB, ${await gauge('cocoon_timeline_events')} events in ${await gauge('cocoon_timelines')} timelines`,
    );
  };
  console.log(`timeline memory: ${N} machines, ${E} progress events each, concurrency ${C}`);
  await report(0);
  const total = N * E;
  const quarter = Math.ceil(total / 4);
  let failed = 0;
  for (let from = 0; from < total; from += quarter) {
    const count = Math.min(quarter, total - from);
    await pool(count, C, async (k) => {
      const i = from + k;
      const serial = serials[i % N];
      const r = await request(server.bootPort, 'POST', `/machines/${serial}/progress`, { message: `writing the image: ${Math.floor(i / N)} of ${E} steps done` });
      if (r.status !== 204) failed++;
    });
    await report(from + count);
  }
  if (failed) console.log(`  ${failed} requests did not answer 204`);
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
