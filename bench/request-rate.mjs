#!/usr/bin/env node
// Request rate of the hot read paths at several fleet sizes, against a real server (child
// process, loopback, git audit on), the server's CPU time per request, and its RSS at each size.
//   node bench/request-rate.mjs [seconds-per-endpoint=3] [concurrency=10] [sizes=0,1,1000,10000]
//   ENDPOINTS=machine,list measures only those (keys: ipxe, machine, storm, list, one, state); with
//   SERVER_NODE_FLAGS='... --cpu-prof' that gives a profile of one path.
// Endpoints: GET /ipxe, GET /ipxe/machine (a known machine, round robin over the whole fleet: every
// request a different machine, the worst case for the store's parsed-record cache), the same in a
// boot storm's pattern (40 machines at a time, each asking 3 times, as PXE retries, the iPXE chain
// and the reboot do), GET /api/v1/machines (one fixed-size page, limit=50, so the figure compares
// the same work at every size).
// The cluster dir is seeded by writing conf.json files directly; the server adopts them at start.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { client, ms, percentile, seedFleet, startServer, writeConfig } from './lib.mjs';


const SECONDS = Number(process.argv[2] ?? 3);
const C = Number(process.argv[3] ?? 10);
const SIZES = (process.argv[4] ?? '0,1,1000,10000').split(',').map(Number);

async function measure(request, port, pathFor, cpuSeconds) {
  const lat = [];
  let n = 0;
  let errors = 0;
  for (let i = 0; i < 100; i++) await request(port, 'GET', pathFor(i));
  const end = performance.now() + SECONDS * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const i = n++;
      const t0 = performance.now();
      const r = await request(port, 'GET', pathFor(i));
      lat.push(performance.now() - t0);
      if (r.status !== 200) errors++;
    }
  };
  const t0 = performance.now();
  const cpu0 = cpuSeconds();
  await Promise.all(Array.from({ length: C }, worker));
  const secs = (performance.now() - t0) / 1000;
  const cpuUs = ((cpuSeconds() - cpu0) * 1e6) / lat.length;
  lat.sort((a, b) => a - b);
  return { rps: lat.length / secs, p50: percentile(lat, 50), p99: percentile(lat, 99), cpuUs, errors };
}

const LABELS = [
  ['ipxe', '/ipxe'],
  ['machine', '/ipxe/machine'],
  ['storm', '/ipxe/machine, storm'],
  ['list', '/api/v1/machines?limit=50'],
  ['one', '/api/v1/machines?limit=1'],
  ['state', '/api/v1/machines?state=running&limit=50'],
];
const results = [];
for (const size of SIZES) {
  const dir = mkdtempSync(path.join(tmpdir(), 'cocoon-rate-'));
  const t0 = performance.now();
  const serials = seedFleet(path.join(dir, 'cluster'), size);
  const seedSecs = (performance.now() - t0) / 1000;
  // The first start adopts the seeded files in one git commit; measure a restarted server, as a
  // fleet's server runs (the adoption's transient memory is not what the fleet costs).
  const configFile = writeConfig(dir, { git: true });
  const t1 = performance.now();
  await (await startServer(configFile)).stop();
  const adoptSecs = (performance.now() - t1) / 1000;
  const t2 = performance.now();
  const server = await startServer(configFile);
  const startSecs = (performance.now() - t2) / 1000;
  const request = client(C);
  const pick = (i) => (serials.length ? serials[i % serials.length] : `unknown-${i}`);
  const macOf = (i) => {
    const hex = ((serials.length ? i % serials.length : i) + 1).toString(16).padStart(6, '0');
    return `52:54:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}:02`;
  };
  // 40 machines boot at a time and each asks 3 times before the next 40 start.
  const stormIndex = (i) => Math.floor(i / 120) * 40 + (i % 40);
  const row = { size, seedSecs, adoptSecs, startSecs };
  const endpoints = [
    ['ipxe', server.bootPort, () => '/ipxe'],
    ['machine', server.bootPort, (i) => `/ipxe/machine?serial=${pick(i)}&uuid=&mac=${macOf(i)}&arch=x86_64`],
    ['storm', server.bootPort, (i) => `/ipxe/machine?serial=${pick(stormIndex(i))}&uuid=&mac=${macOf(stormIndex(i))}&arch=x86_64`],
    ['list', server.apiPort, () => '/api/v1/machines?limit=50'],
    ['one', server.apiPort, () => '/api/v1/machines?limit=1'],
    ['state', server.apiPort, () => '/api/v1/machines?state=running&limit=50'],
  ];
  const only = process.env.ENDPOINTS?.split(',');
  if (only) endpoints.splice(0, endpoints.length, ...endpoints.filter(([key]) => only.includes(key)));
  // Warm every endpoint first (JIT, template compilation), so the first one measured is not penalised.
  for (const [, port, pathFor] of endpoints) for (let i = 0; i < 1000; i++) await request(port, 'GET', pathFor(i));
  for (const [key, port, pathFor] of endpoints) row[key] = await measure(request, port, pathFor, () => server.cpuSeconds());
  row.rss = server.rssMB();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
  results.push(row);
  console.log(
    `machines=${String(size).padStart(6)}  seed ${row.seedSecs.toFixed(1)} s, adopt ${row.adoptSecs.toFixed(1)} s, restart ${row.startSecs.toFixed(1)} s, RSS ${row.rss.rss.toFixed(0)} MB (peak ${row.rss.peak.toFixed(0)} MB)`,
  );
  for (const [key, name] of LABELS) {
    const r = row[key];
    if (!r) continue;
    console.log(`  ${name.padEnd(26)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${ms(r.p50).padStart(9)}  p99 ${ms(r.p99).padStart(9)}  server CPU ${r.cpuUs.toFixed(0).padStart(4)} us/req${r.errors ? `  ${r.errors} non-200` : ''}`);
  }
}

const one = results.find((r) => r.size === 1) ?? results[0];
const big = results.at(-1);
if (one && big && one !== big) {
  console.log(`\nthroughput at ${big.size} machines relative to ${one.size}:`);
  // Server CPU per request is the steadier figure on a shared machine (req/s also moves with the client's and others' load).
  for (const [k] of LABELS) {
    if (!big[k] || !one[k]) continue;
    console.log(`  ${k.padEnd(8)} ${((big[k].rps / one[k].rps) * 100).toFixed(0)} %  (server CPU per request ${((big[k].cpuUs / one[k].cpuUs) * 100).toFixed(0)} %)`);
  }
  // A list page holds min(50, fleet) records, so against 1 machine it serialises 50x more JSON;
  // the first fleet with a full page isolates the effect of fleet size on the same work.
  const fullPage = results.find((r) => r.size >= 50 && r !== big);
  if (fullPage?.list && big.list) {
    console.log(`  list     ${((big.list.rps / fullPage.list.rps) * 100).toFixed(0)} % of ${fullPage.size} machines, same 50-record page (server CPU per request ${((big.list.cpuUs / fullPage.list.cpuUs) * 100).toFixed(0)} %)`);
  }
  console.log(`  RSS at ${big.size} machines: ${big.rss.rss.toFixed(0)} MB (target < 150 MB)`);
}
