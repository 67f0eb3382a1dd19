import type { Argv, CommandModule } from 'yargs';
import { withClient, type GlobalArgs } from '../context.js';
import { ApiError, CommandFailed, ReachError } from '../errors.js';
import { asEventList, formatEventLine, isCocoonEvent, type CocoonEvent } from '../events.js';
import type { ApiClient, Query } from '../http-client.js';
import { machinePath } from '../machine-fields.js';
import { stdout } from '../output.js';
import { SseParser } from '../sse.js';

interface LogsArgs extends GlobalArgs {
  follow: boolean;
  mac?: string;
  serial?: string;
  type?: string[];
  tail: number;
  count?: number;
}

export const logsCommand: CommandModule<GlobalArgs, LogsArgs> = {
  command: 'logs',
  aliases: ['events'],
  describe: 'Boot events (DHCP, TFTP, install); -f follows live',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('follow', { alias: 'f', type: 'boolean', default: false, describe: 'Keep following new events (reconnects by itself)' })
      .option('mac', { type: 'string', requiresArg: true, describe: 'Only events of this MAC address' })
      .option('serial', { type: 'string', requiresArg: true, describe: 'Only events of this machine' })
      .option('type', { type: 'string', array: true, requiresArg: true, describe: 'Only these event types (e.g. dhcp-ack, progress, state-change)' })
      .option('tail', { type: 'number', default: 50, describe: 'Recent events to show first (0: none)' })
      .option('count', { type: 'number', describe: 'Stop after this many new events (with -f)' })
      .check((a) => {
        if (!Number.isInteger(a.tail) || a.tail < 0) throw new Error('--tail: a whole number >= 0');
        if (a.count !== undefined && (!Number.isInteger(a.count) || a.count < 1)) throw new Error('--count: a whole number >= 1');
        if (a.count !== undefined && !a.follow) throw new Error('--count needs --follow');
        return true;
      })
      .example('$0 logs -f --serial abc123', 'follow one machine')
      .example('$0 logs -f --type boot-complete --serial abc123 --count 1', 'wait for its next boot-complete') as Argv<LogsArgs>,
  handler: async (argv) => {
    const query: Query = { mac: argv.mac, serial: argv.serial, type: argv.type?.flatMap((t) => t.split(',')).join(',') || undefined };
    const printer = new EventPrinter(argv.json, stdout.isTTY && !argv.json);
    await withClient(argv, async (client) => {
      let lastId: number | undefined;
      if (argv.tail > 0) {
        const recent = await recentEvents(client, argv, query);
        if (recent) {
          for (const e of recent.slice(-argv.tail)) printer.event(e);
          // Resume right after what was printed (0 when nothing was): no gap between the two requests.
          lastId = recent.at(-1)?.id ?? 0;
        } else if (!argv.follow) {
          throw new CommandFailed('cocoonctl: this server keeps recent events per machine only: add --serial, or follow with -f');
        }
      }
      if (argv.follow) await follow(client, query, printer, argv.count, lastId);
    });
  },
};

/**
 * Recent events without following: one machine's timeline, or the events route asked for JSON
 * (docs/architecture.md). `undefined` when the server can only stream.
 */
async function recentEvents(client: ApiClient, argv: LogsArgs, query: Query): Promise<CocoonEvent[] | undefined> {
  if (argv.serial) {
    // The timeline is kept per machine; type and MAC filters are applied here.
    const types = typeof query.type === 'string' ? new Set(query.type.split(',')) : undefined;
    const mac = argv.mac?.toLowerCase().replace(/-/g, ':');
    const filtered = types || mac;
    const doc = await client.json<unknown>('GET', machinePath(argv.serial, '/timeline'), { query: { limit: filtered ? 10_000 : argv.tail } });
    return asEventList(doc).filter((e) => (!types || types.has(e.type)) && (!mac || e.mac === mac));
  }
  const ctrl = new AbortController();
  try {
    const res = await client.stream('/api/v1/events', { query: { ...query, limit: argv.tail }, headers: { accept: 'application/json' }, signal: ctrl.signal });
    if (!/json/i.test(res.headers.get('content-type') ?? '')) return undefined;
    return asEventList(await res.json());
  } finally {
    ctrl.abort();
  }
}

const IDLE_LIMIT_MS = 45_000; // the server sends a heartbeat comment every 15 s
const MAX_BACKOFF_MS = 30_000;

