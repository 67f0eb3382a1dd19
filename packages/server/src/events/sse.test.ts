import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventBus } from './bus.js';
import { parseEventFilter, streamEvents } from './sse.js';
import { CocoonError } from '../util/errors.js';
import { waitFor } from '../testing/wait.js';

const MAC = '52:54:00:aa:00:01';

async function withServer(bus: EventBus, fn: (base: string) => Promise<void>, heartbeatMs = 60_000): Promise<void> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    try {
      const filter = parseEventFilter(Object.fromEntries(url.searchParams));
      streamEvents(bus, filter, req, res, { heartbeatMs });
    } catch (err) {
      res.writeHead(400).end((err as Error).message);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    await fn(`http://127.0.0.1:${port}`);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Reads the stream until `until` matches the text received so far. */
async function readUntil(res: Response, until: (text: string) => boolean): Promise<string> {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let text = '';
  while (!until(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += dec.decode(value, { stream: true });
  }
  await reader.cancel();
  return text;
}

test('parseEventFilter validates and normalises', () => {
  assert.deepEqual(parseEventFilter({ mac: '52-54-00-AA-00-01', type: 'dhcp-ack,tftp-sent', serial: 'abc.1' }), {
    mac: MAC,
    type: ['dhcp-ack', 'tftp-sent'],
    serial: 'abc.1',
  });
  assert.deepEqual(parseEventFilter({}), {});
  assert.throws(() => parseEventFilter({ mac: 'nope' }), (e: unknown) => e instanceof CocoonError && e.field === 'mac');
  assert.throws(() => parseEventFilter({ serial: '../etc' }), (e: unknown) => e instanceof CocoonError && e.field === 'serial');
  assert.throws(() => parseEventFilter({ type: 'DHCP ACK' }), /type/);
  assert.throws(() => parseEventFilter({ source: 'x' }), /source/);
  assert.throws(() => parseEventFilter({ mac: [MAC, MAC] }), /once/);
});

test('SSE streams matching events, heartbeats, and unsubscribes on close', async () => {
  const bus = new EventBus();
  await withServer(
    bus,
    async (base) => {
      const res = await fetch(`${base}/?mac=${MAC}&type=dhcp-ack`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
      await waitFor('the stream to subscribe', () => bus.subscriberCount === 1, { timeoutMs: 5000, intervalMs: 10 });
      bus.publish({ source: 'dnsmasq', type: 'dhcp-discover', mac: MAC, message: 'skip me' });
      bus.publish({ source: 'dnsmasq', type: 'dhcp-ack', mac: '52:54:00:aa:00:02', message: 'other mac' });
      bus.publish({ source: 'dnsmasq', type: 'dhcp-ack', mac: MAC, ip: '10.77.0.100', message: 'the ack' });
      const text = await readUntil(res, (t) => t.includes('the ack') && t.includes(': heartbeat'));
      assert.doesNotMatch(text, /skip me|other mac/);
      const block = text.split('\n\n').find((b) => b.includes('the ack'))!;
      assert.match(block, /^id: 3$/m);
      assert.match(block, /^event: dhcp-ack$/m);
      const data = JSON.parse(block.split('\n').find((l) => l.startsWith('data: '))!.slice(6)) as { ip: string };
      assert.equal(data.ip, '10.77.0.100');
      await waitFor('the stream to unsubscribe', () => bus.subscriberCount === 0, { timeoutMs: 5000, intervalMs: 10 });
    },
    50,
  );
});

test('SSE replays missed events after Last-Event-ID', async () => {
  const bus = new EventBus();
  for (let i = 1; i <= 4; i++) bus.publish({ source: 'server', type: 'progress', serial: 's1', message: `step ${i}` });
  await withServer(bus, async (base) => {
    const res = await fetch(`${base}/?serial=s1`, { headers: { 'Last-Event-ID': '2' } });
    const text = await readUntil(res, (t) => t.includes('step 4'));
    assert.doesNotMatch(text, /step [12]/);
    assert.match(text, /step 3[\s\S]*step 4/);
    const bad = await fetch(`${base}/?mac=zz`);
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /mac/);
  });
});
