import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { base64, dataurl, ipxearg, json, MAX_INLINE_FILE, shquote, TemplateFiles } from './filters.js';
import { mergeTemplatesEnv } from './templates-env.js';
import { imagePath, machineUrls } from './urls.js';
import { CONFIG_YAML_SCHEMA, parseConfigYaml, YamlSyntaxError } from './yaml.js';
import { tempDir } from '../testing/temp-dir.js';

const NASTY = ["it's", '$(reboot)', '`id`', 'a b\tc', 'line1\nline2', '\\', '"quoted"', "'", '', '--', '*', '!x', '${HOME}', 'ünïcode'];

for (const shell of ['dash', 'busybox']) {
  test(`shquote: ${shell} sees exactly the original value, whatever it contains`, (t) => {
    const argv = shell === 'busybox' ? ['busybox', 'sh'] : ['dash'];
    if (spawnSync(argv[0] as string, ['--help']).error) return t.skip(`${shell} is not installed`);
    for (const value of NASTY) {
      const r = spawnSync(argv[0] as string, [...argv.slice(1), '-c', `printf '%s' ${shquote(value)}`], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, value, `value ${JSON.stringify(value)}`);
    }
  });
}

test('shquote: numbers and booleans are text; undefined, objects and arrays are refused', () => {
  assert.equal(shquote(42), "'42'");
  assert.equal(shquote(true), "'true'");
  assert.throws(() => shquote(undefined), /shquote: expected a string or number, got undefined/);
  assert.throws(() => shquote({ a: 1 }), /got an object/);
  assert.throws(() => shquote(['a']), /got an array/);
  assert.throws(() => shquote(Number.NaN), /expected a string or number/);
});

test('ipxearg: passes URLs, refuses what iPXE would split or expand', () => {
  assert.equal(ipxearg('http://10.0.0.1:4081/images/vm-1/vmlinuz'), 'http://10.0.0.1:4081/images/vm-1/vmlinuz');
  assert.equal(ipxearg(8), '8');
  assert.throws(() => ipxearg('a b'), /whitespace or control characters/);
  assert.throws(() => ipxearg('a\nexit'), /whitespace or control characters/);
  assert.throws(() => ipxearg('x${serial}'), /would expand/);
  assert.throws(() => ipxearg(''), /empty value/);
  assert.throws(() => ipxearg(undefined), /got undefined/);
});

test('base64, dataurl and json', () => {
  assert.equal(base64('hello ✓'), Buffer.from('hello ✓').toString('base64'));
  assert.equal(dataurl('#!/bin/sh\n'), `data:;base64,${Buffer.from('#!/bin/sh\n').toString('base64')}`);
  assert.equal(json('a"b\n'), '"a\\"b\\n"');
  assert.equal(json(['k1', 'k2']), '["k1","k2"]');
  assert.equal(json({ a: [1, null] }), '{"a":[1,null]}');
  assert.throws(() => json(undefined), /json: value is undefined/);
  assert.throws(() => json(() => 1), /has no JSON form/);
  // What json prints is a YAML scalar that reads back as the same value.
  for (const v of ['yes', 'null', '0644', 'a: b', '- x', '#c', "it's", '  padded ']) {
    assert.deepEqual(parseConfigYaml(`v: ${json(v)}`), { v });
  }
});

test('template files: operator files win, only plain paths under files/, size is capped', () => {
  const op = tempDir('cocoon-files-op-');
  const builtin = tempDir('cocoon-files-bi-');
  mkdirSync(path.join(op, 'files'));
  mkdirSync(path.join(builtin, 'files', 'sub'), { recursive: true });
  writeFileSync(path.join(op, 'files', 'motd'), 'operator motd\n');
  writeFileSync(path.join(builtin, 'files', 'motd'), 'builtin motd\n');
  writeFileSync(path.join(builtin, 'files', 'sub', 'x.sh'), 'echo x\n');
  writeFileSync(path.join(builtin, 'secret'), 'not under files/');
  writeFileSync(path.join(builtin, 'files', 'big'), Buffer.alloc(MAX_INLINE_FILE + 1));
  const files = new TemplateFiles([op, builtin]);
  assert.equal(files.read('files/motd').toString(), 'operator motd\n');
  assert.equal(files.read('sub/x.sh').toString(), 'echo x\n');
  assert.equal(files.dataUrl('files/sub/x.sh'), `data:;base64,${Buffer.from('echo x\n').toString('base64')}`);
  for (const bad of ['../secret', 'files/../secret', '/etc/passwd', 'files//motd', 'files/./motd', 'a\\b', '']) {
    assert.throws(() => files.read(bad), /not a plain relative path|expected a path/, bad);
  }
  assert.throws(() => files.read('files/nope'), /files\/nope not found \(looked in .*files, .*files\)/);
  assert.throws(() => files.read('files/big'), new RegExp(`at most ${MAX_INLINE_FILE} can be inlined`));
});

test('templates_env merge: later layers win, objects merge, arrays replace, nothing is shared', () => {
  const global = { keys: ['a'], nested: { x: 1, deep: { y: 2 } }, name: 'lab' };
  const profile = { nested: { deep: { z: 3 } } };
  const overrides = { keys: ['b'], name: 'override', __proto__polluter: 1, ['__proto__']: { polluted: true } };
  const env = mergeTemplatesEnv(global, profile, JSON.parse(JSON.stringify(overrides)) as Record<string, unknown>);
  assert.deepEqual(env, { keys: ['b'], nested: { x: 1, deep: { y: 2, z: 3 } }, name: 'override', __proto__polluter: 1 });
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  (env['nested'] as { deep: { y: number } }).deep.y = 99;
  (env['keys'] as string[]).push('c');
  assert.deepEqual(global, { keys: ['a'], nested: { x: 1, deep: { y: 2 } }, name: 'lab' });
  assert.deepEqual(profile, { nested: { deep: { z: 3 } } });
});

test('urls: serial and image names are encoded per path segment', () => {
  const u = machineUrls('http://boot:4081/', 'a b/c');
  assert.equal(u.firstStage, 'http://boot:4081/first-stage/a%20b%2Fc');
  assert.equal(u.bootComplete, 'http://boot:4081/machines/a%20b%2Fc/boot-complete');
  assert.equal(u.image('vmlinuz'), 'http://boot:4081/images/a%20b%2Fc/vmlinuz');
  assert.equal(imagePath('debian/12/initrd gz'), 'debian/12/initrd%20gz');
  assert.equal(imagePath('/leading//double/'), 'leading/double');
});

test('config YAML: mode 0644 is octal as in Butane; timestamps stay strings; syntax errors carry the line', () => {
  assert.deepEqual(parseConfigYaml('mode: 0644\nother: 0o755\nplain: 644\nzero: 0\nneg: -010\nwhen: 2024-01-01\nyes: yes'), {
    mode: 0o644,
    other: 0o755,
    plain: 644,
    zero: 0,
    neg: -8,
    when: '2024-01-01',
    yes: 'yes',
  });
  assert.ok(CONFIG_YAML_SCHEMA);
  assert.throws(
    () => parseConfigYaml('a: 1\nb: [1, 2\nc: 3\n'),
    (e: unknown) => e instanceof YamlSyntaxError && e.line !== undefined && e.line >= 3 && /YAML syntax/.test(e.reason),
  );
});
