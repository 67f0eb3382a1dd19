import type { Logger } from 'winston';
import { Counter, Gauge, Registry } from 'prom-client';
import { Interner } from '../util/intern.js';
import { normalizeMac } from '../util/mac.js';
import { RingBuffer } from './ring-buffer.js';
import type { CocoonEvent, EventFilter, EventInput, MachineResolver } from './types.js';

export interface EventBusOptions {
  /** Every published event is logged here as JSON (`event` field). */
  logger?: Logger;
  /**
   * `cocoon_events_total{source,type}`, `cocoon_timelines` and `cocoon_timeline_events` are
   * registered here (a private registry otherwise).
   */
  registry?: Registry;
  /** Events kept per machine timeline (config `events.timeline_size`). */
  timelineSize?: number;
  /**
   * Timelines kept: one per serial, plus one per MAC that sent events before it had a serial
   * (config `events.max_timelines`); the least recently active are forgotten first.
   */
  maxTimelines?: number;
  /**
   * Events kept in all timelines together (config `events.max_events`): past it, the least
   * recently active timelines are forgotten, so a whole fleet booting at once cannot grow the
   * heap by timeline_size x max_timelines events.
   */
  maxEvents?: number;
  /** Recent events of all machines, for SSE clients that reconnect with Last-Event-ID. */
  recentSize?: number;
  resolver?: MachineResolver;
}

type Listener = (event: CocoonEvent) => void;

interface Subscription {
  filter: NormalizedFilter;
  fn: Listener;
}

interface NormalizedFilter {
  mac?: string;
  serial?: string;
  types?: ReadonlySet<string>;
  source?: string;
}

const WARN_TYPES = new Set(['dnsmasq-error', 'dnsmasq-exit', 'tftp-failed', 'dhcp-nak', 'failed']);

/**
 * The in-process event bus: publish → log + count + per-machine timeline + live subscribers.
 * Memory stays flat: timelines are ring buffers, and both the number of timelines and the events
 * they hold together are capped (the least recently active timelines go first).
 * Each event lands in exactly one timeline: its serial's, or its MAC's while the MAC has no
 * serial yet; `timeline()` joins the two, so a booting fleet costs one timeline per machine.
 */
export class EventBus {
  private nextId = 1;
  private readonly subscriptions = new Set<Subscription>();
  /** Keys are `s:<serial>` and `m:<mac>` (events without a serial); Map order is recency order (LRU). */
  private readonly timelines = new Map<string, RingBuffer<CocoonEvent>>();
  private readonly recentEvents: RingBuffer<CocoonEvent>;
  private readonly timelineSize: number;
  private readonly maxTimelines: number;
  private readonly maxEvents: number;
  /** Events held by all timelines together. */
  private retained = 0;
  /**
   * Timelines hold up to max_events events: their repeated strings are kept once (messages such
   * as "iPXE script (running)" repeat across a fleet; events in the same millisecond share a time).
   */
  private readonly messages = new Interner(4096);
  private lastTime = '';
  private readonly counter: Counter<'source' | 'type'>;
  private resolver: MachineResolver | undefined;
  private readonly logger: Logger | undefined;

  constructor(opts: EventBusOptions = {}) {
    this.logger = opts.logger;
    this.timelineSize = positiveInteger('timelineSize', opts.timelineSize ?? 64);
    this.maxTimelines = positiveInteger('maxTimelines', opts.maxTimelines ?? 20_000);
    this.maxEvents = positiveInteger('maxEvents', opts.maxEvents ?? 50_000);
    this.recentEvents = new RingBuffer(opts.recentSize ?? 1000);
    this.resolver = opts.resolver;
    const registers = [opts.registry ?? new Registry()];
    this.counter = new Counter({
      name: 'cocoon_events_total',
      help: 'Events published on the event bus, by source and type',
      labelNames: ['source', 'type'],
      registers,
    });
    const timelines = this.timelines;
    const retained = (): number => this.retained;
    new Gauge({
      name: 'cocoon_timelines',
      help: 'Machine timelines held in memory (events.max_timelines caps them)',
      registers,
      collect() {
        this.set(timelines.size);
      },
    });
    new Gauge({
      name: 'cocoon_timeline_events',
      help: 'Events held by all timelines together (events.max_events caps them)',
      registers,
      collect() {
        this.set(retained());
      },
    });
  }

  setMachineResolver(resolver: MachineResolver): void {
    this.resolver = resolver;
  }

  hasMachineResolver(): boolean {
    return this.resolver !== undefined;
  }

  publish(input: EventInput): CocoonEvent {
    const mac = input.mac === undefined ? undefined : (normalizeMac(input.mac) ?? input.mac);
    let serial = input.serial;
    if (serial === undefined && mac !== undefined) serial = this.safeResolve(mac);
    let time = input.time ?? new Date().toISOString();
    if (time === this.lastTime) time = this.lastTime;
    else this.lastTime = time;
    const event: CocoonEvent = {
      id: this.nextId++,
      time,
      source: input.source,
      type: input.type,
      ...(mac !== undefined && { mac }),
      ...(serial !== undefined && { serial }),
      ...(input.ip !== undefined && { ip: input.ip }),
      message: this.messages.intern(input.message),
      ...(input.data !== undefined && { data: input.data }),
    };
    Object.freeze(event);

    this.recentEvents.push(event);
    if (serial !== undefined) this.remember(`s:${serial}`, event);
    else if (mac !== undefined) this.remember(`m:${mac}`, event);
    this.counter.inc({ source: event.source, type: event.type });
    this.logger?.log(WARN_TYPES.has(event.type) ? 'warn' : 'info', event.message, { event });

    for (const sub of this.subscriptions) {
      if (!matches(sub.filter, event)) continue;
      try {
        sub.fn(event);
      } catch (err) {
        // A broken subscriber must neither stop the others nor the publisher.
        this.logger?.error('event subscriber failed', { err: String(err), eventId: event.id });
      }
    }
    return event;
  }

