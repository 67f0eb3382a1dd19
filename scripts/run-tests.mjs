#!/usr/bin/env node
// Runs every compiled test file with node's test runner. Unit and integration tests first (two at
// a time); the QEMU end-to-end suite afterwards on its own, since TCG guests need both cores.
//   --unit     only tests that need no root, dnsmasq or QEMU (files not named *.root.test.js / e2e)
//   --e2e      only the end-to-end suite
import { readdirSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const args = new Set(process.argv.slice(2));

function collect(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) collect(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const pkgTests = readdirSync(path.join(root, 'packages')).flatMap((p) => collect(path.join(root, 'packages', p, 'dist')));
const e2eTests = collect(path.join(root, 'e2e', 'dist'));
const isRootTest = (f) => f.endsWith('.root.test.js');

let phases;
if (args.has('--unit')) phases = [['unit', pkgTests.filter((f) => !isRootTest(f)), 2]];
else if (args.has('--e2e')) phases = [['e2e', e2eTests, 1]];
else phases = [['unit+integration', pkgTests, 2], ['e2e', e2eTests, 1]];

let failed = false;
for (const [name, files, concurrency] of phases) {
  if (files.length === 0) continue;
  console.log(`\n=== ${name}: ${files.length} test files ===`);
  const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files], {
    stdio: 'inherit',
    cwd: root,
  });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
