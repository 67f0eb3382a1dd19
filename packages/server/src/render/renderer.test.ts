import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { addImage } from '../images/catalog.js';
import { CocoonError } from '../util/errors.js';
import { BUILTIN_TEMPLATES_DIR } from './environment.js';
import { RenderError } from './errors.js';
import { createRenderer, ipxeFlow, selfTest } from './renderer.js';
import { SELF_TEST_SERIAL } from './self-test.js';
import { operatorTemplates, renderTestConfig, testMachine } from './test-fixtures.js';
import { tempDir } from '../testing/temp-dir.js';

const config = renderTestConfig();

function renderError(fn: () => unknown): RenderError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof RenderError, `expected a RenderError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the render to fail');
}

test('an undefined variable is an error naming the file, line and column', () => {
  const dir = operatorTemplates({ 'ipxe/local-disk.ipxe': '#!ipxe\necho {{ machine.Serial }}\necho {{ machine.Hostnme }}\nexit\n' });
  const r = createRenderer({ config, overrideDir: dir });
  const e = renderError(() => r.ipxeMachine(testMachine(config, { State: 'running' })));
  assert.equal(e.template, 'ipxe/local-disk.ipxe');
  assert.equal(e.file, path.join(dir, 'ipxe/local-disk.ipxe'));
  assert.equal(e.line, 3);
  assert.equal(e.column, 6);
  assert.match(e.reason, /undefined/);
  assert.match(e.message, /local-disk\.ipxe line 3, column 6: a variable or attribute is undefined/);
  // It is a service error of kind internal: the HTTP layer answers 500 with this message.
  assert.ok(e instanceof CocoonError);
  assert.equal(e.kind, 'internal');
});

test('a filter that refuses a value reports its reason at the line where the value is printed', () => {
  const dir = operatorTemplates({ 'ipxe/local-disk.ipxe': '#!ipxe\n# ok\necho {{ env.motd | ipxearg }}\nexit\n' });
  const r = createRenderer({ config, overrideDir: dir });
  const e = renderError(() => r.ipxeMachine(testMachine(config, { State: 'running', Overrides: { motd: 'two words' } })));
  assert.equal(e.line, 3);
  assert.match(e.reason, /^ipxearg: "two words" contains whitespace/);
  // Swallowed by default() or tested in an {% if %}: still an error, never a silent blank.
  const dir2 = operatorTemplates({ 'ipxe/local-disk.ipxe': '#!ipxe\n{% if env.motd | ipxearg %}x{% endif %}\nexit\n' });
  const e2 = renderError(() => createRenderer({ config, overrideDir: dir2 }).ipxeMachine(testMachine(config, { State: 'running', Overrides: { motd: 'a b' } })));
  assert.match(e2.reason, /^ipxearg/);
  assert.equal(e2.file, path.join(dir2, 'ipxe/local-disk.ipxe'));
});

test('an error after an include is reported in the including file, one inside it in the included file', () => {
  const dir = operatorTemplates({
    'snippets/part.njk': 'part line 1\npart {{ machine.Nope1 }}\n',
    'ipxe/local-disk.ipxe': '#!ipxe\n{% include "snippets/part.njk" %}\necho {{ machine.Nope2 }}\n',
  });
  const r = createRenderer({ config, overrideDir: dir });
  const inner = renderError(() => r.ipxeMachine(testMachine(config, { State: 'running' })));
  assert.equal(inner.file, path.join(dir, 'snippets/part.njk'));
  assert.equal(inner.line, 2);
  writeFileSync(path.join(dir, 'snippets/part.njk'), 'fine\nfine too\n');
  const outer = renderError(() => createRenderer({ config, overrideDir: dir }).ipxeMachine(testMachine(config, { State: 'running' })));
  assert.equal(outer.file, path.join(dir, 'ipxe/local-disk.ipxe'));
  assert.equal(outer.line, 3);
});

test('a value with a newline cannot add a command to an iPXE script: the render fails instead', () => {
  const r = createRenderer({ config });
  for (const State of ['configured', 'running'] as const) {
    for (const evil of ['vm\nchain http://evil/x', 'vm ${net0/ip}', 'vm\r\nshell']) {
      assert.throws(() => r.ipxeMachine(testMachine(config, { Serial: evil, State })), RenderError, `${State} ${JSON.stringify(evil)}`);
    }
  }
  assert.throws(() => r.ipxeMachine({ serial: 'x\nshell' }), RenderError);
  // Machine-reported facts reach config files only as well-formed values.
  const m = testMachine(config, { Hardware: { nics: [{ name: 'ens4', mac: '52:54:00:12:34:02\n[Service]' }] } });
  assert.equal(r.context(m).node.mac, '');
  assert.equal(r.context(testMachine(config)).node.mac, '52:54:00:12:34:02');
});

test('template syntax errors and missing templates are RenderErrors', () => {
  const dir = operatorTemplates({ 'ipxe/local-disk.ipxe': '#!ipxe\n{% if %}\nexit\n' });
  const e = renderError(() => createRenderer({ config, overrideDir: dir }).ipxeMachine(testMachine(config, { State: 'running' })));
  assert.equal(e.line, 2);
  assert.match(e.reason, /unexpected token/);
  const missing = renderTestConfig({ profiles: [{ name: 'default', template: 'nosuch' }] });
  const m = renderError(() => createRenderer({ config: missing }).finalConfig(testMachine(missing, { Profile: 'default' })));
  assert.match(m.reason, /template not found: ignition\/nosuch\.yaml/);
});

test('operator templates override the built-in ones of the same name; the rest stay built in', () => {
  const dir = operatorTemplates({ 'ipxe/local-disk.ipxe': '#!ipxe\necho operator {{ machine.Serial }}\nsanboot --drive 0x81\n' });
  const r = createRenderer({ config, overrideDir: dir });
  assert.equal(r.ipxeMachine(testMachine(config, { State: 'running' })), '#!ipxe\necho operator vm-0001\nsanboot --drive 0x81\n');
  assert.match(r.ipxeMachine(testMachine(config, { State: 'configured' })), /^kernel /m);
  assert.deepEqual(r.searchPaths, [dir, BUILTIN_TEMPLATES_DIR]);
  // config.paths.templates_dir is the default override dir.
  const viaConfig = createRenderer({ config: { ...config, paths: { ...config.paths, templates_dir: dir } } });
  assert.match(viaConfig.ipxeMachine(testMachine(config, { State: 'running' })), /echo operator/);
});

test('an invalid Ignition result names the template, the rendered line and the reason, and serves nothing', () => {
  const dir = operatorTemplates({
    'ignition/default.yaml': [
      '{% set note = "a block tag line: template and output lines differ" %}',
      'ignition:',
      '  version: 3.4.0',
      'storage:',
      '  files:',
      '    - path: /etc/motd',
      '      mode: "0644"',
      '      contents:',
      '        source: {{ "hi" | dataurl | json }}',
      '',
    ].join('\n'),
  });
  const r = createRenderer({ config, overrideDir: dir });
  const e = renderError(() => r.finalConfig(testMachine(config)));
  assert.equal(e.file, path.join(dir, 'ignition/default.yaml'));
  assert.equal(e.lineOf, 'output');
  assert.equal(e.line, 6);
  assert.match(e.reason, /storage\.files\[0\]\.mode: must be integer,null \(got "0644"\)|storage\.files\[0\]\.mode: must be integer/);
  assert.match(e.reason, /\[line 6: "mode: \\"0644\\"", template line 7\]/);
  assert.match(e.message, /default\.yaml \(rendered output, line 6\)/);
});

test('Ignition checks: unknown keys, versions, duplicates, relative paths, YAML syntax, non-mappings', () => {
  const cases: [string, RegExp, number | undefined][] = [
    ['ignition:\n  version: 3.4.0\npasswd:\n  users:\n    - name: core\n      sshAuthorizedkeys: ["k"]\n', /passwd\.users\[0\]\.sshAuthorizedkeys: unknown key; allowed here: .*sshAuthorizedKeys/, 6],
    ['ignition:\n  version: 3.1.0\n', /ignition\.version: must be one of "3\.4\.0", "3\.5\.0" \(got "3\.1\.0"\)/, 2],
    ['ignition:\n  version: 3.4.0\nsystemd:\n  units:\n    - name: a.service\n    - name: a.service\n', /systemd\.units\[1\]\.name: unit "a\.service" is already configured by systemd\.units\[0\]/, 6],
    ['ignition:\n  version: 3.4.0\nstorage:\n  files:\n    - path: etc/x\n', /storage\.files\[0\]\.path: must be an absolute path/, 5],
    ['ignition:\n  version: 3.4.0\nstorage:\n  files:\n    - path: /a\n  directories:\n    - path: /a\n', /storage\.directories\[0\]\.path: "\/a" is already configured by storage\.files\[0\]/, 7],
    ['ignition:\n  version: 3.4.0\nstorage:\n  files:\n    - path: /a\n      contents:\n        source: /etc/motd\n', /storage\.files\[0\]\.contents\.source: must be a URL/, 7],
    ['ignition:\n  version: 3.4.0\nstorage:\n  files:\n    - path: /a\n      append:\n        - source: ftp://x/y\n', /storage\.files\[0\]\.append\[0\]\.source: Ignition cannot fetch ftp: URLs/, 7],
    ['ignition:\n  version: 3.4.0\nstorage: [oops\n', /YAML syntax/, undefined],
    ['- just\n- a list\n', /must be a YAML mapping/, undefined],
  ];
  for (const [yamlText, reason, line] of cases) {
    const dir = operatorTemplates({ 'ignition/default.yaml': yamlText });
    const e = renderError(() => createRenderer({ config, overrideDir: dir }).finalConfig(testMachine(config)));
    assert.match(e.reason, reason, yamlText);
    if (line !== undefined) assert.equal(e.line, line, yamlText);
  }
  // Ignition 3.5.0 is validated against its own schema (cex exists only there).
  const v35 = operatorTemplates({ 'ignition/default.yaml': 'ignition:\n  version: 3.5.0\nstorage:\n  luks:\n    - name: data\n      device: /dev/sdb\n      cex:\n        enabled: true\n' });
  assert.match(createRenderer({ config, overrideDir: v35 }).finalConfig(testMachine(config)).body, /"cex":\{"enabled":true\}/);
  const v34 = operatorTemplates({ 'ignition/default.yaml': 'ignition:\n  version: 3.4.0\nstorage:\n  luks:\n    - name: data\n      device: /dev/sdb\n      cex:\n        enabled: true\n' });
  assert.match(renderError(() => createRenderer({ config, overrideDir: v34 }).finalConfig(testMachine(config))).reason, /cex: unknown key/);
});

test("one machine's overrides never show in another machine's render, nor in the config", () => {
  const r = createRenderer({ config });
  const before = structuredClone(config.templates_env);
  const a = testMachine(config, { Serial: 'a-1', Hostname: 'a', Overrides: { ssh_authorized_keys: ['ssh-ed25519 SECRET-OF-A'], nested: { b: { c: 'A' } } } });
  const b = testMachine(config, { Serial: 'b-1', Hostname: 'b' });
  const fromA = r.finalConfig(a).body;
  assert.match(fromA, /SECRET-OF-A/);
  const fromB = r.finalConfig(b).body;
  assert.doesNotMatch(fromB, /SECRET-OF-A/);
  assert.match(fromB, /OperatorKey/);
  assert.deepEqual(r.context(b).env['nested'], { a: 1, b: { c: 2 } });
  assert.deepEqual(r.context(a).env['nested'], { a: 1, b: { c: 'A' } });
  assert.deepEqual(config.templates_env, before);
  // Every render gets its own copy, also of the same machine.
  const c1 = r.context(a);
  const c2 = r.context(a);
  assert.notEqual(c1.env['nested'], c2.env['nested']);
  assert.notEqual(c1.machine, c2.machine);
  // Profile values sit between the config's and the machine's.
  assert.equal(r.context(testMachine(config, { Profile: 'default' })).env['role'], 'worker');
  assert.equal(r.context(testMachine(config, { Profile: 'default', Overrides: { role: 'special' } })).env['role'], 'special');
});

test('flows: state and profile choose the per-machine script', () => {
  const m = (fields: Parameters<typeof testMachine>[1]): ReturnType<typeof testMachine> => testMachine(config, fields);
  const flow = (t: Parameters<typeof ipxeFlow>[1], profile = 'control-plane'): string => ipxeFlow(config, t, config.profiles.find((p) => p.name === profile) as never);
  assert.equal(flow({ serial: 'x' }), 'install');
  for (const State of ['unknown', 'configured', 'installing', 'failed'] as const) assert.equal(flow(m({ State })), 'install', State);
  for (const State of ['installed', 'running'] as const) assert.equal(flow(m({ State })), 'local-disk', State);
  assert.equal(flow(m({ State: 'running', RescuePending: true })), 'rescue');
  assert.equal(flow(m({ State: 'running', Profile: 'ram' }), 'ram'), 'live');
  assert.equal(flow(m({ State: 'installing', Profile: 'ram' }), 'ram'), 'live');
  // No rescue image configured: a pending rescue cannot be served, the machine boots as usual.
  const noRescue = { ...config, rescue: undefined };
  assert.equal(ipxeFlow(noRescue, m({ State: 'running', RescuePending: true }), { boot: 'install' }), 'local-disk');
});

test('a machine whose profile is gone from the config is a RenderError naming the profiles there are', () => {
  const e = renderError(() => createRenderer({ config }).ipxeMachine({ ...testMachine(config), Profile: 'gone' }));
  assert.match(e.reason, /profile "gone", which the config does not define \(profiles: control-plane, flatcar-live, ram, ubuntu, default\)/);
});

test('cloud-config: must start with #cloud-config and parse as a YAML mapping', () => {
  const r = createRenderer({ config });
  const ok = r.finalConfig(testMachine(config, { Profile: 'ubuntu' }));
  assert.equal(ok.contentType, 'text/cloud-config; charset=utf-8');
  const noHeader = operatorTemplates({ 'cloud-config/default.yaml': 'hostname: {{ machine.Hostname }}\n' });
  assert.match(renderError(() => createRenderer({ config, overrideDir: noHeader }).finalConfig(testMachine(config, { Profile: 'ubuntu' }))).reason, /must start with a "#cloud-config" line/);
  const broken = operatorTemplates({ 'cloud-config/default.yaml': '#cloud-config\nruncmd:\n  - [a, b\n' });
  const e = renderError(() => createRenderer({ config, overrideDir: broken }).finalConfig(testMachine(config, { Profile: 'ubuntu' })));
  assert.match(e.reason, /YAML syntax/);
  assert.equal(e.lineOf, 'output');
});

test('first stage: the install files of the OS version come from its manifest', async () => {
  const imagesDir = tempDir('cocoon-render-images-');
  const src = tempDir('cocoon-render-src-');
  const files: Record<string, string> = {
    'flatcar_production_pxe.vmlinuz': 'kernel',
    'flatcar_production_pxe_image.cpio.gz': 'initrd',
    'flatcar_production_image.bin.bz2': 'the image',
  };
  for (const [n, c] of Object.entries(files)) writeFileSync(path.join(src, n), c);
  await addImage({
    imagesDir,
    os: 'flatcar',
    version: '3975.2.0',
    files: Object.keys(files).map((n) => path.join(src, n)),
    kernel: 'flatcar_production_pxe.vmlinuz',
    initrd: 'flatcar_production_pxe_image.cpio.gz',
    install: 'flatcar_production_image.bin.bz2',
    minDiskBytes: 8 * 1024 ** 3,
  });
  const cfg = { ...config, paths: { ...config.paths, images_dir: imagesDir } };
  const r = createRenderer({ config: cfg });
  const unknown = { serial: 'vm-0009' };
  const install = await r.installFiles(unknown);
  assert.deepEqual(install, {
    kernel: 'flatcar_production_pxe.vmlinuz',
    initrds: ['flatcar_production_pxe_image.cpio.gz'],
    image: { name: 'flatcar_production_image.bin.bz2', sha256: createHash('sha256').update('the image').digest('hex'), size: 9 },
    minDiskBytes: 8 * 1024 ** 3,
  });
  const script = r.ipxeMachine(unknown, { install });
  assert.match(script, /^kernel http:\/\/10\.77\.0\.1:4081\/images\/vm-0009\/flatcar_production_pxe\.vmlinuz initrd=flatcar_production_pxe_image\.cpio\.gz .*cocoon\.script=http:\/\/10\.77\.0\.1:4081\/first-stage\/vm-0009 /m);
  const sh = r.firstStageScript(unknown, { install });
  assert.match(sh, /^COCOON_IMAGE='flatcar_production_image\.bin\.bz2'$/m);
  assert.match(sh, new RegExp(`^COCOON_IMAGE_SHA256='${install.image?.sha256}'$`, 'm'));
  assert.match(sh, /^COCOON_MIN_DISK_BYTES='8589934592'$/m);
  // An OS version without a manifest: mayu's route names, no checksum.
  assert.deepEqual(await r.installFiles(testMachine(cfg, { Profile: 'ubuntu' })), {});
});

test('the rendered first-stage script and the boot-complete helper are valid POSIX sh', (t) => {
  const r = createRenderer({ config });
  const dir = tempDir('cocoon-sh-');
  const scripts = {
    'first-stage.sh': r.firstStageScript(testMachine(config)),
    'first-stage-unknown.sh': r.firstStageScript({ serial: 'vm-0002' }),
    'report-boot-complete.sh': readFileSync(path.join(BUILTIN_TEMPLATES_DIR, 'files/report-boot-complete.sh'), 'utf8'),
  };
  for (const [name, text] of Object.entries(scripts)) writeFileSync(path.join(dir, name), text);
  for (const shell of [['dash'], ['busybox', 'sh']]) {
    if (spawnSync(shell[0] as string, ['-c', 'true']).error) {
      t.diagnostic(`${shell.join(' ')} not installed`);
      continue;
    }
    for (const name of Object.keys(scripts)) {
      const res = spawnSync(shell[0] as string, [...shell.slice(1), '-n', path.join(dir, name)], { encoding: 'utf8' });
      assert.equal(res.status, 0, `${shell.join(' ')} -n ${name}: ${res.stderr}`);
    }
  }
});

test('the installed-OS contract: report-boot-complete POSTs the os-release versions to the boot-complete URL', async (t) => {
  if (spawnSync('curl', ['--version']).error && spawnSync('wget', ['--version']).error) return t.skip('neither curl nor wget');
  const got: { url: string; type: string; body: unknown }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d));
    req.on('end', () => {
      got.push({ url: req.url ?? '', type: req.headers['content-type'] ?? '', body: JSON.parse(body) as unknown });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const cfg = renderTestConfig({ http: { boot: { public_url: `http://127.0.0.1:${port}` } } });
  // The URL the default Ignition's unit passes, taken from the rendered config itself.
  const ign = JSON.parse(createRenderer({ config: cfg }).finalConfig(testMachine(cfg)).body) as { systemd: { units: { contents: string }[] } };
  const exec = /^ExecStart=(\S+) "([^"]+)"$/m.exec(ign.systemd.units[0]?.contents ?? '');
  assert.ok(exec, 'ExecStart with the URL');
  const url = (exec[2] as string).replace(/%%/g, '%');
  const script = path.join(BUILTIN_TEMPLATES_DIR, 'files/report-boot-complete.sh');
  const code = await new Promise<number | null>((ok) => spawn('sh', [script, url], { stdio: 'ignore' }).on('exit', ok));
  assert.equal(code, 0);
  assert.equal(got.length, 1);
  assert.equal(got[0]?.url, '/machines/vm-0001/boot-complete');
  assert.equal(got[0]?.type, 'application/json');
  const osRelease = Object.fromEntries(
    readFileSync('/etc/os-release', 'utf8')
      .split('\n')
      .map((l) => /^([A-Z_]+)=(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], (m[2] ?? '').replace(/^"(.*)"$/, '$1')]),
  ) as Record<string, string>;
  const versions = (got[0]?.body as { versions: Record<string, string> }).versions;
  assert.equal(versions['os-id'], osRelease['ID']);
  if (osRelease['VERSION_ID']) assert.equal(versions['os'], osRelease['VERSION_ID']);
  assert.equal(versions['kernel'], spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout.trim());
});

test('self-test renders every template for every profile and stops on a broken one', () => {
  const { report } = selfTest(config);
  assert.equal(report.profiles, config.profiles.length);
  assert.ok(report.renders >= config.profiles.length * 4, String(report.renders));
  const dir = operatorTemplates({ 'cloud-config/default.yaml': '#cloud-config\nhostname: {{ machine.Hostname }}\nbad: {{ env.not_there }}\n' });
  const e = renderError(() => selfTest(config, { overrideDir: dir }));
  assert.equal(e.profile, 'ubuntu');
  assert.equal(e.file, path.join(dir, 'cloud-config/default.yaml'));
  assert.equal(e.line, 3);
  assert.match(e.message, /\[profile ubuntu\]/);
  // The sample machine is what the self-test renders with.
  assert.match(createRenderer({ config }).ipxeChain(), /^#!ipxe\n/);
  assert.equal(SELF_TEST_SERIAL, 'cocoon-self-test');
});