  /** Live events matching `filter` from now on. Returns the unsubscribe function. */
  subscribe(filter: EventFilter, fn: Listener): () => void {
    const sub: Subscription = { filter: normalizeFilter(filter), fn };
    this.subscriptions.add(sub);
    return () => {
      this.subscriptions.delete(sub);
    };
  }

  get subscriberCount(): number {
    return this.subscriptions.size;
  }

  /**
   * A machine's boot timeline, oldest first. By serial: its events plus the events its MACs had
   * before it had a serial. By MAC: the events that carried this MAC, before and after the MAC
   * got its serial (found through the resolver).
   */
  timeline(key: string, limit = this.timelineSize): CocoonEvent[] {
    const parts: CocoonEvent[][] = [];
    const add = (k: string, keep?: (e: CocoonEvent) => boolean): void => {
      const r = this.timelines.get(k);
      if (!r) return;
      const events = r.toArray();
      parts.push(keep ? events.filter(keep) : events);
    };
    add(`s:${key}`);
    const mac = normalizeMac(key);
    if (mac) {
      add(`m:${mac}`);
      const serial = this.safeResolve(mac);
      if (serial !== undefined && serial !== key) add(`s:${serial}`, (e) => e.mac === mac);
    } else {
      for (const m of this.safeMacs(key)) add(`m:${normalizeMac(m) ?? m}`);
    }
    const nonEmpty = parts.filter((p) => p.length > 0);
    if (nonEmpty.length === 0) return [];
    const merged = nonEmpty.length === 1 ? nonEmpty[0]! : mergeById(nonEmpty);
    return merged.slice(Math.max(0, merged.length - Math.max(0, limit)));
  }

  /** Recent events (any machine) matching `filter` with an id above `afterId`, oldest first. */
  recent(filter: EventFilter = {}, afterId = 0): CocoonEvent[] {
    const f = normalizeFilter(filter);
    return this.recentEvents.toArray().filter((e) => e.id > afterId && matches(f, e));
  }

  get lastId(): number {
    return this.nextId - 1;
  }

  /** Events held by all timelines together (at most `maxEvents`, unless one timeline holds more). */
  get retainedEvents(): number {
    return this.retained;
  }

  private remember(key: string, event: CocoonEvent): void {
    let ring = this.timelines.get(key);
    if (ring) {
      this.timelines.delete(key);
    } else {
      ring = new RingBuffer<CocoonEvent>(this.timelineSize);
      if (this.timelines.size >= this.maxTimelines) this.forgetOldest();
    }
    this.timelines.set(key, ring);
    const before = ring.length;
    ring.push(event);
    this.retained += ring.length - before;
    // The timeline just written is the most recent one, so it is the last to go.
    while (this.retained > this.maxEvents && this.timelines.size > 1) this.forgetOldest();
  }

  private forgetOldest(): void {
    const oldest = this.timelines.entries().next().value;
    if (oldest === undefined) return;
    this.timelines.delete(oldest[0]);
    this.retained -= oldest[1].length;
  }

  private safeResolve(mac: string): string | undefined {
    try {
      return this.resolver?.serialForMac(mac);
    } catch (err) {
      this.logger?.error('MAC to serial resolution failed', { mac, err: String(err) });
      return undefined;
    }
  }

  private safeMacs(serial: string): readonly string[] {
    try {
      return this.resolver?.macsForSerial(serial) ?? [];
    } catch (err) {
      this.logger?.error('serial to MAC resolution failed', { serial, err: String(err) });
      return [];
    }
  }
}

/** Several id-ordered lists as one, ordered by id, each event once. */
function mergeById(parts: CocoonEvent[][]): CocoonEvent[] {
  const all = parts.flat().sort((a, b) => a.id - b.id);
  return all.filter((e, i) => i === 0 || all[i - 1]!.id !== e.id);
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`EventBus ${name} must be a positive integer, got ${value}`);
  return value;
}

function normalizeFilter(filter: EventFilter): NormalizedFilter {
  const out: NormalizedFilter = {};
  if (filter.mac !== undefined) out.mac = normalizeMac(filter.mac) ?? filter.mac;
  if (filter.serial !== undefined) out.serial = filter.serial;
  if (filter.type !== undefined) out.types = new Set(typeof filter.type === 'string' ? [filter.type] : filter.type);
  if (filter.source !== undefined) out.source = filter.source;
  return out;
}

function matches(f: NormalizedFilter, e: CocoonEvent): boolean {
  if (f.mac !== undefined && e.mac !== f.mac) return false;
  if (f.serial !== undefined && e.serial !== f.serial) return false;
  if (f.types !== undefined && !f.types.has(e.type)) return false;
  if (f.source !== undefined && e.source !== f.source) return false;
  return true;
}

/** The resolver backed by the machine store's in-memory index. */
export function storeResolver(store: {
  byMac(mac: string): { Serial: string } | undefined;
  get(serial: string): { MacAddresses: readonly string[] } | undefined;
}): MachineResolver {
  return {
    serialForMac: (mac) => store.byMac(mac)?.Serial,
    macsForSerial: (serial) => store.get(serial)?.MacAddresses ?? [],
  };
}
