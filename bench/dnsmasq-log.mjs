#!/usr/bin/env node
// Throughput and memory of the dnsmasq log path: line splitting -> log parser -> event bus
// (timelines for every machine), on real dnsmasq 2.90 output replayed for many machines; and the
// full reconcile of the dhcp hosts dir for a 10 000-machine fleet. Prints figures; asserts nothing.
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { LineSplitter } from '../packages/server/dist/dnsmasq/line-splitter.js';
import { DnsmasqLogParser } from '../packages/server/dist/dnsmasq/log-parser.js';
import { HostsDir } from '../packages/server/dist/dnsmasq/hosts-dir.js';
import { EventBus } from '../packages/server/dist/events/bus.js';
import { parseConfig } from '../packages/server/dist/config/index.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const fixture = readFileSync(path.join(root, 'packages/server/src/dnsmasq/fixtures/integration-session.log'), 'utf8');
const dhcpLines = fixture.split('\n').filter((l) => /^dnsmasq-dhcp\[\d+\]: \d+ /.test(l));
const MACHINES = Number(process.env.MACHINES ?? 10_000);

const mac = (n) => `52:54:00:${((n >> 16) & 255).toString(16).padStart(2, '0')}:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;

// One boot's worth of DHCP lines per machine, with its own MAC and transaction ids.
const chunks = [];
let bytes = 0;
for (let n = 0; n < MACHINES; n++) {
  const text = `${dhcpLines.join('\n').replaceAll('52:54:00:c0:c0:01', mac(n)).replace(/: (\d+) /g, (_, x) => `: ${(Number(x) + n) >>> 0} `)}\n`;
  chunks.push(Buffer.from(text));
  bytes += text.length;
}

const bus = new EventBus({ resolver: { serialForMac: (m) => `srv-${m.slice(-8)}`, macsForSerial: () => [] } });
let events = 0;
bus.subscribe({ type: 'dhcp-ack' }, () => undefined);
const parser = new DnsmasqLogParser((e) => {
  events++;
  bus.publish(e);
});
let lines = 0;
const splitter = new LineSplitter((l) => {
  lines++;
  parser.line(l);
});
globalThis.gc?.();
const heapBefore = process.memoryUsage().heapUsed;
const t0 = performance.now();
for (const c of chunks) splitter.push(c);
splitter.end();
parser.flush();
const t1 = performance.now();
chunks.length = 0;
globalThis.gc?.();
const heapAfter = process.memoryUsage().heapUsed;
const s = (t1 - t0) / 1000;
console.log(`log path: ${MACHINES} machines, ${lines} lines (${(bytes / 1e6).toFixed(1)} MB) -> ${events} events in ${s.toFixed(2)} s`);
console.log(`  ${Math.round(lines / s)} lines/s, ${Math.round(events / s)} events/s, ${((t1 - t0) * 1000 / events).toFixed(1)} µs/event`);
console.log(`  heap held by the timelines of ${MACHINES} machines (64 events each at most): ${((heapAfter - heapBefore) / 1e6).toFixed(1)} MB${globalThis.gc ? '' : ' (run with --expose-gc for exact figures)'}`);

// hosts dir: full reconcile of a fleet where every machine is installed (ignore-installed policy).
const dir = mkdtempSync(path.join(os.tmpdir(), 'cocoon-bench-hosts-'));
try {
  const config = parseConfig({
    network: { pxe_interface: 'br0', bind_addr: '10.77.0.1', bootstrap_range: { start: '10.77.0.100', end: '10.77.0.150' }, ip_range: { start: '10.77.0.10', end: '10.77.0.60' }, host_policy: 'ignore-installed' },
    auth: { mode: 'none' },
    default_os: { name: 'flatcar', version: 'current' },
    profiles: [{ name: 'default' }],
  });
  const records = Array.from({ length: MACHINES }, (_, n) => ({ Serial: `srv-${n}`, MacAddresses: [mac(n)], State: 'running', InternalAddr: '' }));
  const byMac = new Map(records.map((r) => [r.MacAddresses[0], r]));
  const listeners = new Set();
  const store = { list: () => records, byMac: (m) => byMac.get(m), onChange: (l) => (listeners.add(l), () => listeners.delete(l)) };
  const hd = new HostsDir({ dir: path.join(dir, 'hosts'), config, store, requestReload: () => undefined });
  let t = performance.now();
  const first = await hd.reconcile();
  console.log(`hosts dir: first reconcile of ${MACHINES} machines: ${first.written} files in ${((performance.now() - t) / 1000).toFixed(2)} s`);
  t = performance.now();
  const again = await hd.reconcile();
  console.log(`hosts dir: reconcile with nothing to do: ${again.written} writes in ${((performance.now() - t) / 1000).toFixed(2)} s`);
  hd.follow();
  t = performance.now();
  for (let n = 0; n < 40; n++) {
    const r = { ...records[n], State: 'configured' };
    records[n] = r;
    byMac.set(r.MacAddresses[0], r);
    for (const l of listeners) l(r.Serial, r);
  }
  await hd.idle();
  console.log(`hosts dir: 40 machines change state at once: ${((performance.now() - t) / 40).toFixed(2)} ms per change (incremental)`);
  hd.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
