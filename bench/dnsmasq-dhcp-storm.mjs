#!/usr/bin/env node
// 40 machines PXE-booting at once against the real supervised dnsmasq (root: network namespaces):
// each client namespace runs busybox udhcpc as BIOS PXE firmware (PING_CHECK=1: network.ping_check). Prints how long until every
// one has its lease and boot file, and how far the event bus lags behind. Asserts nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createTestNetwork, dhcpRequest, canUseNetns } from '../packages/server/dist/testing/netns.js';
import { labConfig } from '../packages/server/dist/testing/lab-config.js';
import { openTestStore } from '../packages/server/dist/testing/store-fixtures.js';
import { createDnsmasqService } from '../packages/server/dist/dnsmasq/index.js';
import { EventBus } from '../packages/server/dist/events/index.js';
import { createLogger } from '../packages/server/dist/util/logger.js';

if (!canUseNetns()) {
  console.error('needs root (network namespaces)');
  process.exit(2);
}
const N = Number(process.env.CLIENTS ?? 40);
const macs = Array.from({ length: N }, (_, i) => `52:54:00:5e:00:${i.toString(16).padStart(2, '0')}`);
const dir = mkdtempSync(path.join(os.tmpdir(), 'cocoon-storm-'));
let t = performance.now();
const net = await createTestNetwork({ purpose: 'storm', clientMacs: macs });
console.log(`setup: ${N} client namespaces in ${((performance.now() - t) / 1000).toFixed(1)} s`);
const store = await openTestStore(path.join(dir, 'cluster'), false);
const bus = new EventBus();
const acks = new Map();
bus.subscribe({ type: 'dhcp-ack' }, (e) => acks.has(e.mac) || acks.set(e.mac, performance.now()));
const pingCheck = process.env.PING_CHECK === '1';
const cfg = labConfig(dir, { ping_check: pingCheck, lease_time: '2m' }, { dnsmasq: { netns: net.ns } });
const service = createDnsmasqService(cfg, store, bus, createLogger({ level: 'error', format: 'json', silent: true }), process.env.DEBUG ? { onLine: (l) => console.log(l) } : {});
try {
  await service.start();
  t = performance.now();
  const done = [];
  const results = await Promise.all(
    net.clients.map(async (c) => {
      const r = await dhcpRequest(net, c, { vendorClass: 'PXEClient:Arch:00000:UNDI:002001', clientArch: 0, tries: 5, timeoutSec: 2 });
      done.push(performance.now());
      return r;
    }),
  );
  const wall = (performance.now() - t) / 1000;
  const ok = results.filter((r) => r && r.bootFile === 'undionly.kpxe');
  const ips = new Set(ok.map((r) => r.ip));
  await new Promise((r) => setTimeout(r, 200));
  done.sort((a, b) => a - b);
  const p = (q) => ((done[Math.min(done.length - 1, Math.floor(q * done.length))] - t) / 1000).toFixed(2);
  console.log(`network.ping_check ${pingCheck ? 'on: dnsmasq probes each new address (up to 3 s, one client at a time)' : 'off (default): no ICMP probe before an offer'}`);
  console.log(`${N} PXE clients at once: ${ok.length} got a lease with undionly.kpxe, ${ips.size} distinct addresses, all done in ${wall.toFixed(2)} s (p50 ${p(0.5)} s, p90 ${p(0.9)} s)`);
  console.log(`event bus: ${acks.size} machines with a dhcp-ack event; ${bus.lastId} events in total; restarts ${service.status().restarts}`);
} finally {
  await service.stop();
  await net.destroy();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
