#!/usr/bin/env node
// Render throughput: every artefact a booting machine fetches, rendered for many different machines
// with the built-in templates (each render builds its own context and env copy), plus the start-up
// self-test. Per-render cost must not depend on how many machines exist: the rate for the first
// 1 000 machines and for the last 1 000 of 10 000 are printed side by side. Prints figures; asserts nothing.
import { performance } from 'node:perf_hooks';
import { parseConfig } from '../packages/server/dist/config/index.js';
import { createRenderer, sampleMachine } from '../packages/server/dist/render/index.js';

const MACHINES = Number(process.env.MACHINES ?? 10_000);

const config = parseConfig(
  {
    network: {
      pxe_interface: 'br0',
      bind_addr: '10.77.0.1',
      bootstrap_range: { start: '10.77.0.100', end: '10.77.0.150' },
      ip_range: { start: '10.80.0.10', end: '10.80.255.250' },
      subnet_size: 16,
      subnet_gateway: '10.80.0.1',
      dns: ['10.77.0.1'],
      ntp: ['pool.ntp.org'],
    },
    auth: { mode: 'none' },
    default_os: { name: 'flatcar', version: '3975.2.0' },
    profiles: [{ name: 'control-plane', quantity: 3 }, { name: 'default' }],
    templates_env: { ssh_authorized_keys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBench bench@lab'], kernel_args: 'console=ttyS0' },
  },
  '/etc/cocoon/config.yaml',
);

const install = { kernel: 'flatcar_production_pxe.vmlinuz', initrds: ['flatcar_production_pxe_image.cpio.gz'], image: { name: 'flatcar_production_image.bin.bz2', sha256: 'ab'.repeat(32), size: 500_000_000 }, minDiskBytes: 8 * 2 ** 30 };
const profile = config.profiles.find((p) => p.name === 'default');
const machines = Array.from({ length: MACHINES }, (_, i) => ({
  ...sampleMachine(config, profile, 'installing'),
  Serial: `bench-${String(i).padStart(6, '0')}`,
  Hostname: `node-${i}`,
  InternalAddr: `10.80.${(i >> 8) & 255}.${(i & 255) || 1}`,
  MacAddresses: [`52:54:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`],
  Overrides: { role: `r${i % 7}` },
}));

const t0 = performance.now();
const renderer = createRenderer({ config });
const report = renderer.selfTest();
console.log(`self-test: ${report.renders} renders for ${report.profiles} profiles in ${(performance.now() - t0).toFixed(1)} ms (includes compiling the templates and the Ignition schema)`);

const cases = {
  'ipxe chain': () => renderer.ipxeChain({ platform: 'efi' }),
  'ipxe install (unknown machine)': (m) => renderer.ipxeMachine({ serial: m.Serial, mac: m.MacAddresses[0] }, { install }),
  'ipxe local disk (running)': (m) => renderer.ipxeMachine({ ...m, State: 'running' }),
  'first-stage script': (m) => renderer.firstStageScript(m, { install }),
  'first-stage ignition': (m) => renderer.firstStageIgnition(m).body,
  'final ignition (validated)': (m) => renderer.finalConfig(m).body,
};

const rate = (fn, list) => {
  const start = performance.now();
  let bytes = 0;
  for (const m of list) bytes += fn(m).length;
  const ms = performance.now() - start;
  return { perSec: (list.length / ms) * 1000, usPer: (ms * 1000) / list.length, bytes: bytes / list.length };
};

const first = machines.slice(0, 1000);
const last = machines.slice(-1000);
console.log(`\n${MACHINES} machines; renders/s for machines 1-1000 vs the last 1000 (each a fresh context):`);
for (const [name, fn] of Object.entries(cases)) {
  rate(fn, first.slice(0, 200)); // warm-up
  const a = rate(fn, first);
  const b = rate(fn, last);
  console.log(`  ${name.padEnd(32)} ${a.perSec.toFixed(0).padStart(7)}/s  ${b.perSec.toFixed(0).padStart(7)}/s   ${a.usPer.toFixed(0).padStart(5)} µs/render  ${a.bytes.toFixed(0).padStart(6)} B`);
}

const full = rate(cases['final ignition (validated)'], machines);
const rss = process.memoryUsage().rss / 2 ** 20;
console.log(`\nfinal ignition for all ${MACHINES} machines: ${full.perSec.toFixed(0)}/s; RSS ${rss.toFixed(0)} MB`);
