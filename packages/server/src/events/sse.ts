import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalid } from '../util/errors.js';
import { normalizeMac } from '../util/mac.js';
import type { EventBus } from './bus.js';
import type { CocoonEvent, EventFilter, EventSource } from './types.js';

export interface SseOptions {
  /** A comment line this often keeps proxies and idle time-outs from closing the stream. */
  heartbeatMs?: number;
  /**
   * A client that stops reading is disconnected once this much output is queued for it, so a slow
   * client can never make the server's memory grow.
   */
  maxQueuedBytes?: number;
}

const SOURCES: readonly EventSource[] = ['dnsmasq', 'server', 'agent'];
const SERIAL = /^[A-Za-z0-9._:-]{1,128}$/;

function one(query: Record<string, unknown>, key: string): string | undefined {
  const v = query[key];
  if (v === undefined || v === '') return undefined;
  if (typeof v === 'string') return v;
  throw invalid(key, `give ${key} once, as a plain string`);
}

/**
 * The filter of `GET /api/v1/events?mac=&serial=&type=&source=` (type may be a comma-separated
 * list). Throws `CocoonError` kind `invalid` naming the parameter at fault.
 */
export function parseEventFilter(query: Record<string, unknown>): EventFilter {
  const filter: EventFilter = {};
  const mac = one(query, 'mac');
  if (mac !== undefined) {
    const m = normalizeMac(mac);
    if (!m) throw invalid('mac', `${JSON.stringify(mac)} is not a MAC address (expected e.g. 52:54:00:12:34:56)`);
    filter.mac = m;
  }
  const serial = one(query, 'serial');
  if (serial !== undefined) {
    if (!SERIAL.test(serial)) throw invalid('serial', `${JSON.stringify(serial)} is not a valid serial (letters, digits, . _ : -)`);
    filter.serial = serial;
  }
  const type = one(query, 'type');
  if (type !== undefined) {
    const types = type.split(',').map((t) => t.trim()).filter(Boolean);
    const bad = types.find((t) => !/^[a-z0-9-]{1,40}$/.test(t));
    if (bad !== undefined) throw invalid('type', `${JSON.stringify(bad)} is not an event type (e.g. dhcp-ack, tftp-sent, state-change)`);
    filter.type = types;
  }
  const source = one(query, 'source');
  if (source !== undefined) {
    if (!(SOURCES as readonly string[]).includes(source)) throw invalid('source', `must be one of ${SOURCES.join(', ')}`);
    filter.source = source as EventSource;
  }
  return filter;
}

function frame(e: CocoonEvent): string {
  // JSON.stringify never emits a raw newline, so one data: line carries the whole event.
  return `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
}

/**
 * Serve the bus as a `text/event-stream` on `res` until the client goes away. Events the client
 * missed are replayed first when it reconnects with `Last-Event-ID` (as far as the bus still keeps
 * them). Returns a function that ends the stream from the server's side (e.g. at shutdown).
 */
export function streamEvents(bus: EventBus, filter: EventFilter, req: IncomingMessage, res: ServerResponse, opts: SseOptions = {}): () => void {
  const heartbeatMs = opts.heartbeatMs ?? 15_000;
  const maxQueued = opts.maxQueuedBytes ?? 1024 * 1024;
  let closed = false;

  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  res.flushHeaders();

  const send = (text: string): void => {
    if (closed) return;
    if (res.writableLength > maxQueued) {
      finish();
      return;
    }
    res.write(text);
  };

  const lastHeader = req.headers['last-event-id'];
  const lastId = Number(Array.isArray(lastHeader) ? lastHeader[0] : lastHeader);
  // Subscribe before replaying so nothing published in between is lost; ids de-duplicate.
  let replayedUpTo = 0;
  const unsubscribe = bus.subscribe(filter, (e) => {
    if (e.id > replayedUpTo) send(frame(e));
  });
  send(`retry: 2000\n: cocoon events\n\n`);
  if (Number.isInteger(lastId) && lastId >= 0) {
    for (const e of bus.recent(filter, lastId)) {
      send(frame(e));
      replayedUpTo = e.id;
    }
  }
  const heartbeat = setInterval(() => send(`: heartbeat ${new Date().toISOString()}\n\n`), heartbeatMs);
  heartbeat.unref();

  function finish(): void {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    unsubscribe();
    if (!res.writableEnded) res.end();
  }
  req.once('close', finish);
  res.once('close', finish);
  res.once('error', finish);
  return finish;
}

