#!/usr/bin/env node
// First-stage install throughput: the real server (store, provisioner, renderer, boot port on
// loopback) serves a SIZE_MIB image; the rendered first-stage script runs under busybox sh in a
// sandbox (fixture /sys, a sparse file as the disk), enrolls with the agent bundle, streams the
// image through sha256 + decompression onto the disk, places the config and reports installed.
// Prints the phase times from the server's event timeline and the streaming rate. Asserts nothing.
//   SIZE_MIB=256 FORMAT=gz|bz2|raw node bench/first-stage-install.mjs
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, createWriteStream, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startTestServer } from '../packages/server/dist/http/testing.js';
import { writeManifest } from '../packages/server/dist/images/manifest.js';
import { AGENT_BUNDLE, runScript, sandbox } from '../packages/server/dist/images/first-stage-sandbox.js';

const SIZE_MIB = Number(process.env.SIZE_MIB ?? 256);
const FORMAT = process.env.FORMAT ?? 'gz';
const cleanups = [];
const t = { after: (fn) => cleanups.push(fn) };

try {
  const s = await startTestServer();
  cleanups.push(() => s.close());
  s.config.http.boot.public_url = s.bootUrl;
  copyFileSync(AGENT_BUNDLE, path.join(s.dir, 'agent', 'cocoon-agent.js'));
  const sb = await sandbox(t, { vdaMiB: SIZE_MIB + 64 });

  // Half random, half zeros: compressible like a real disk image, not trivially so.
  const version = path.join(s.dir, 'images', 'flatcar', '1.0.0');
  const raw = path.join(sb.dir, 'image.raw');
  const out = createWriteStream(raw);
  const chunk = randomBytes(1 << 20);
  for (let i = 0; i < SIZE_MIB; i++) out.write(i % 2 ? Buffer.alloc(1 << 20) : chunk.map((b) => b ^ i));
  await new Promise((r) => out.end(r));
  const name = `image.raw${FORMAT === 'raw' ? '' : `.${FORMAT}`}`;
  const t0 = performance.now();
  if (FORMAT === 'raw') copyFileSync(raw, path.join(version, name));
  else spawnSync('sh', ['-c', `${FORMAT === 'gz' ? 'gzip -1' : 'bzip2 -1'} -c "${raw}" > "${path.join(version, name)}"`]);
  const compressMs = performance.now() - t0;
  await writeManifest(version, { os: 'flatcar', version: '1.0.0', kernel: 'vmlinuz', initrd: 'initrd.cpio.gz', install: name });
  const served = statSync(path.join(version, name)).size;

  const script = path.join(sb.dir, 'first-stage.sh');
  await writeFile(script, await (await fetch(`${s.bootUrl}/first-stage/bench`)).text());
  const start = performance.now();
  const r = await runScript(sb, script);
  const totalMs = performance.now() - start;
  if (r.code !== 0) throw new Error(`the script failed (exit ${r.code}): ${r.stderr.split('\n').slice(-3).join(' | ')}`);

  const serial = '8f1d2c3b-4a5e-6f70-8192-a3b4c5d6e7f8';
  // Before enrollment the script reports under the serial it was rendered for ('bench').
  const events = [...s.events.timeline('bench', 1000), ...s.events.timeline(serial, 1000)];
  const at = (text) => {
    const e = events.find((x) => x.message.includes(text));
    return e ? Date.parse(e.time) : NaN;
  };
  const enrolledMs = at('enrolled as') - at('agent fetched');
  const writeMs = at('image written') - at('installing ');
  console.log(`image: ${SIZE_MIB} MiB raw, ${FORMAT} ${(served / 2 ** 20).toFixed(1)} MiB served (compressed in ${(compressMs / 1000).toFixed(1)} s)`);
  console.log(`agent fetch + facts + enroll + final config: ${enrolledMs} ms`);
  console.log(`stream + sha256 + ${FORMAT} decompress + write: ${(writeMs / 1000).toFixed(2)} s = ${(SIZE_MIB / (writeMs / 1000)).toFixed(1)} MiB/s of disk, ${(served / 2 ** 20 / (writeMs / 1000)).toFixed(1)} MiB/s over HTTP`);
  console.log(`whole first stage (script start -> installed): ${(totalMs / 1000).toFixed(2)} s`);
} finally {
  for (const fn of cleanups.reverse()) await fn();
}
