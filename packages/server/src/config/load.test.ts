import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, parseConfig, readConfigFile } from './load.js';
import { tempDir } from '../testing/temp-dir.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

function minimal(): Record<string, unknown> {
  return {
    network: {
      pxe_interface: 'br0',
      bind_addr: '10.0.0.1',
      bootstrap_range: { start: '10.0.0.100', end: '10.0.0.150' },
      ip_range: { start: '10.0.1.10', end: '10.0.1.20' },
    },
    profiles: [{ name: 'core', quantity: 3 }],
    default_os: { name: 'flatcar', version: '1.0.0' },
    auth: { mode: 'none' },
  };
}

function problemsOf(doc: unknown): string[] {
  try {
    parseConfig(doc, '/x/config.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

test('the example config in the repository is valid', () => {
  const cfg = readConfigFile(path.join(repoRoot, 'config.example.yaml'));
  assert.equal(cfg.network.pxe_interface, 'br0');
  assert.equal(cfg.http.boot.public_url, 'http://10.77.0.1:4081');
  assert.ok(path.isAbsolute(cfg.paths.cluster_dir));
});

test('defaults are filled and a default profile is added', () => {
  const cfg = parseConfig(minimal(), '/etc/cocoon/config.yaml');
  assert.equal(cfg.http.api.port, 4080);
  assert.equal(cfg.http.boot.port, 4081);
  assert.equal(cfg.git.enabled, true);
  assert.equal(cfg.network.host_policy, 'answer');
  assert.equal(cfg.paths.cluster_dir, '/etc/cocoon/cluster');
  assert.deepEqual(cfg.profiles.map((p) => p.name), ['core', 'default']);
  assert.equal(cfg.profiles[0]?.boot, 'install');
});

test('errors name the path, the value and what is allowed', () => {
  const doc = minimal();
  const net = doc['network'] as Record<string, unknown>;
  net['bind_addr'] = '10.0.0.300';
  net['host_policy'] = 'sometimes';
  net['bogus'] = 1;
  const problems = problemsOf(doc);
  assert.ok(problems.some((p) => p.startsWith('network.bind_addr: must be a valid ipv4') && p.includes('"10.0.0.300"')), problems.join('\n'));
  assert.ok(problems.some((p) => p.includes('network.host_policy: must be one of "answer", "ignore-installed"')), problems.join('\n'));
  assert.ok(problems.some((p) => p.startsWith('network.bogus: unknown key; allowed here: pxe_interface')), problems.join('\n'));
});

test('event timeline caps default to 64 events and 20 000 timelines and are checked', () => {
  const cfg = parseConfig(minimal());
  assert.deepEqual(cfg.events, { timeline_size: 64, max_timelines: 20_000, max_events: 50_000 });
  assert.deepEqual(parseConfig({ ...minimal(), events: { timeline_size: 8, max_timelines: 500 } }).events, { timeline_size: 8, max_timelines: 500, max_events: 50_000 });
  const problems = problemsOf({ ...minimal(), events: { timeline_size: 0, max_timelines: 2.5, size: 3 } });
  assert.ok(problems.includes('events.timeline_size: must be >= 1 (got 0)'), problems.join('\n'));
  assert.ok(problems.includes('events.max_timelines: must be integer (got 2.5)'), problems.join('\n'));
  assert.ok(problems.includes('events.size: unknown key; allowed here: timeline_size, max_timelines, max_events'), problems.join('\n'));
});

test('semantic checks: reversed ranges, duplicate profiles, tokens required, declared conflicts', () => {
  const doc = minimal();
  (doc['network'] as Record<string, unknown>)['ip_range'] = { start: '10.0.1.20', end: '10.0.1.10' };
  doc['profiles'] = [{ name: 'a' }, { name: 'a' }];
  doc['auth'] = { mode: 'tokens' };
  doc['machines'] = [
    { mac: '52:54:00:00:00:01', ip: '10.0.1.15' },
    { mac: '52-54-00-00-00-01', ip: '10.0.9.9', profile: 'nope' },
  ];
  const problems = problemsOf(doc).join('\n');
  assert.match(problems, /network\.ip_range: start 10\.0\.1\.20 is after end 10\.0\.1\.10/);
  assert.match(problems, /profiles\[1\]\.name: profile "a" is defined twice/);
  assert.match(problems, /auth\.tokens: at least one token/);
  assert.match(problems, /machines\[1\]\.mac: 52-54-00-00-00-01 is already declared by machines\[0\]/);
  assert.match(problems, /machines\[1\]\.ip: 10\.0\.9\.9 is outside network\.ip_range/);
  assert.match(problems, /machines\[1\]\.profile: no profile named "nope"/);
});

test('YAML syntax errors carry the line', () => {
  const dir = tempDir('cocoon-cfg-');
  const file = path.join(dir, 'c.yaml');
  writeFileSync(file, 'network:\n  pxe_interface: [br0\n');
  assert.throws(() => readConfigFile(file), (err: unknown) => err instanceof ConfigError && /line \d+/.test(err.problems[0] ?? ''));
});
