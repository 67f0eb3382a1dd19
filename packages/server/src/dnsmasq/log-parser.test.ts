import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { EventInput } from '../events/types.js';
import { LineSplitter } from './line-splitter.js';
import { DnsmasqLogParser } from './log-parser.js';

// Real dnsmasq 2.90 output captured in network namespaces (see dnsmasq.root.test.ts, which
// rewrites integration-session.log when COCOON_CAPTURE_FIXTURES=1).
const FIXTURES = fileURLToPath(new URL('../../src/dnsmasq/fixtures/', import.meta.url));

function parseAll(text: string): EventInput[] {
  const out: EventInput[] = [];
  const p = new DnsmasqLogParser((e) => out.push(e));
  for (const line of text.split('\n')) if (line) p.line(line);
  p.flush();
  return out;
}

const fixture = (name: string): string => readFileSync(path.join(FIXTURES, name), 'utf8');

test('a plain client: DISCOVER → OFFER → REQUEST → ACK with interface, MAC, IP, tags and vendor class', () => {
  const events = parseAll(fixture('proto-session.log'));
  const dhcp = events.filter((e) => e.type.startsWith('dhcp-'));
  const [d, o, r, a] = dhcp;
  assert.deepEqual(
    dhcp.slice(0, 4).map((e) => e.type),
    ['dhcp-discover', 'dhcp-offer', 'dhcp-request', 'dhcp-ack'],
  );
  assert.equal(d?.mac, '52:54:00:aa:00:01');
  assert.equal(d?.ip, undefined);
  assert.equal(d?.data?.interface, 'br0');
  assert.equal(d?.data?.vendorClass, 'udhcp 1.35.0');
  assert.deepEqual(d?.data?.tags, ['br0']);
  assert.equal(o?.ip, '10.77.0.100');
  assert.equal(r?.ip, '10.77.0.100');
  assert.equal(a?.ip, '10.77.0.100');
  assert.equal(a?.data?.bootFile, undefined, 'an ordinary DHCP client gets no boot file');
  assert.equal(d?.data?.xid, a?.data?.xid);
});

test('PXE clients: client arch from the vendor class, tags and boot file per firmware', () => {
  const events = parseAll(fixture('proto-session.log'));
  const acks = events.filter((e) => e.type === 'dhcp-ack');
  const bios = acks.find((e) => e.data?.clientArch === 0);
  const efi = acks.find((e) => e.data?.clientArch === 7);
  assert.equal(bios?.data?.bootFile, 'undionly.kpxe');
  assert.equal(bios?.data?.clientArchName, 'x86-bios');
  assert.deepEqual(bios?.data?.tags, ['pxe', 'bios', 'br0']);
  assert.equal(efi?.data?.bootFile, 'ipxe.efi');
  assert.deepEqual(efi?.data?.tags, ['pxe', 'efi64', 'br0']);
  assert.match(efi?.message ?? '', /boot file ipxe\.efi/);
  const ipxe = acks.find((e) => (e.data?.tags as string[]).includes('ipxe'));
  assert.equal(ipxe?.data?.bootFile, 'http://10.77.0.1:4081/ipxe');
});

test('ignored, TFTP sent / not found / refused, hosts dir changes, exit', () => {
  const events = parseAll(fixture('proto-session.log'));
  const ignored = events.filter((e) => e.type === 'dhcp-ignored');
  assert.ok(ignored.length >= 1);
  assert.equal(ignored[0]?.mac, '52:54:00:aa:00:01');
  assert.equal(ignored[0]?.data?.message, 'DHCPDISCOVER');
  const sent = events.find((e) => e.type === 'tftp-sent');
  assert.equal(sent?.data?.name, 'undionly.kpxe');
  assert.equal(sent?.ip, '10.77.0.9');
  const failed = events.filter((e) => e.type === 'tftp-failed');
  assert.deepEqual(
    failed.map((e) => e.data?.reason),
    ['not found', 'Permission denied'],
  );
  const info = events.filter((e) => e.type === 'dnsmasq-info').map((e) => e.data?.kind);
  for (const k of ['started', 'dhcp-range', 'tftp-root', 'hosts-changed', 'file-read', 'file-vanished', 'exiting']) assert.ok(info.includes(k), `no ${k} in ${info.join(',')}`);
  assert.equal(events.filter((e) => e.type === 'dnsmasq-error').length, 0);
  assert.equal(events.filter((e) => e.type === 'raw').length, 0, 'every line of a normal session is understood');
});

test('the integration session (restarts, SIGHUP, router adverts) has no unparsed line', () => {
  const events = parseAll(fixture('integration-session.log'));
  assert.deepEqual(events.filter((e) => e.type === 'raw').map((e) => e.message), []);
  const kinds = new Set(events.map((e) => e.type));
  for (const t of ['dhcp-discover', 'dhcp-offer', 'dhcp-request', 'dhcp-ack', 'dhcp-ignored', 'tftp-sent', 'dnsmasq-info']) assert.ok(kinds.has(t), `no ${t}`);
  const acks = events.filter((e) => e.type === 'dhcp-ack');
  assert.ok(acks.some((e) => e.data?.bootFile === 'undionly.kpxe' && e.data?.clientArch === 0));
  assert.ok(acks.some((e) => e.data?.bootFile === 'ipxe.efi' && e.data?.clientArch === 7));
});

