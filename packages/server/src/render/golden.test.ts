import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import Ajv04Module from 'ajv-draft-04';
import type { ValidateFunction } from 'ajv';
import { createRenderer, type Renderer } from './renderer.js';
import { IGNITION_SCHEMA_DIR } from './ignition.js';
import { renderTestConfig, testMachine } from './test-fixtures.js';
import type { MachineRecord } from '../store/types.js';

/**
 * Golden files of every built-in template's output. They live in the source tree (the compiled
 * test reads them from src/), so a change of a template shows as a diff of its golden file.
 * Regenerate after an intended change: UPDATE_GOLDEN=1 pnpm test (then review the diff).
 */
const GOLDEN_DIR = fileURLToPath(new URL('../../src/render/golden/', import.meta.url));
const UPDATE = process.env['UPDATE_GOLDEN'] === '1';

function golden(name: string, actual: string): void {
  const file = path.join(GOLDEN_DIR, name);
  if (UPDATE) {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  assert.ok(existsSync(file), `golden file ${file} is missing; run UPDATE_GOLDEN=1 pnpm test to create it`);
  assert.equal(actual, readFileSync(file, 'utf8'), `${name} differs from its golden file (UPDATE_GOLDEN=1 regenerates it after an intended change)`);
}

// The official schemas as published, not the closed copies the renderer uses: proof that what
// Cocoon serves is valid Ignition, independent of the renderer's own checks.
const Ajv04 = Ajv04Module.default;
const official = new Map<string, ValidateFunction>();
function assertOfficialIgnition(body: string): void {
  const doc = JSON.parse(body) as { ignition: { version: string } };
  const version = doc.ignition.version;
  let validate = official.get(version);
  if (!validate) {
    const file = version === '3.4.0' ? 'v3_4.schema.json' : version === '3.5.0' ? 'v3_5.schema.json' : undefined;
    assert.ok(file, `unexpected ignition.version ${version}`);
    validate = new Ajv04({ strict: false, allErrors: true }).compile(JSON.parse(readFileSync(IGNITION_SCHEMA_DIR + file, 'utf8')) as object);
    official.set(version, validate);
  }
  assert.ok(validate(doc), JSON.stringify(validate.errors));
}

const pretty = (json: string): string => `${JSON.stringify(JSON.parse(json), null, 2)}\n`;

const config = renderTestConfig();
const renderer: Renderer = createRenderer({ config });
const machine = (fields: Partial<MachineRecord> = {}): MachineRecord => testMachine(config, fields);

test('golden: generic chain script', () => {
  golden('ipxe-chain.ipxe', renderer.ipxeChain());
});

test('golden: install flow for a machine that is not enrolled yet (EFI)', () => {
  golden('ipxe-install-unknown.ipxe', renderer.ipxeMachine({ serial: 'vm-0002', uuid: '8c1e3a52-0f6e-4b5b-9d42-1f2e3d4c5b6a', mac: '52:54:00:12:34:99' }, { arch: 'x86_64', platform: 'efi' }));
});

test('golden: reinstall (configured) and failed machines boot the first stage again', () => {
  const configured = renderer.ipxeMachine(machine({ State: 'configured' }), { arch: 'x86_64', platform: 'pcbios' });
  golden('ipxe-install-configured.ipxe', configured);
  const failed = renderer.ipxeMachine(machine({ State: 'failed', StateReason: 'disk write failed' }));
  assert.equal(failed.replaceAll('is failed', 'is configured'), configured);
});

test('golden: first-stage environment from an image manifest (the e2e harness: Debian kernel + initramfs)', () => {
  const e2e = renderTestConfig({ default_os: { name: 'cocoon-test', version: '1' } });
  const r = createRenderer({ config: e2e });
  const m = testMachine(e2e, { Profile: 'default', State: 'unknown' });
  const install = { kernel: 'vmlinuz-debian', initrds: ['first-stage.cpio.gz', 'modules.cpio.gz'], args: 'quiet cocoon.debug=1' };
  const script = r.ipxeMachine(m, { platform: 'pcbios', install });
  golden('ipxe-install-manifest.ipxe', script);
  assert.match(script, /^kernel http:\/\/10\.77\.0\.1:4081\/images\/vm-0001\/vmlinuz-debian initrd=first-stage\.cpio\.gz initrd=modules\.cpio\.gz /m);
  assert.doesNotMatch(script, /flatcar/);
});

test('golden: live profile from the OS (Flatcar PXE + Ignition URL)', () => {
  golden('ipxe-live-os.ipxe', renderer.ipxeMachine(machine({ Profile: 'flatcar-live', State: 'running' })));
});

test('golden: live profile with its own kernel, initrd and assets (RAM boot)', () => {
  golden('ipxe-live-image.ipxe', renderer.ipxeMachine(machine({ Profile: 'ram', State: 'running' })));
});

test('golden: installed and running machines boot the local disk (exit by default)', () => {
  const running = renderer.ipxeMachine(machine({ State: 'running' }));
  golden('ipxe-local-disk.ipxe', running);
  assert.equal(renderer.ipxeMachine(machine({ State: 'installed' })).replaceAll('is installed', 'is running'), running);
});

test('golden: local disk by sanboot when the profile asks for it; UEFI still exits', () => {
  const m = machine({ State: 'running', Overrides: { local_boot: 'sanboot' } });
  golden('ipxe-local-disk-sanboot.ipxe', renderer.ipxeMachine(m, { platform: 'pcbios' }));
  const efi = renderer.ipxeMachine(m, { platform: 'efi' });
  assert.doesNotMatch(efi, /sanboot/);
  assert.match(efi, /^exit$/m);
});

test('golden: pending rescue boots the rescue image', () => {
  golden('ipxe-rescue.ipxe', renderer.ipxeMachine(machine({ State: 'running', RescuePending: true })));
});

test('golden: first-stage script with the install image of the manifest', () => {
  const install = { image: { name: 'flatcar_production_image.bin.bz2', sha256: 'ab'.repeat(32), size: 123456789 }, minDiskBytes: 8 * 1024 ** 3 };
  golden('first-stage.sh', renderer.firstStageScript(machine({ Profile: 'default' }), { install }));
});

test('golden: first-stage Ignition (Flatcar PXE environment) validates', () => {
  const cfg = renderer.firstStageIgnition({ serial: 'vm-0002' });
  assertOfficialIgnition(cfg.body);
  golden('first-stage-ignition.ign', pretty(cfg.body));
});

test('golden: default Ignition validates against the official schema', () => {
  const cfg = renderer.finalConfig(machine());
  assert.equal(cfg.format, 'ignition');
  assert.equal(cfg.template, 'ignition/default.yaml');
  assertOfficialIgnition(cfg.body);
  golden('ignition-default.ign', pretty(cfg.body));
});

test('golden: cloud-config profile', () => {
  const cfg = renderer.finalConfig(machine({ Profile: 'ubuntu' }));
  assert.equal(cfg.format, 'cloud-config');
  assert.match(cfg.body, /^#cloud-config\n/);
  golden('cloud-config-default.yaml', cfg.body);
});

test('every Ignition output of every profile validates', () => {
  for (const profile of config.profiles.filter((p) => p.config_format === 'ignition')) {
    for (const State of ['installing', 'running'] as const) {
      assertOfficialIgnition(renderer.finalConfig(machine({ Profile: profile.name, State })).body);
    }
  }
  assertOfficialIgnition(renderer.firstStageIgnition(machine()).body);
  // Without ssh keys or static network the optional sections disappear and it stays valid.
  assertOfficialIgnition(renderer.finalConfig(machine({ Hostname: '', InternalAddr: '', Overrides: { ssh_authorized_keys: [], static_network: false } })).body);
});