/**
 * Follow the SSE stream: parse it, print events, and on any interruption reconnect with back-off,
 * sending Last-Event-ID so the server replays what was missed. Only the first connection may fail
 * the command (a wrong endpoint should say so at once); 4xx answers are never retried.
 */
async function follow(client: ApiClient, query: Query, printer: EventPrinter, count: number | undefined, startId: number | undefined): Promise<void> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let lastId = startId === undefined ? '' : String(startId);
  let seen = 0;
  let attempt = 0;
  let retryMs = 1000;
  let everConnected = false;
  try {
    while (!stop.signal.aborted) {
      const conn = new AbortController();
      const abortConn = (): void => conn.abort();
      stop.signal.addEventListener('abort', abortConn, { once: true });
      let idle: NodeJS.Timeout | undefined;
      const touch = (): void => {
        clearTimeout(idle);
        idle = setTimeout(() => conn.abort(), IDLE_LIMIT_MS);
      };
      let failure = 'the server closed the stream';
      try {
        printer.status(attempt ? `reconnecting to ${client.connection.endpoint} (attempt ${attempt + 1})` : `connecting to ${client.connection.endpoint}`);
        const res = await client.stream('/api/v1/events', { query, headers: lastId ? { 'last-event-id': lastId } : {}, signal: conn.signal });
        everConnected = true;
        attempt = 0;
        printer.connected(client.connection.endpoint);
        const parser = new SseParser(lastId);
        touch();
        if (!res.body) throw new Error('the server sent no body');
        for await (const chunk of res.body) {
          touch();
          const out = parser.push(chunk);
          if (out.retry !== undefined) retryMs = Math.max(250, out.retry);
          for (const msg of out.messages) {
            lastId = msg.id;
            let doc: unknown;
            try {
              doc = JSON.parse(msg.data);
            } catch {
              continue; // not one of ours; the stream may carry other message kinds later
            }
            if (!isCocoonEvent(doc)) continue;
            printer.event(doc);
            if (count !== undefined && ++seen >= count) return;
          }
        }
      } catch (err) {
        if (stop.signal.aborted) return;
        if (err instanceof ApiError && err.status < 500) throw err;
        if (!everConnected && err instanceof ReachError) throw err;
        failure = conn.signal.aborted ? 'no data for 45 s' : err instanceof Error ? err.message : String(err);
      } finally {
        clearTimeout(idle);
        stop.signal.removeEventListener('abort', abortConn);
      }
      attempt++;
      const delay = Math.min(MAX_BACKOFF_MS, retryMs * 2 ** Math.min(attempt - 1, 5));
      printer.disconnected(failure, delay);
      await sleep(delay, stop.signal);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    printer.done();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Event lines on stdout. On a terminal a status line sits under them (connection state, event
 * count); elsewhere state changes go to stderr as plain lines and stdout carries only events.
 */
class EventPrinter {
  private count = 0;
  private statusText = 'recent events';
  private since = '';

  constructor(
    private readonly json: boolean,
    private readonly live: boolean,
  ) {}

  event(e: CocoonEvent): void {
    this.count++;
    const line = this.json ? JSON.stringify(e) : formatEventLine(e);
    if (this.live) {
      process.stdout.write(`\r\x1b[2K${line}\n`);
      this.redraw();
    } else {
      process.stdout.write(`${line}\n`);
    }
  }

  status(text: string): void {
    this.statusText = text;
    if (this.live) this.redraw();
  }

  connected(endpoint: string): void {
    this.since = new Date().toISOString().slice(11, 19);
    this.status(`following ${endpoint} since ${this.since}Z`);
  }

  disconnected(reason: string, delayMs: number): void {
    const text = `stream interrupted (${reason}); reconnecting in ${Math.round(delayMs / 1000)} s`;
    if (this.live) this.status(text);
    else process.stderr.write(`cocoonctl: ${text}\n`);
  }

  done(): void {
    if (this.live) process.stdout.write('\r\x1b[2K');
  }

  private redraw(): void {
    const cols = process.stdout.columns || 80;
    const text = `-- ${this.statusText} · ${this.count} event${this.count === 1 ? '' : 's'} (Ctrl-C to stop)`;
    process.stdout.write(`\r\x1b[2K${text.slice(0, cols - 1)}`);
  }
}
