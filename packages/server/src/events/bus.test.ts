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

test('ring buffer grows on demand up to its capacity and wraps after growing', () => {
  const r = new RingBuffer<number>(10);
  assert.ok(r.allocated < 10, `starts small, got ${r.allocated} slots`);
  for (let i = 1; i <= 5; i++) r.push(i);
  assert.deepEqual(r.toArray(), [1, 2, 3, 4, 5]);
  assert.ok(r.allocated >= 5 && r.allocated <= 10);
  for (let i = 6; i <= 23; i++) r.push(i);
  assert.equal(r.allocated, 10);
  assert.equal(r.length, 10);
  assert.deepEqual(r.toArray(), [14, 15, 16, 17, 18, 19, 20, 21, 22, 23]);
  assert.deepEqual(r.toArray(3), [21, 22, 23]);
  assert.deepEqual(r.toArray(0), []);
  const one = new RingBuffer<string>(1);
  one.push('a');
  one.push('b');
  assert.deepEqual(one.toArray(), ['b']);
  assert.equal(one.allocated, 1);
});

test('ring buffer of a capacity that is not a power of two keeps FIFO order at every fill level', () => {
  for (const capacity of [3, 5, 6, 7, 9]) {
    const r = new RingBuffer<number>(capacity);
    for (let i = 1; i <= 3 * capacity; i++) {
      r.push(i);
      const expected = Array.from({ length: Math.min(i, capacity) }, (_, k) => i - Math.min(i, capacity) + 1 + k);
      assert.deepEqual(r.toArray(), expected, `capacity ${capacity} after ${i} pushes`);
    }
    assert.equal(r.allocated, capacity);
  }
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

test('an event is kept once: in its serial\'s timeline, or its MAC\'s while the MAC has no serial', () => {
  const MAC2 = '52:54:00:aa:00:02';
  const serials = new Map<string, string>();
  const bus = new EventBus({
    maxTimelines: 3,
    resolver: {
      serialForMac: (m) => serials.get(m),
      macsForSerial: (s) => [...serials].filter(([, v]) => v === s).map(([m]) => m.toUpperCase()),
    },
  });
  bus.publish({ source: 'dnsmasq', type: 'dhcp-discover', mac: MAC, message: 'discover' });
  bus.publish({ source: 'dnsmasq', type: 'dhcp-discover', mac: MAC2, message: 'other nic' });
  serials.set(MAC, 'srv-1');
  serials.set(MAC2, 'srv-1');
  bus.publish({ source: 'server', type: 'enrolled', serial: 'srv-1', mac: MAC, message: 'enrolled' });
  bus.publish({ source: 'agent', type: 'progress', serial: 'srv-1', message: 'writing disk' });
  bus.publish({ source: 'dnsmasq', type: 'dhcp-ack', mac: MAC, message: 'ack' });
  bus.publish({ source: 'dnsmasq', type: 'dhcp-ack', mac: MAC2, message: 'ack nic 2' });
  // The MAC timelines hold the pre-serial events only, so the serial's timeline has no duplicates.
  assert.deepEqual(bus.timeline('srv-1').map((e) => e.message), ['discover', 'other nic', 'enrolled', 'writing disk', 'ack', 'ack nic 2']);
  // A MAC after its machine got a serial: its own events from both sides of the enrollment.
  assert.deepEqual(bus.timeline(MAC.toUpperCase()).map((e) => e.message), ['discover', 'enrolled', 'ack']);
  assert.deepEqual(bus.timeline(MAC2).map((e) => e.message), ['other nic', 'ack nic 2']);
  assert.deepEqual(bus.timeline(MAC, 2).map((e) => e.message), ['enrolled', 'ack']);
  // Three timelines so far (two MACs, one serial), at the cap: a fourth pushes out the least recently active.
  bus.publish({ source: 'server', type: 'progress', serial: 'srv-2', message: 'another machine' });
  assert.deepEqual(bus.timeline(MAC).map((e) => e.message), ['enrolled', 'ack']);
  assert.deepEqual(bus.timeline('srv-1').map((e) => e.message), ['other nic', 'enrolled', 'writing disk', 'ack', 'ack nic 2']);
});

test('a MAC timeline still answers when the resolver throws', () => {
  const bus = new EventBus({
    resolver: {
      serialForMac: () => {
        throw new Error('store closed');
      },
      macsForSerial: () => {
        throw new Error('store closed');
      },
    },
  });
  bus.publish({ source: 'dnsmasq', type: 'dhcp-discover', mac: MAC, message: 'discover' });
  bus.publish({ source: 'server', type: 'progress', serial: 'srv-9', message: 'p' });
  assert.deepEqual(bus.timeline(MAC).map((e) => e.message), ['discover']);
  assert.deepEqual(bus.timeline('srv-9').map((e) => e.message), ['p']);
  assert.throws(() => new EventBus({ timelineSize: 0 }), /timelineSize must be a positive integer/);
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

test('the events of all timelines together are capped: the least recently active timelines go whole', () => {
  const bus = new EventBus({ timelineSize: 4, maxEvents: 6 });
  const say = (serial: string, n: number): void => {
    for (let i = 0; i < n; i++) bus.publish({ source: 'server', type: 'progress', serial, message: `${serial}${i}` });
  };
  const messages = (serial: string): string[] => bus.timeline(serial).map((e) => e.message);
  say('a', 2);
  say('b', 2);
  say('c', 2);
  assert.equal(bus.retainedEvents, 6);
  say('b', 1);
  // The seventh event: 'a', the least recently active, is forgotten whole (not trimmed).
  assert.deepEqual(messages('a'), []);
  assert.deepEqual(messages('b'), ['b0', 'b1', 'b0']);
  assert.deepEqual(messages('c'), ['c0', 'c1']);
  assert.equal(bus.retainedEvents, 5);
  say('c', 3);
  // c reaches its ring's 4 and pushes b out; its last event replaces its oldest, holding no more.
  assert.deepEqual(messages('b'), []);
  assert.deepEqual(messages('c'), ['c1', 'c0', 'c1', 'c2']);
  assert.equal(bus.retainedEvents, 4);
  // One timeline alone may hold more than the cap allows for all: it is the one being written.
  const one = new EventBus({ timelineSize: 8, maxEvents: 2 });
  for (let i = 0; i < 5; i++) one.publish({ source: 'server', type: 'progress', serial: 'x', message: String(i) });
  assert.deepEqual(one.timeline('x').map((e) => e.message), ['0', '1', '2', '3', '4']);
  assert.equal(one.retainedEvents, 5);
  assert.throws(() => new EventBus({ maxEvents: 0 }), /maxEvents must be a positive integer/);
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
  // Two events in the MAC's timeline; the error names no machine and lands in none.
  assert.match(await registry.getSingleMetricAsString('cocoon_timelines'), /^cocoon_timelines 1$/m);
  assert.match(await registry.getSingleMetricAsString('cocoon_timeline_events'), /^cocoon_timeline_events 2$/m);
  const parsed = lines.map((l) => JSON.parse(l) as { level: string; message: string; event: CocoonEvent });
  assert.equal(parsed.length, 3);
  assert.equal(parsed[0]?.event.ip, '10.0.0.5');
  assert.equal(parsed[2]?.level, 'warn');
});
