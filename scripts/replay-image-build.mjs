#!/usr/bin/env node
// Replays the Dockerfile's build stage without a Docker engine: the committed tree (git archive
// HEAD, which .dockerignore would trim further) is unpacked into a temp dir, and the stage's
// COPY/ENV/RUN instructions run there in order, with a fresh pnpm store so `pnpm fetch` must
// really fetch everything the offline install needs. The image's /opt/cocoon becomes
// <tmp>/opt/cocoon. Global installs (`npm install -g`) are skipped: the host's pnpm is used and
// must be the pinned version. Prints the time of each step and the size of the result.
//   pnpm build && node scripts/replay-image-build.mjs [--keep]
import { execSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { parseDockerfile, stageEnv } = await import(pathToFileURL(path.join(root, 'packages/deploy/dist/dockerfile.js')).href);
const df = parseDockerfile(readFileSync(path.join(root, 'Dockerfile'), 'utf8'));
const stage = df.stages.find((s) => s.name === 'build');
if (!stage) throw new Error('the Dockerfile has no stage named build');

const tmp = mkdtempSync(path.join(tmpdir(), 'cocoon-image-build-'));
const context = path.join(tmp, 'context');
const work = path.join(tmp, 'src');
const store = path.join(tmp, 'store');
mkdirSync(context);
mkdirSync(work);
execSync(`git -C ${JSON.stringify(root)} archive HEAD | tar -x -C ${JSON.stringify(context)}`);
const env = { ...process.env, ...stageEnv(stage), npm_config_store_dir: store };
const remap = (s) => s.replaceAll('/opt/cocoon', path.join(tmp, 'opt/cocoon'));

let failed = false;
for (const ins of stage.instructions) {
  const started = performance.now();
  let what = `${ins.keyword} ${ins.args}`;
  if (ins.keyword === 'COPY') {
    const words = ins.args.split(/\s+/).filter((w) => !w.startsWith('--'));
    const sources = words.slice(0, -1).map((w) => (w === '.' ? '.' : w));
    execSync(`cd ${JSON.stringify(context)} && cp -R ${sources.map((s) => (s === '.' ? './.' : JSON.stringify(s))).join(' ')} ${JSON.stringify(work)}/`);
  } else if (ins.keyword === 'RUN') {
    const cmd = remap(ins.args)
      .split('&&')
      .map((c) => c.trim())
      .filter((c) => !/^npm install -g\b/.test(c))
      .join(' && ');
    what = `RUN ${cmd}`;
    if (cmd) {
      const r = spawnSync('sh', ['-c', cmd], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
      if (r.status !== 0) {
        console.error(`FAILED (${r.status}): ${what}\n${r.stdout}\n${r.stderr}`);
        failed = true;
        break;
      }
    }
  } else if (ins.keyword === 'WORKDIR' || ins.keyword === 'ENV') {
    // WORKDIR is the temp src dir; ENV is applied above.
  } else {
    what += ' (not replayed)';
  }
  console.log(`${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s  ${what.slice(0, 110)}`);
}
if (!failed) {
  const size = execSync(`du -sh ${JSON.stringify(path.join(tmp, 'opt/cocoon'))}`, { encoding: 'utf8' }).split('\t')[0];
  console.log(`build stage replayed: /opt/cocoon is ${size}`);
}
if (process.argv.includes('--keep')) console.log(`kept ${tmp}`);
else rmSync(tmp, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
