#!/usr/bin/env node
// Builds the agent's two shipped forms into dist/ (see docs/first-stage.md):
//   dist/cocoon-agent.js  one CommonJS file (esbuild) for environments that have node
//   dist/cocoon-agent.gz  a Node single executable application (this machine's node binary with
//                         the bundle injected), gzip-compressed, for x86-64 glibc environments
// The SEA step copies and rewrites a ~100 MB binary, so it only runs when the bundle or the node
// binary changed since the last build (a stamp file records both). Everything is local: offline.
import { createHash } from 'node:crypto';
import { copyFileSync, createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(pkg, 'dist');
const bundle = path.join(dist, 'cocoon-agent.js');
const seaGz = path.join(dist, 'cocoon-agent.gz');
const stampFile = path.join(dist, 'cocoon-agent.gz.stamp');
const require = createRequire(import.meta.url);
const args = new Set(process.argv.slice(2));

async function buildBundle() {
  const esbuild = require('esbuild');
  const result = await esbuild.build({
    entryPoints: [path.join(pkg, 'src', 'main.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    // Node 20's SEA runs CommonJS only, and a lone .js file without package.json is CommonJS.
    format: 'cjs',
    write: false,
    logLevel: 'warning',
  });
  const code = result.outputFiles[0].contents;
  mkdirSync(dist, { recursive: true });
  if (existsSync(bundle) && readFileSync(bundle).equals(code)) return code;
  writeFileSync(`${bundle}.tmp`, code);
  chmodSync(`${bundle}.tmp`, 0o755);
  renameSync(`${bundle}.tmp`, bundle);
  return code;
}

function stampOf(code) {
  const node = statSync(process.execPath);
  return createHash('sha256').update(code).update(`\n${process.version}\n${process.execPath}\n${node.size}\n${node.mtimeMs}`).digest('hex');
}

async function buildSea(code) {
  const stamp = stampOf(code);
  if (!args.has('--force') && existsSync(seaGz) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return false;
  const work = path.join(dist, '.sea');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    const blob = path.join(work, 'sea-prep.blob');
    const config = path.join(work, 'sea-config.json');
    writeFileSync(config, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true }));
    run(process.execPath, ['--experimental-sea-config', config]);
    const exe = path.join(work, 'cocoon-agent');
    copyFileSync(process.execPath, exe);
    chmodSync(exe, 0o755);
    const postject = path.join(path.dirname(require.resolve('postject/package.json')), 'dist', 'cli.js');
    run(process.execPath, [postject, exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2']);
    const check = spawnSync(exe, ['--help'], { encoding: 'utf8' });
    if (check.status !== 0 || !check.stdout.includes('usage: cocoon-agent')) {
      throw new Error(`the built executable does not run: exit ${check.status}: ${check.stderr}`);
    }
    await pipeline(createReadStream(exe), createGzip({ level: 6 }), createWriteStream(`${seaGz}.tmp`));
    renameSync(`${seaGz}.tmp`, seaGz);
    writeFileSync(stampFile, stamp);
    return true;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function run(cmd, argv) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${path.basename(cmd)} ${argv.join(' ')} failed (exit ${r.status}): ${r.stderr || r.stdout}`);
}

try {
  const t0 = Date.now();
  const code = await buildBundle();
  if (!args.has('--bundle-only')) {
    const built = await buildSea(code);
    if (built) console.log(`cocoon-agent: SEA built (${(statSync(seaGz).size / 1e6).toFixed(1)} MB gzip) in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }
} catch (err) {
  console.error(`build-artifacts: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
