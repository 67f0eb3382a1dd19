#!/usr/bin/env node
// `pnpm lab`: the local lab. Starts the real Cocoon server with the example config's profiles
// inside a private network namespace, boots a few QEMU machines and shows their progress live
// until they run; Ctrl-C tears everything down.
//   node e2e/dist/lab.js [--machines N] [--uefi] [--keep]
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readConfigFile } from '@cocoon/server/config';
import { Lab, labPrerequisites, type MachineView } from './harness/lab.js';
import { onSignal } from './harness/cleanup.js';
import type { Machine } from './harness/qemu.js';
import { REPO_DIR } from './harness/paths.js';
import { setTimeout as sleep } from 'node:timers/promises';


async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      machines: { type: 'string', default: '3' },
      uefi: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log('usage: pnpm lab [--machines N] [--uefi] [--keep]');
    return 0;
  }
  const count = Number(values.machines);
  if (!Number.isInteger(count) || count < 1 || count > 8) {
    console.error(`--machines ${values.machines}: give a whole number from 1 to 8 (each guest needs most of a core under TCG)`);
    return 2;
  }
  const missing = labPrerequisites();
  if (missing) {
    console.error(`cocoon lab: ${missing} (e.g. sudo pnpm lab)`);
    return 1;
  }
  // The example config, adapted: its profiles and quotas, the lab's own network and paths.
  const example = readConfigFile(path.join(REPO_DIR, 'config.example.yaml'));
  const profiles = example.profiles.map((p) => ({ name: p.name, ...(p.quantity !== undefined ? { quantity: p.quantity } : {}) }));
  console.log(`cocoon lab: building guest assets if needed (first run: ~1 min, downloads the Debian kernel)`);
  const lab = await Lab.start({ purpose: 'lab', netnsPurpose: 'lab', profiles, keep: values.keep, progress: (l) => console.log(`  ${l}`) });
  let stopping = false;
  const teardown = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\ncocoon lab: stopping machines, server and dnsmasq; deleting the namespace');
    await lab.stop({ removeRunDir: !values.keep });
    if (values.keep) console.log(`cocoon lab: files kept in ${lab.dir}`);
  };
  onSignal(teardown);
  // The shared namespace helper deletes the namespace (and every process in it) on the signal
  // at once, so the orderly teardown may be cut short; say where things stand either way.
  process.on('exit', () => {
    if (stopping) console.log(`cocoon lab: namespace ${lab.net.name} deleted, machines, server and dnsmasq stopped`);
  });
  console.log(`cocoon lab: server up in namespace ${lab.net.name} (accel ${lab.accel}); profiles ${profiles.map((p) => `${p.name}${p.quantity !== undefined ? `×${p.quantity}` : ''}`).join(', ')}`);
  console.log(`  operator CLI:  ip netns exec ${lab.net.name} node packages/cli/dist/main.js --endpoint ${lab.server.apiUrl} --token ${lab.server.token} list`);
  console.log(`  server log:    ${lab.server.logFile}`);

  const machines: Machine[] = [];
  for (let i = 0; i < count; i++) machines.push(await lab.addMachine({ firmware: values.uefi ? 'uefi' : 'bios', memoryMiB: 640 }));
  for (const m of machines) m.powerOn();
  console.log(`cocoon lab: powered on ${count} machine(s); following their progress (Ctrl-C to stop)\n`);
  await follow(lab, machines);
  console.log('\ncocoon lab: every machine is running. The lab stays up for cocoonctl; Ctrl-C tears it down.');
  for (;;) await sleep(3_600_000);
}

/** Prints a line whenever a machine's state or latest event changes, until all are running. */
async function follow(lab: Lab, machines: Machine[]): Promise<void> {
  const seen = new Map<string, string>();
  const started = Date.now();
  for (;;) {
    let running = 0;
    for (const m of machines) {
      let rec: MachineView | undefined;
      let latest = '';
      try {
        rec = await lab.record(m.spec.serial);
        if (rec) {
          const events = await lab.timeline(m.spec.serial);
          const e = events.at(-1);
          if (e) latest = `${e.type}${e.message ? `: ${e.message}` : ''}`;
        }
      } catch (err) {
        latest = `(API: ${(err as Error).message})`;
      }
      // Before enrollment the server has no timeline under this serial: show the console.
      if (!latest) latest = `console: ${m.lastConsoleLine()}`;
      const state = rec?.State ?? 'booting';
      if (state === 'running') running++;
      const qemu = m.running ? '' : ` [qemu ${m.lastExit() ?? 'stopped'}]`;
      const reason = state === 'failed' ? ` (${rec?.StateReason ?? 'no reason'})` : '';
      const line = `${(state + reason).padEnd(10)} ${(rec?.InternalAddr ?? '').padEnd(12)} ${(rec?.Profile ?? '').padEnd(14)} ${latest}${qemu}`;
      if (seen.get(m.spec.serial) !== line) {
        seen.set(m.spec.serial, line);
        const t = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
        console.log(`${t}s  ${m.spec.serial.padEnd(12)} ${line}`);
      }
    }
    if (running === machines.length) return;
    await sleep(1000);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`cocoon lab: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
