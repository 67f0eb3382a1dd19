import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { labConfig } from '../testing/lab-config.js';
import { CocoonError } from '../util/errors.js';
import { dnsmasqPaths } from './paths.js';
import { renderDnsmasqConfig, type BootFiles } from './render-config.js';
import { testDnsmasqConfig } from './validate.js';

const BOOT: BootFiles = { bios: 'undionly.kpxe', uefi: 'ipxe.efi' };

const config = labConfig;

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l && !l.startsWith('#'));
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cocoon-render-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function dnsmasqAccepts(dir: string, text: string): Promise<void> {
  const file = path.join(dir, `test-${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(file, text);
  await testDnsmasqConfig('dnsmasq', file);
}

test('default config: interface, range, TFTP, exclusive PXE tags, DNS off, accepted by dnsmasq --test', () =>
  withDir(async (dir) => {
    const cfg = config(dir);
    const paths = dnsmasqPaths(cfg);
    const text = renderDnsmasqConfig(cfg, paths, cfg.paths.tftp_root, BOOT);
    const l = lines(text);
    for (const want of [
      'port=0',
      'interface=br0',
      'bind-interfaces',
      'except-interface=lo',
      'dhcp-range=10.77.0.100,10.77.0.150,255.255.255.0,10m',
      'dhcp-option=3',
      'enable-tftp',
      `tftp-root=${path.join(dir, 'tftp')}`,
      `dhcp-hostsdir=${paths.hostsDir}`,
      `dhcp-leasefile=${path.join(dir, 'state', 'dnsmasq.leases')}`,
      'log-dhcp',
      'dhcp-match=set:ipxe,175',
      'dhcp-vendorclass=set:pxe,PXEClient',
      'dhcp-match=set:bios,option:client-arch,0',
      'dhcp-match=set:efi64,option:client-arch,7',
      'dhcp-match=set:efi64,option:client-arch,9',
      'dhcp-boot=tag:ipxe,http://10.77.0.1:4081/ipxe',
      'dhcp-boot=tag:!ipxe,tag:pxe,tag:bios,undionly.kpxe,,10.77.0.1',
      'dhcp-boot=tag:!ipxe,tag:pxe,tag:efi64,ipxe.efi,,10.77.0.1',
    ]) {
      assert.ok(l.includes(want), `missing line ${want} in:\n${text}`);
    }
    // Every boot line but the iPXE one needs both !ipxe and pxe: the tag sets never overlap.
    for (const b of l.filter((x) => x.startsWith('dhcp-boot=') && !x.startsWith('dhcp-boot=tag:ipxe,'))) assert.match(b, /^dhcp-boot=tag:!ipxe,tag:pxe,tag:(bios|efi64|arm64),/);
    assert.ok(l.includes('no-ping'), 'no ICMP probe by default: it serialises new clients');
    assert.ok(!l.some((x) => /enable-ra|proxy|pxe-service|set:.*hostsdir|arm64/.test(x)), text);
    assert.ok(!/\n\n\n/.test(text));
    await dnsmasqAccepts(dir, text);
  }));

test('router, DNS, NTP, DNS port, arm64, fast test network, extra lines', () =>
  withDir(async (dir) => {
    const cfg = config(
      dir,
      { router: '10.77.0.254', dns: ['10.77.0.1', '9.9.9.9'], ntp: ['10.77.0.5', 'pool.ntp.org'], dns_port: 5353, fast_test_network: true, lease_time: '2m' },
      { dnsmasq: { extra: ['dhcp-option=option:domain-name,lab.example', 'log-queries'] }, http: { boot: { public_url: 'http://boot.example:8080/' } } },
    );
    const text = renderDnsmasqConfig(cfg, dnsmasqPaths(cfg), cfg.paths.tftp_root, { ...BOOT, arm64: 'ipxe-arm64.efi' });
    const l = lines(text);
    for (const want of [
      'port=5353',
      'dhcp-range=10.77.0.100,10.77.0.150,255.255.255.0,2m',
      'dhcp-option=option:router,10.77.0.254',
      'dhcp-option=option:dns-server,10.77.0.1,9.9.9.9',
      'dhcp-option=option:ntp-server,10.77.0.5',
      'no-ping',
      'enable-ra',
      'dhcp-range=::,constructor:br0,ra-only',
      'dhcp-match=set:arm64,option:client-arch,11',
      'dhcp-boot=tag:!ipxe,tag:pxe,tag:arm64,ipxe-arm64.efi,,10.77.0.1',
      'dhcp-boot=tag:ipxe,http://boot.example:8080/ipxe',
      'dhcp-option=option:domain-name,lab.example',
      'log-queries',
    ]) {
      assert.ok(l.includes(want), `missing line ${want} in:\n${text}`);
    }
    assert.ok(!l.includes('dhcp-option=3'));
    assert.ok(!l.some((x) => x.includes('pool.ntp.org')), 'names cannot go into option 42');
    await dnsmasqAccepts(dir, text);
  }));

test('network.ping_check keeps dnsmasq’s ICMP probe, except on fast test networks', () =>
  withDir(async (dir) => {
    const on = config(dir, { ping_check: true });
    assert.doesNotMatch(renderDnsmasqConfig(on, dnsmasqPaths(on), on.paths.tftp_root, BOOT), /^no-ping$/m);
    const lab = config(dir, { ping_check: true, fast_test_network: true });
    assert.match(renderDnsmasqConfig(lab, dnsmasqPaths(lab), lab.paths.tftp_root, BOOT), /^no-ping$/m);
  }));

test('firmware kinds turned off get no boot line', () =>
  withDir(async (dir) => {
    const cfg = config(dir, { firmware: { bios: false, uefi: true } });
    const text = renderDnsmasqConfig(cfg, dnsmasqPaths(cfg), cfg.paths.tftp_root, { uefi: 'ipxe.efi' });
    assert.doesNotMatch(text, /undionly|set:bios/);
    assert.match(text, /tag:efi64,ipxe\.efi/);
    await dnsmasqAccepts(dir, text);
  }));

test('proxy-DHCP mode: proxy range + pxe-service, no address options, accepted by dnsmasq', () =>
  withDir(async (dir) => {
    const cfg = config(dir, { proxy_dhcp: true, router: '10.77.0.254' });
    const text = renderDnsmasqConfig(cfg, dnsmasqPaths(cfg), cfg.paths.tftp_root, BOOT);
    const l = lines(text);
    assert.ok(l.includes('dhcp-range=10.77.0.0,proxy,255.255.255.0'), text);
    assert.ok(l.some((x) => x.startsWith('pxe-service=tag:!ipxe,x86PC,') && x.includes('undionly.kpxe')));
    assert.ok(l.some((x) => x.startsWith('pxe-service=tag:!ipxe,X86-64_EFI,') && x.includes('ipxe.efi')));
    assert.ok(!l.some((x) => /router|dhcp-authoritative|10\.77\.0\.100/.test(x)), text);
    await dnsmasqAccepts(dir, text);
  }));

test('an invalid extra line is refused with dnsmasq’s own message', () =>
  withDir(async (dir) => {
    const cfg = config(dir, {}, { dnsmasq: { extra: ['no-such-option=1'] } });
    const text = renderDnsmasqConfig(cfg, dnsmasqPaths(cfg), cfg.paths.tftp_root, BOOT);
    await assert.rejects(dnsmasqAccepts(dir, text), (err: unknown) => {
      assert.ok(err instanceof CocoonError);
      assert.equal(err.kind, 'invalid');
      assert.equal(err.field, 'dnsmasq.template');
      assert.match(err.message, /dnsmasq refused the configuration: bad option at line \d+ of /);
      return true;
    });
  }));

test('an operator template is used; template errors name the file', () =>
  withDir(async (dir) => {
    const tpl = path.join(dir, 'my.conf.njk');
    writeFileSync(tpl, 'interface={{ interface }}\nport={{ dns_port }}\n# {{ config.network.bind_addr }}\n');
    const cfg = config(dir, {}, { dnsmasq: { template: tpl } });
    assert.equal(renderDnsmasqConfig(cfg, dnsmasqPaths(cfg), '/x', BOOT), 'interface=br0\nport=0\n# 10.77.0.1\n');
    writeFileSync(tpl, 'interface={{ no_such_variable }}\n');
    assert.throws(
      () => renderDnsmasqConfig(cfg, dnsmasqPaths(cfg), '/x', BOOT),
      (err: unknown) => err instanceof CocoonError && err.field === 'dnsmasq.template' && err.message.includes(tpl) && /undefined|null/.test(err.message),
    );
    writeFileSync(tpl, '{% if %}\n');
    assert.throws(() => renderDnsmasqConfig(cfg, dnsmasqPaths(cfg), '/x', BOOT), /dnsmasq template .*my\.conf\.njk/);
  }));

test('values that would break a dnsmasq line are refused', () =>
  withDir(async (dir) => {
    const cfg = config(dir);
    assert.throws(() => renderDnsmasqConfig(cfg, dnsmasqPaths(cfg), '/srv/tftp,evil', BOOT), (e: unknown) => e instanceof CocoonError && e.field === 'paths.tftp_root');
    const bad = { ...cfg, http: { ...cfg.http, boot: { ...cfg.http.boot, public_url: 'http://a,b' } } };
    assert.throws(() => renderDnsmasqConfig(bad, dnsmasqPaths(bad), '/srv', BOOT), /public_url/);
  }));