test('every captured fixture line is accounted for: DHCP lines become events, nothing is lost', () => {
  for (const name of readdirSync(FIXTURES).filter((f) => f.endsWith('.log'))) {
    const text = fixture(name);
    // Packets dnsmasq did not answer are summarised (one event for their context lines).
    const events = parseAll(text).filter((e) => e.data?.kind !== 'unanswered');
    const messageLines = text.split('\n').filter((l) => /\b(DHCP[A-Z]+|PXE)\(/.test(l)).length;
    const dhcpEvents = events.filter((e) => e.type.startsWith('dhcp-') || e.type === 'pxe').length;
    assert.equal(dhcpEvents, messageLines, `${name}: one event per DHCP message line`);
    const nonContext = text.split('\n').filter((l) => l && !/^dnsmasq-dhcp\[\d+\]: \d+ /.test(l)).length;
    assert.equal(events.length - dhcpEvents, nonContext, `${name}: one event per other line`);
  }
});

test('errors, start-up failures and unknown lines', () => {
  const events = parseAll(
    [
      'dnsmasq: unknown interface nosuch0',
      'dnsmasq: failed to create listening socket for port 67: Address already in use',
      'dnsmasq: bad option at line 2 of /tmp/x.conf',
      'dnsmasq-dhcp[42]: no address range available for DHCP request via br0',
      'dnsmasq-tftp[42]: error 8 User aborted the transfer received from 10.77.0.101',
      'dnsmasq-tftp[42]: failed sending /srv/tftp/ipxe.efi to 10.77.0.101',
      'dnsmasq[42]: something new in a later version',
      'not dnsmasq at all',
      'Nov 21 06:01:02 dnsmasq-dhcp[42]: DHCPNAK(br0) 10.77.0.200 52:54:00:aa:00:02 wrong address',
    ].join('\n'),
  );
  assert.deepEqual(
    events.map((e) => e.type),
    ['dnsmasq-error', 'dnsmasq-error', 'dnsmasq-error', 'dnsmasq-error', 'tftp-aborted', 'tftp-failed', 'raw', 'raw', 'dhcp-nak'],
  );
  assert.equal(events[4]?.data?.code, 8);
  assert.equal(events[6]?.data?.line, 'dnsmasq[42]: something new in a later version');
  assert.equal(events[8]?.mac, '52:54:00:aa:00:02');
  assert.equal(events[8]?.data?.detail, 'wrong address');
});

test('TFTP events get the MAC of the client address dnsmasq last leased', () => {
  const events = parseAll(
    [
      'dnsmasq-dhcp[7]: 99 DHCPACK(br0) 10.77.0.101 52:54:00:aa:00:07 ',
      'dnsmasq-dhcp[7]: 99 bootfile name: ipxe.efi',
      'dnsmasq-tftp[7]: sent /srv/tftp/ipxe.efi to 10.77.0.101',
    ].join('\n'),
  );
  assert.equal(events[1]?.type, 'tftp-sent');
  assert.equal(events[1]?.mac, '52:54:00:aa:00:07');
});

test('an idle transaction is flushed by the timer', async () => {
  const out: EventInput[] = [];
  const p = new DnsmasqLogParser((e) => out.push(e), { idleFlushMs: 10 });
  p.line('dnsmasq-dhcp[7]: 5 DHCPDISCOVER(br0) 52:54:00:aa:00:07 ');
  assert.equal(out.length, 0);
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(out[0]?.type, 'dhcp-discover');
});

test('line splitter: chunks, CRLF, split UTF-8, bounded long lines', () => {
  const got: [string, boolean][] = [];
  const s = new LineSplitter((l, t) => got.push([l, t]), 8);
  s.push('ab');
  s.push(Buffer.from('c\r\nd'));
  const euro = Buffer.from('€\n');
  s.push(euro.subarray(0, 1));
  s.push(euro.subarray(1));
  s.push('0123456789abcdefXY\nlast');
  s.end();
  assert.deepEqual(got, [
    ['abc', false],
    ['d€', false],
    ['01234567', true],
    ['89abcdef', true],
    ['XY', true],
    ['last', false],
  ]);
});

test('proxy-DHCP session: PXE replies per architecture, iPXE gets the URL, other clients are not answered', () => {
  const events = parseAll(fixture('proxy-session.log'));
  assert.deepEqual(events.filter((e) => e.type === 'raw').map((e) => e.message), []);
  const pxe = events.filter((e) => e.type === 'pxe');
  assert.ok(pxe.some((e) => e.data?.clientArch === 0 && (e.data?.tags as string[]).includes('bios') && e.data?.detail === 'proxy'));
  assert.ok(pxe.some((e) => e.data?.clientArch === 7 && (e.data?.tags as string[]).includes('efi64')));
  assert.ok(pxe.some((e) => typeof e.data?.bootFile === 'string' && (e.data.bootFile as string).endsWith('/ipxe')));
  assert.ok(!pxe.some((e) => e.data?.vendorClass === 'udhcp 1.35.0'));
  const unanswered = events.filter((e) => e.data?.kind === 'unanswered');
  assert.ok(unanswered.some((e) => e.data?.vendorClass === 'udhcp 1.35.0'));
});
