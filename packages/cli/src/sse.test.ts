import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SseParser, type SseMessage } from './sse.js';

function feed(parser: SseParser, chunks: (string | Uint8Array)[]): { messages: SseMessage[]; retry?: number; comments: number } {
  const all: SseMessage[] = [];
  let retry: number | undefined;
  let comments = 0;
  for (const c of chunks) {
    const out = parser.push(c);
    all.push(...out.messages);
    if (out.retry !== undefined) retry = out.retry;
    comments += out.comments;
  }
  return { messages: all, retry, comments };
}

const STREAM = 'retry: 2000\n: cocoon events\n\nid: 7\nevent: dhcp-ack\ndata: {"a":1}\n\nid: 8\ndata: line one\ndata: line two\n\n';

test('parses ids, event names, multi-line data, retry and comments', () => {
  const out = feed(new SseParser(), [STREAM]);
  assert.deepEqual(out.messages, [
    { event: 'dhcp-ack', data: '{"a":1}', id: '7' },
    { event: 'message', data: 'line one\nline two', id: '8' },
  ]);
  assert.equal(out.retry, 2000);
  assert.equal(out.comments, 1);
});

test('any chunking gives the same messages, including splits inside UTF-8 characters and CRLF', () => {
  const text = STREAM.replace(/\n/g, '\r\n') + 'data: grüße ✓\r\n\r\n';
  const bytes = new TextEncoder().encode(text);
  const whole = feed(new SseParser(), [bytes]).messages;
  assert.equal(whole.length, 3);
  assert.equal(whole[2]?.data, 'grüße ✓');
  for (let size = 1; size <= 7; size++) {
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
    assert.deepEqual(feed(new SseParser(), chunks).messages, whole, `chunk size ${size}`);
  }
});

test('a lone CR ends a line; an event without data is not dispatched; the id persists', () => {
  const out = feed(new SseParser('3'), ['event: x\r\rdata: a\rid: 9\r', '\r', 'data: b\n\n']);
  assert.deepEqual(out.messages, [
    { event: 'message', data: 'a', id: '9' },
    { event: 'message', data: 'b', id: '9' },
  ]);
});

test('an unfinished message at the end of a chunk waits for the rest', () => {
  const p = new SseParser();
  assert.deepEqual(p.push('id: 1\ndata: {"par').messages, []);
  assert.deepEqual(p.push('t":2}\n\n').messages, [{ event: 'message', data: '{"part":2}', id: '1' }]);
  assert.equal(p.lastEventId, '1');
});
