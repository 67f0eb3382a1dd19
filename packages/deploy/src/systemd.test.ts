import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { readRepoFile, repoFile, runtimeStage, toolAvailable } from './repo.js';
import { execForm, last, stageEnv } from './dockerfile.js';

/** Key → values of one section of a unit file (keys may repeat). */
function unitSection(text: string, section: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const head = /^\[(.+)\]$/.exec(line);
    if (head) {
      current = head[1] as string;
      continue;
    }
    if (current !== section) continue;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

const unitText = readRepoFile('deploy/cocoon.service');
const service = unitSection(unitText, 'Service');
const one = (key: string) => {
  const v = service.get(key);
  assert.ok(v && v.length === 1, `${key} is set once`);
  return v[0] as string;
};

/** systemd-analyze verify on a copy whose ExecStart points at this checkout's start script. */
function verify(text: string) {
  const dir = mkdtempSync(path.join(tmpdir(), 'cocoon-unit-'));
  try {
    const file = path.join(dir, 'cocoon.service');
    writeFileSync(file, text.replaceAll('/opt/cocoon/scripts/cocoon-start.sh', repoFile('scripts/cocoon-start.sh')));
    return spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('deploy/cocoon.service', () => {
  test('starts the same command with the same environment as the container image', () => {
    const runtime = runtimeStage();
    const entry = execForm(last(runtime, 'ENTRYPOINT')?.args ?? '') ?? [];
    assert.equal(one('ExecStart'), entry.at(-1), 'ExecStart is the image entrypoint without tini');
    assert.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID', 'reload = SIGHUP to the server (config re-read)');
    const env = Object.fromEntries((service.get('Environment') ?? []).map((e) => e.split('=', 2) as [string, string]));
    const imageEnv = stageEnv(runtime);
    for (const key of ['COCOON_CONFIG', 'NODE_ENV']) assert.equal(env[key], imageEnv[key], `${key} as in the image`);
  });

  test('capabilities: exactly the three the compose file grants, ambient so dnsmasq inherits them', () => {
    const compose = yaml.load(readRepoFile('docker-compose.yml')) as { services: { cocoon: { cap_add: string[] } } };
    const want = compose.services.cocoon.cap_add.map((c) => `CAP_${c}`).sort();
    assert.deepEqual(one('AmbientCapabilities').split(/\s+/).sort(), want);
    assert.deepEqual(one('CapabilityBoundingSet').split(/\s+/).sort(), want);
    assert.notEqual(one('User'), 'root');
  });

  test('read-only system, writable only where deploy/config.yaml keeps state', () => {
    assert.equal(one('ProtectSystem'), 'strict');
    const writable = one('ReadWritePaths').split(/\s+/);
    const states = one('StateDirectory').split(/\s+/).map((d) => `/var/lib/${d}`);
    const cfg = yaml.load(readRepoFile('deploy/config.yaml')) as { paths: Record<string, string> };
    for (const key of ['cluster_dir', 'images_dir', 'state_dir']) {
      const p = cfg.paths[key] as string;
      assert.ok(writable.some((w) => p === w || p.startsWith(`${w}/`)), `paths.${key} ${p} is under ReadWritePaths`);
      assert.ok(states.includes(p), `paths.${key} ${p} is created by StateDirectory`);
    }
    // Node's JIT needs W+X pages.
    assert.notEqual(service.get('MemoryDenyWriteExecute')?.[0], 'yes');
  });

  const haveSystemd = toolAvailable('systemd-analyze');
  test('systemd-analyze verify accepts it without a warning', { skip: haveSystemd ? false : 'systemd-analyze is not installed' }, () => {
    const good = verify(unitText);
    assert.equal(good.status, 0, good.stderr);
    assert.equal(good.stderr.trim(), '', 'no warnings (unknown keys, bad values)');
    const bad = verify(unitText.replace('ProtectSystem=strict', 'ProtectSystm=strict'));
    assert.match(bad.stderr, /Unknown key/, 'the check notices a misspelt key');
  });
});
