import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoFile } from './repo.js';

/**
 * scripts/cocoon-start.sh maps COCOON_* variables to server flags. It runs here from a copy in a
 * release-like tree whose `node` on PATH records its arguments, so only the mapping is tested
 * (the real start is the deploy root test).
 */
describe('scripts/cocoon-start.sh', () => {
  let dir = '';
  let config = '';
  const run = (env: Record<string, string>, ...args: string[]) =>
    spawnSync('sh', [path.join(dir, 'scripts/cocoon-start.sh'), ...args], {
      encoding: 'utf8',
      env: { PATH: `${path.join(dir, 'fakebin')}:/usr/bin:/bin`, ...env },
    });
  const argv = (out: string) => out.trim().split('\n');
  const HEAP = ['--max-semi-space-size=1', '--heap-growing-percent=25'];

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cocoon-start-script-'));
    mkdirSync(path.join(dir, 'scripts'));
    mkdirSync(path.join(dir, 'fakebin'));
    copyFileSync(repoFile('scripts/cocoon-start.sh'), path.join(dir, 'scripts/cocoon-start.sh'));
    writeFileSync(path.join(dir, 'fakebin/node'), '#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n');
    chmodSync(path.join(dir, 'fakebin/node'), 0o755);
    config = path.join(dir, 'config.yaml');
    writeFileSync(config, 'network: {}\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('runs the server of its own tree with --config $COCOON_CONFIG and passes arguments on', () => {
    const r = run({ COCOON_CONFIG: config }, '--api-port', '8443');
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(argv(r.stdout), [...HEAP, path.join(dir, 'packages/server/dist/main.js'), '--config', config, '--api-port', '8443']);
  });

  test('gives node the heap flags unless COCOON_NODE_FLAGS says otherwise; empty gives none', () => {
    const own = run({ COCOON_CONFIG: config, COCOON_NODE_FLAGS: '--max-old-space-size=512 --max-semi-space-size=4' });
    assert.equal(own.status, 0, own.stderr);
    assert.deepEqual(argv(own.stdout).slice(0, 3), ['--max-old-space-size=512', '--max-semi-space-size=4', path.join(dir, 'packages/server/dist/main.js')]);
    const none = run({ COCOON_CONFIG: config, COCOON_NODE_FLAGS: '' });
    assert.deepEqual(argv(none.stdout).slice(0, 1), [path.join(dir, 'packages/server/dist/main.js')]);
  });

  test('maps COCOON_LOG_LEVEL, COCOON_NO_DNSMASQ and COCOON_NO_GIT to flags; empty means unset', () => {
    const r = run({ COCOON_CONFIG: config, COCOON_LOG_LEVEL: 'debug', COCOON_NO_DNSMASQ: 'true', COCOON_NO_GIT: '1' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(argv(r.stdout).slice(HEAP.length + 1), ['--config', config, '--log-level=debug', '--no-dnsmasq', '--no-git']);
    const empty = run({ COCOON_CONFIG: config, COCOON_LOG_LEVEL: '', COCOON_NO_DNSMASQ: '', COCOON_NO_GIT: '0' });
    assert.deepEqual(argv(empty.stdout).slice(HEAP.length + 1), ['--config', config]);
  });

  test('refuses bad values and a missing or non-file config with one line and exit code 2', () => {
    for (const [env, said] of [
      [{ COCOON_CONFIG: config, COCOON_LOG_LEVEL: 'loud' }, /COCOON_LOG_LEVEL=loud is not one of error, warn, info, debug/],
      [{ COCOON_CONFIG: config, COCOON_NO_DNSMASQ: 'maybe' }, /COCOON_NO_DNSMASQ=maybe is not a boolean/],
      [{ COCOON_CONFIG: config, COCOON_NODE_FLAGS: '--inspect /etc/x.js' }, /COCOON_NODE_FLAGS: "\/etc\/x.js" is not a node flag/],
      [{ COCOON_CONFIG: path.join(dir, 'missing.yaml') }, /cannot read the config file .*missing\.yaml/],
      // Docker creates a folder where a bind-mounted file is missing on the host.
      [{ COCOON_CONFIG: path.join(dir, 'scripts') }, /cannot read the config file .*scripts \(not a readable file/],
    ] as const) {
      const r = run(env);
      assert.equal(r.status, 2, JSON.stringify(env));
      assert.match(r.stderr, said);
      assert.equal(r.stdout, '', 'the server was not started');
    }
  });
});
