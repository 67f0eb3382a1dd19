import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { readRepoFile, repoFile, repoRoot, runtimeStage, toolAvailable } from './repo.js';
import { stageEnv } from './dockerfile.js';

interface ComposeService {
  image?: string;
  network_mode?: string;
  cap_add?: string[];
  cap_drop?: string[];
  user?: string;
  read_only?: boolean;
  restart?: string;
  entrypoint?: unknown;
  command?: unknown;
  environment?: Record<string, string>;
  volumes?: string[];
  logging?: { driver?: string; options?: Record<string, string> };
  security_opt?: string[];
}

/** `docker-compose config`: Debian's docker-compose validates and resolves without an engine. */
function composeConfig(args: string[], cwd = repoRoot) {
  const r = spawnSync('docker-compose', args, { cwd, encoding: 'utf8', env: { ...process.env, COMPOSE_INTERACTIVE_NO_CLI: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function resolvedService(extra: string[] = []): ComposeService {
  const r = composeConfig(['-f', 'docker-compose.yml', ...extra, 'config']);
  assert.equal(r.status, 0, `docker-compose config failed:\n${r.stderr}`);
  const doc = yaml.load(r.stdout) as { services: Record<string, ComposeService> };
  const svc = doc.services.cocoon;
  assert.ok(svc, 'service cocoon');
  return svc;
}

const haveCompose = toolAvailable('docker-compose');

describe('docker-compose.yml', { skip: haveCompose ? false : 'docker-compose (Debian package) is not installed' }, () => {
  test('is valid, with and without the example .env', () => {
    resolvedService();
    resolvedService(['--env-file', '.env.example']);
  });

  test('the check can fail: an invalid compose file is refused', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cocoon-compose-'));
    try {
      writeFileSync(path.join(dir, 'docker-compose.yml'), 'services:\n  cocoon:\n    network_mode: host\n    cap_add: NET_ADMIN\n    restart: sometimes\n');
      const r = composeConfig(['-f', 'docker-compose.yml', 'config'], dir);
      assert.notEqual(r.status, 0, 'docker-compose config rejects an invalid file');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('host networking, only the three DHCP capabilities, unprivileged, read-only, restarted', () => {
    const svc = resolvedService();
    assert.equal(svc.network_mode, 'host', 'DHCP needs the real L2');
    assert.deepEqual(svc.cap_drop, ['ALL']);
    assert.deepEqual([...(svc.cap_add ?? [])].sort(), ['NET_ADMIN', 'NET_BIND_SERVICE', 'NET_RAW']);
    assert.equal(svc.user, '10001:10001');
    assert.equal(svc.read_only, true);
    assert.equal(svc.restart, 'unless-stopped');
    // no-new-privileges would stop the kernel from granting dnsmasq its file capabilities.
    assert.ok(!(svc.security_opt ?? []).some((o) => o.includes('no-new-privileges')), 'no-new-privileges must stay off');
    assert.equal(svc.logging?.driver, 'json-file');
    assert.ok(svc.logging?.options?.['max-size'], 'log rotation: max-size');
    assert.ok(svc.logging?.options?.['max-file'], 'log rotation: max-file');
  });

  test('runs the image as built: no entrypoint or command override, so the start command is the one CI runs', () => {
    const svc = resolvedService();
    assert.equal(svc.entrypoint, undefined);
    assert.equal(svc.command, undefined);
    const known = new Set(['COCOON_CONFIG', 'COCOON_LOG_LEVEL', 'COCOON_NO_DNSMASQ', 'COCOON_NO_GIT', 'COCOON_HEALTH_URL']);
    const startScript = readRepoFile('scripts/cocoon-start.sh') + readRepoFile('scripts/healthcheck.mjs');
    for (const name of Object.keys(svc.environment ?? {})) {
      assert.ok(known.has(name), `${name} is one of the start script's variables`);
      assert.ok(startScript.includes(name), `${name} is read by scripts/cocoon-start.sh or healthcheck.mjs`);
    }
    assert.equal(svc.environment?.COCOON_HEALTH_URL, stageEnv(runtimeStage()).COCOON_HEALTH_URL, 'same health URL as the image');
  });

  test('mounts config and overrides read-only and every state folder of deploy/config.yaml', () => {
    const svc = resolvedService();
    const mounts = new Map((svc.volumes ?? []).map((v) => {
      const [source, target, mode] = v.split(':');
      return [target as string, { source: source as string, mode: mode ?? 'rw' }];
    }));
    const image = stageEnv(runtimeStage());
    assert.equal(mounts.get(image.COCOON_CONFIG ?? '')?.mode, 'ro', `the config is mounted read-only at ${image.COCOON_CONFIG}`);
    assert.equal(mounts.get(image.COCOON_CONFIG ?? '')?.source, repoFile('deploy/config.yaml'));
    const cfg = yaml.load(readRepoFile('deploy/config.yaml')) as { paths: Record<string, string> };
    assert.equal(mounts.get(cfg.paths.templates_dir ?? '')?.mode, 'ro', 'template overrides read-only');
    for (const key of ['cluster_dir', 'images_dir', 'state_dir']) {
      const m = mounts.get(cfg.paths[key] ?? '');
      assert.ok(m, `paths.${key} (${cfg.paths[key]}) is a volume`);
      assert.equal(m.mode, 'rw');
    }
  });

  test('.env.example names every variable the compose file reads, and only those', () => {
    const used = new Set([...readRepoFile('docker-compose.yml').matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]));
    const listed = new Set([...readRepoFile('.env.example').matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1]));
    assert.deepEqual([...used].sort(), [...listed].sort());
  });

  test('a host folder from .env becomes a bind mount', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cocoon-compose-'));
    try {
      copyFileSync(repoFile('docker-compose.yml'), path.join(dir, 'docker-compose.yml'));
      writeFileSync(path.join(dir, '.env'), 'COCOON_CLUSTER_DIR=/srv/mayu/cluster\nCOCOON_USER=1234:1234\n');
      const r = composeConfig(['-f', 'docker-compose.yml', 'config'], dir);
      assert.equal(r.status, 0, r.stderr);
      const svc = (yaml.load(r.stdout) as { services: Record<string, ComposeService> }).services.cocoon;
      assert.ok(svc?.volumes?.includes('/srv/mayu/cluster:/var/lib/cocoon/cluster:rw'), JSON.stringify(svc?.volumes));
      assert.equal(svc?.user, '1234:1234');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
