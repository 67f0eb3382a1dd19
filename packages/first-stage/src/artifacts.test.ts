import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGunzip } from 'node:zlib';
import { collectFacts } from './collect/index.js';
import { uefiVmTree, writeTree } from './testing/fixture-tree.js';

// Built by scripts/build-artifacts.mjs, which `pnpm build` and `pnpm test` run before the tests.
const DIST = path.dirname(fileURLToPath(import.meta.url));

test('the esbuild bundle and the gzip-compressed single executable both collect the same facts', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'cocoon-artifacts-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const root = await writeTree(uefiVmTree(), path.join(dir, 'root'));
  const expected = await collectFacts({ root, ipmitool: false });

  // The bundle is CommonJS; a machine runs it from a directory without package.json (inside this
  // package, "type": "module" would make node read it as ESM), so run a copy in the temp dir.
  const js = path.join(dir, 'cocoon-agent.js');
  await copyFile(path.join(DIST, 'cocoon-agent.js'), js);
  const bundle = spawnSync(process.execPath, [js, '--dry-run', '--no-ipmi', '--root', root], { encoding: 'utf8' });
  assert.equal(bundle.status, 0, bundle.stderr);
  assert.deepEqual(JSON.parse(bundle.stdout), expected);

  const exe = path.join(dir, 'cocoon-agent');
  await pipeline(createReadStream(path.join(DIST, 'cocoon-agent.gz')), createGunzip(), createWriteStream(exe));
  await chmod(exe, 0o755);
  // No node on PATH and an empty environment: the executable carries its own runtime.
  const sea = spawnSync(exe, ['--dry-run', '--no-ipmi', '--root', root], { encoding: 'utf8', env: { PATH: '/nonexistent' } });
  assert.equal(sea.status, 0, sea.stderr);
  assert.equal(sea.stderr, '');
  assert.deepEqual(JSON.parse(sea.stdout), expected);
});
