import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import winston from 'winston';
import { Writable } from 'node:stream';
import { EventBus } from './bus.js';
import { RingBuffer } from './ring-buffer.js';
import type { CocoonEvent } from './types.js';

const MAC = '52:54:00:aa:00:01';

test('ring buffer keeps the newest items in order', () => {
  const r = new RingBuffer<number>(3);
  for (let i = 1; i <= 5; i++) r.push(i);
  assert.deepEqual(r.toArray(), [3, 4, 5]);
  assert.deepEqual(r.toArray(2), [4, 5]);
  assert.equal(r.length, 3);
  assert.throws(() => new RingBuffer(0), /positive integer/);
});

test('publish assigns ids, normalises the MAC and resolves the serial', () => {
  const bus = new EventBus({ resolver: { serialForMac: (m) => (m === MAC ? 'srv-1' : undefined), macsForSerial: () => [MAC] } });
  const e = bus.publish({ source: 'dnsmasq', type: 'dhcp-discover', mac: '52-54-00-AA-00-01', message: 'DHCPDISCOVER' });
  assert.equal(e.id, 1);
  assert.equal(e.mac, MAC);
  assert.equal(e.serial, 'srv-1');
  assert.ok(Object.isFrozen(e));
  const unknown = bus.publish({ source: 'dnsmasq', type: 'dhcp-discover', mac: '52:54:00:aa:00:02', message: 'x' });
  assert.equal(unknown.serial, undefined);
  assert.equal(unknown.id, 2);
});

test('subscribers see only matching events; a throwing subscriber does not stop the others', () => {
  const bus = new EventBus();
  const got: CocoonEvent[] = [];
  const all: CocoonEvent[] = [];
  const off = bus.subscribe({ mac: MAC.toUpperCase(), type: ['dhcp-ack', 'dhcp-offer'] }, (e) => got.push(e));
  bus.subscribe({}, () => {
    throw new Error('broken subscriber');
  });
  bus.subscribe({ source: 'server' }, (e) => all.push(e));
  bus.publish({ source: 'dnsmasq', type: 'dhcp-discover', mac: MAC, message: 'a' });
  bus.publish({ source: 'dnsmasq', type: 'dhcp-ack', mac: MAC, message: 'b' });
  bus.publish({ source: 'dnsmasq', type: 'dhcp-ack', mac: '52:54:00:aa:00:09', message: 'c' });
  bus.publish({ source: 'server', type: 'state-change', serial: 's', message: 'd' });
  assert.deepEqual(got.map((e) => e.message), ['b']);
  assert.deepEqual(all.map((e) => e.message), ['d']);
  off();
  bus.publish({ source: 'dnsmasq', type: 'dhcp-ack', mac: MAC, message: 'e' });
  assert.equal(got.length, 1);
  assert.equal(bus.subscriberCount, 2);
});

test('timelines are bounded per machine and merge MAC events from before enrollment', () => {
  let enrolled = false;
  const bus = new EventBus({
    timelineSize: 5,
    resolver: { serialForMac: (m) => (enrolled && m === MAC ? 'srv-1' : undefined), macsForSerial: (s) => (s === 'srv-1' ? [MAC] : []) },
  });
  bus.publish({ source: 'dnsmasq', type: 'dhcp-discover', mac: MAC, message: 'before-1' });
  bus.publish({ source: 'dnsmasq', type: 'dhcp-ack', mac: MAC, message: 'before-2' });
  enrolled = true;
  bus.publish({ source: 'server', type: 'enrolled', serial: 'srv-1', message: 'enrolled' });
  bus.publish({ source: 'dnsmasq', type: 'dhcp-ack', mac: MAC, message: 'after' });
  assert.deepEqual(bus.timeline('srv-1').map((e) => e.message), ['before-1', 'before-2', 'enrolled', 'after']);
  assert.deepEqual(bus.timeline(MAC).map((e) => e.message), ['before-1', 'before-2', 'after']);
  assert.deepEqual(bus.timeline('srv-1', 2).map((e) => e.message), ['enrolled', 'after']);
  for (let i = 0; i < 20; i++) bus.publish({ source: 'agent', type: 'progress', serial: 'srv-1', message: `p${i}` });
  const t = bus.timeline('srv-1');
  assert.ok(t.length <= 10, `timeline merged from two bounded rings, got ${t.length}`);
  assert.equal(t.at(-1)?.message, 'p19');
  assert.deepEqual(bus.timeline('nobody'), []);
});

test('the number of timelines is capped, least recently active first out', () => {
  const bus = new EventBus({ maxTimelines: 3 });
  for (const s of ['a', 'b', 'c']) bus.publish({ source: 'server', type: 'progress', serial: s, message: s });
  bus.publish({ source: 'server', type: 'progress', serial: 'a', message: 'a again' });
  bus.publish({ source: 'server', type: 'progress', serial: 'd', message: 'd' });
  assert.deepEqual(bus.timeline('b'), []);
  assert.equal(bus.timeline('a').length, 2);
  assert.equal(bus.timeline('d').length, 1);
});

test('recent() replays after an id with the filter', () => {
  const bus = new EventBus({ recentSize: 3 });
  for (let i = 1; i <= 5; i++) bus.publish({ source: 'server', type: i % 2 ? 'progress' : 'installed', serial: 's', message: `m${i}` });
  assert.deepEqual(bus.recent({}, 3).map((e) => e.message), ['m4', 'm5']);
  assert.deepEqual(bus.recent({ type: 'progress' }).map((e) => e.message), ['m3', 'm5']);
  assert.equal(bus.lastId, 5);
});

test('events are counted on the given registry and logged as JSON', async () => {
  const registry = new Registry();
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  const logger = winston.createLogger({ format: winston.format.json(), transports: [new winston.transports.Stream({ stream: sink })] });
  const bus = new EventBus({ registry, logger });
  bus.publish({ source: 'dnsmasq', type: 'dhcp-ack', mac: MAC, ip: '10.0.0.5', message: 'DHCPACK' });
  bus.publish({ source: 'dnsmasq', type: 'dhcp-ack', mac: MAC, message: 'DHCPACK' });
  bus.publish({ source: 'dnsmasq', type: 'dnsmasq-error', message: 'unknown interface br9' });
  const metrics = await registry.getSingleMetricAsString('cocoon_events_total');
  assert.match(metrics, /cocoon_events_total\{source="dnsmasq",type="dhcp-ack"\} 2/);
  assert.match(metrics, /type="dnsmasq-error"\} 1/);
  const parsed = lines.map((l) => JSON.parse(l) as { level: string; message: string; event: CocoonEvent });
  assert.equal(parsed.length, 3);
  assert.equal(parsed[0]?.event.ip, '10.0.0.5');
  assert.equal(parsed[2]?.level, 'warn');
});
