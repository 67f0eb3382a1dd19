import path from 'node:path';
import type { EventInput } from '../events/types.js';
import { isIPv4 } from '../util/ipv4.js';
import { normalizeMac } from '../util/mac.js';

/**
 * dnsmasq 2.90 log lines (stderr with --log-facility=-, optionally syslog-timestamped) →
 * structured events. With log-dhcp, one DHCP packet is logged as several lines sharing a
 * transaction id: context lines (vendor class, tags, boot file, sent options) around the
 * DHCPxxx line. dnsmasq handles one packet at a time, so a transaction's lines are contiguous
 * and the parser only ever holds the current one: its event is emitted when a line of another
 * transaction (or no transaction) arrives, or after a short idle time.
 */

export type EmitEvent = (event: EventInput) => void;

export interface LogParserOptions {
  /** Emit a pending transaction's event when no line arrived for this long (0: only on flush()). */
  idleFlushMs?: number;
  /** Client IP → MAC pairs remembered from DHCP replies, to attach TFTP events to a machine. */
  maxKnownClients?: number;
}

const PREFIX = /^(?:(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:?\d\d)?) )?dnsmasq(?:-(dhcp|tftp|script))?(?:\[(\d+)\])?: ?(.*)$/;
const XID = /^(\d+) (.*)$/;
const DHCP_MSG = /^(DHCP[A-Z0-9]+|BOOTP|PXE)\(([^)]*)\)\s*(.*)$/;
const HWADDR = /^[0-9a-f]{2}(?:[:-][0-9a-f]{2}){5}$/i;
const PXE_ARCH = /PXEClient:Arch:(\d{5})/;
const ERRORISH = /\b(fail(?:ed|ure)?|FAILED|cannot|unknown interface|bad |illegal|invalid|error|refused|denied|not permitted|in use|no address range|abort|overflow|too many|out of memory|warning)\b/i;

/** RFC 4578 / IANA processor architecture types (DHCP option 93). */
const ARCH_NAMES: Record<number, string> = {
  0: 'x86-bios',
  6: 'x86-uefi',
  7: 'x64-uefi',
  9: 'x64-uefi',
  10: 'arm32-uefi',
  11: 'arm64-uefi',
  16: 'x64-uefi-http',
  19: 'arm64-uefi-http',
};

const REQUEST_KINDS = new Set(['DISCOVER', 'REQUEST', 'INFORM', 'RELEASE', 'DECLINE', 'SOLICIT', 'RENEW', 'REBIND', 'CONFIRM']);
const TYPE_OF_KIND: Record<string, string> = {
  DISCOVER: 'dhcp-discover',
  OFFER: 'dhcp-offer',
  REQUEST: 'dhcp-request',
  ACK: 'dhcp-ack',
  NAK: 'dhcp-nak',
  RELEASE: 'dhcp-release',
  DECLINE: 'dhcp-decline',
  INFORM: 'dhcp-inform',
};

interface PacketContext {
  vendorClass?: string;
  userClass?: string;
  clientName?: string;
  clientArch?: number;
  tags?: string[];
  bootFile?: string;
  serverName?: string;
  nextServer?: string;
  broadcast?: boolean;
}

interface PendingMessage {
  kind: string;
  iface: string;
  ip?: string;
  mac?: string;
  detail: string;
  line: string;
}

interface Transaction {
  xid: string;
  pid?: number;
  ctx: PacketContext;
  msg?: PendingMessage;
  /** Context lines seen without a DHCP message yet (kept to emit raw if none comes). */
  orphanLines: string[];
}

const MAX_ORPHAN_LINES = 32;
const KEPT_CONTEXT = ['vendorClass', 'userClass', 'clientName', 'clientArch', 'tags', 'bootFile', 'serverName', 'nextServer', 'broadcast'] as const;
const MAX_TEXT = 1024;

export class DnsmasqLogParser {
  private tx: Transaction | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly clients = new Map<string, string>();
  private readonly idleFlushMs: number;
  private readonly maxKnownClients: number;

  constructor(
    private readonly emit: EmitEvent,
    opts: LogParserOptions = {},
  ) {
    this.idleFlushMs = opts.idleFlushMs ?? 0;
    this.maxKnownClients = opts.maxKnownClients ?? 4096;
  }

  /** Parse one line (without its newline). */
  line(text: string): void {
    const m = PREFIX.exec(text);
    if (!m) {
      this.flush();
      this.emitRaw(text, {});
      return;
    }
    const sub = m[1];
    const pid = m[2] === undefined ? undefined : Number(m[2]);
    const msg = m[3] ?? '';
    if (sub === 'dhcp') this.dhcpLine(msg, pid, text);
    else {
      this.flush();
      if (sub === 'tftp') this.tftpLine(msg, pid, text);
      else this.mainLine(msg, pid, text, sub);
    }
    this.armTimer();
  }

  /** Emit the pending transaction, if any (end of stream, idle). */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const tx = this.tx;
    this.tx = undefined;
    if (!tx) return;
    if (tx.msg) this.emitMessage(tx, tx.msg);
    else if (tx.orphanLines.length > 0) this.emitUnanswered(tx);
  }

  /** A packet dnsmasq logged but did not answer (e.g. a non-PXE client in proxy-DHCP mode). */
  private emitUnanswered(tx: Transaction): void {
    const ctx = tx.ctx;
    const data: Record<string, unknown> = { kind: 'unanswered', xid: tx.xid, lines: tx.orphanLines.length };
    if (tx.pid !== undefined) data.pid = tx.pid;
    for (const k of KEPT_CONTEXT) if (ctx[k] !== undefined) data[k] = ctx[k];
    const who = ctx.vendorClass ? ` (vendor class ${ctx.vendorClass})` : '';
    this.info(`DHCP packet of transaction ${tx.xid}${who} not answered`, data);
  }

  private armTimer(): void {
    if (this.idleFlushMs <= 0 || !this.tx) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), this.idleFlushMs);
    this.timer.unref();
  }

  private dhcpLine(msg: string, pid: number | undefined, line: string): void {
    const x = XID.exec(msg);
    const xid = x?.[1];
    const body = x ? (x[2] ?? '') : msg;
    const dm = DHCP_MSG.exec(body);

    if (xid === undefined) {
      this.flush();
      if (dm) {
        // Without log-dhcp there are no transaction ids: every message line stands alone.
        const tx: Transaction = { xid: '', ctx: {}, orphanLines: [], ...(pid !== undefined && { pid }) };
        this.emitMessage(tx, messageOf(dm, line));
        return;
      }
      this.dhcpInfoLine(body, pid, line);
      return;
    }

    let tx = this.tx;
    if (!tx || tx.xid !== xid) {
      this.flush();
      tx = { xid, ctx: {}, orphanLines: [], ...(pid !== undefined && { pid }) };
      this.tx = tx;
    }

    if (dm) {
      const next = messageOf(dm, line);
      if (tx.msg) {
        this.emitMessage(tx, tx.msg);
        // A new client packet in the same transaction (REQUEST after OFFER) starts a new context.
        if (REQUEST_KINDS.has(next.kind)) tx.ctx = {};
        else tx.ctx = { ...tx.ctx, bootFile: undefined, nextServer: undefined, serverName: undefined };
      }
      tx.msg = next;
      // The context lines so far belong to this message, not to an unanswered packet.
      tx.orphanLines = [];
      return;
    }

    const isPacketStart = /^(available DHCP (range|subnet)|vendor class|user class|client provides name):/.test(body);
    if (isPacketStart && tx.msg) {
      // A client retry or its next packet (REQUEST after OFFER) reuses the transaction id.
      this.emitMessage(tx, tx.msg);
      tx.msg = undefined;
      tx.ctx = {};
    }
    if (!applyContext(tx.ctx, body)) {
      // A transaction line we do not know: keep it as its own raw event.
      this.emitRaw(line, { xid, ...(pid !== undefined && { pid }) });
      return;
    }
    if (!tx.msg && tx.orphanLines.length < MAX_ORPHAN_LINES) tx.orphanLines.push(line);
  }

  private dhcpInfoLine(body: string, pid: number | undefined, line: string): void {
    const base = { line, ...(pid !== undefined && { pid }) };
    let r: RegExpExecArray | null;
    if ((r = /^read (.+)$/.exec(body))) return this.info(`dnsmasq read ${r[1]}`, { ...base, kind: 'file-read', file: r[1] });
    if ((r = /^DHCP, IP range (\S+) -- (\S+), lease time (\S+)/.exec(body)))
      return this.info(body, { ...base, kind: 'dhcp-range', start: r[1], end: r[2], leaseTime: r[3] });
    if ((r = /^RTR-([A-Z]+)\(([^)]*)\)\s*(\S*)/.exec(body))) {
      // IPv6 router adverts (network.fast_test_network) and the solicitations that trigger them.
      const mac = normalizeMac(r[3] ?? '');
      return this.info(body, { ...base, kind: `router-${r[1]!.toLowerCase()}`, interface: r[2], ...(mac && { mac }) });
    }
    if (/^DHCP, /.test(body) || /^(router advert|IPv6 router advert|SLAAC|DHCPv6)/.test(body)) return this.info(body, { ...base, kind: 'dhcp-setup' });
    if (ERRORISH.test(body)) return this.error(body, base);
    this.emitRaw(line, base);
  }

  private tftpLine(msg: string, pid: number | undefined, line: string): void {
    const base = { line, ...(pid !== undefined && { pid }) };
    let r: RegExpExecArray | null;
    if ((r = /^sent (.+) to (\S+)$/.exec(msg))) return this.tftp('tftp-sent', `TFTP sent ${path.basename(r[1]!)} to ${r[2]}`, r[1]!, r[2], base);
    if ((r = /^failed sending (.+) to (\S+)$/.exec(msg)))
      return this.tftp('tftp-failed', `TFTP failed sending ${path.basename(r[1]!)} to ${r[2]}`, r[1]!, r[2], base);
    if ((r = /^file (.+) not found(?: for (\S+))?$/.exec(msg)))
      return this.tftp('tftp-failed', `TFTP file ${r[1]} not found${r[2] ? ` (asked by ${r[2]})` : ''}`, r[1]!, r[2], { ...base, reason: 'not found' });
    if ((r = /^cannot access (.+): (.+)$/.exec(msg)))
      return this.tftp('tftp-failed', `TFTP cannot access ${r[1]}: ${r[2]}`, r[1]!, undefined, { ...base, reason: r[2] });
    if ((r = /^error (\d+) (.*) received from (\S+)$/.exec(msg))) {
      // Error 8 is a client abort: UEFI firmware aborts its first transfer once it knows the size.
      return this.tftp('tftp-aborted', `TFTP transfer stopped by ${r[3]}: error ${r[1]} ${r[2]}`, undefined, r[3], {
        ...base,
        code: Number(r[1]),
        reason: r[2],
      });
    }
    if ((r = /^unsupported request from (\S+)$/.exec(msg))) return this.tftp('tftp-failed', msg, undefined, r[1], { ...base, reason: 'unsupported request' });
    if ((r = /^TFTP root is (.+?)\s*$/.exec(msg))) return this.info(msg.trim(), { ...base, kind: 'tftp-root', root: r[1] });
    if (/^TFTP|^enabled/.test(msg)) return this.info(msg.trim(), { ...base, kind: 'tftp-setup' });
    if (ERRORISH.test(msg)) return this.error(msg, base);
    this.emitRaw(line, base);
  }

  private mainLine(msg: string, pid: number | undefined, line: string, sub: string | undefined): void {
    const base = { line, ...(pid !== undefined && { pid }), ...(sub !== undefined && { program: `dnsmasq-${sub}` }) };
    let r: RegExpExecArray | null;
    if ((r = /^started, version (\S+)/.exec(msg))) return this.info(`dnsmasq ${r[1]} started`, { ...base, kind: 'started', version: r[1] });
    if (/^compile time options:/.test(msg)) return this.info(msg, { ...base, kind: 'compile-options' });
    if ((r = /^exiting on receipt of (\S+)/.exec(msg))) return this.info(msg, { ...base, kind: 'exiting', signal: r[1] });
    if ((r = /^inotify: (.+) (new or modified|removed)$/.exec(msg)))
      return this.info(msg, { ...base, kind: 'hosts-changed', file: r[1], change: r[2] === 'removed' ? 'removed' : 'modified' });
    // The file of an inotify removal is gone by the time dnsmasq looks: expected, not an error.
    if ((r = /^cannot read (.+): No such file or directory$/.exec(msg))) return this.info(msg, { ...base, kind: 'file-vanished', file: r[1] });
    if (/^(syntax check OK|reading |using |read |cleared cache|ignoring )/.test(msg)) return this.info(msg, { ...base, kind: 'info' });
    if (ERRORISH.test(msg) || (pid === undefined && sub === undefined)) return this.error(msg, base);
    this.emitRaw(line, base);
  }

  private emitMessage(tx: Transaction, m: PendingMessage): void {
    const ctx = tx.ctx;
    const ignored = /^ignored\b/.test(m.detail);
    const type = ignored ? 'dhcp-ignored' : m.kind === 'PXE' ? 'pxe' : (TYPE_OF_KIND[m.kind] ?? 'raw');
    // Kept small: 10 000 machines' timelines hold these. The options dnsmasq sent and the raw
    // lines are left out (bootFile, nextServer and tags say what matters for a boot).
    const data: Record<string, unknown> = {
      message: m.kind === 'PXE' || m.kind === 'BOOTP' ? m.kind : `DHCP${m.kind}`,
      interface: m.iface,
    };
    if (tx.xid) data.xid = tx.xid;
    if (m.detail) data.detail = m.detail;
    for (const k of KEPT_CONTEXT) if (ctx[k] !== undefined) data[k] = ctx[k];
    if (ctx.clientArch !== undefined) data.clientArchName = ARCH_NAMES[ctx.clientArch] ?? `arch-${ctx.clientArch}`;
    if (m.mac && m.ip && (m.kind === 'ACK' || m.kind === 'OFFER')) this.rememberClient(m.ip, m.mac);

    const parts = [String(data.message), `on ${m.iface}`];
    if (m.mac) parts.push(m.mac);
    if (m.ip) parts.push(m.ip);
    if (m.detail) parts.push(`(${m.detail})`);
    if (ctx.bootFile && (m.kind === 'OFFER' || m.kind === 'ACK' || m.kind === 'PXE')) parts.push(`boot file ${ctx.bootFile}`);
    this.emit({
      source: 'dnsmasq',
      type,
      message: parts.join(' '),
      ...(m.mac !== undefined && { mac: m.mac }),
      ...(m.ip !== undefined && { ip: m.ip }),
      data,
    });
  }

  private tftp(type: string, message: string, file: string | undefined, client: string | undefined, data: Record<string, unknown>): void {
    const ip = client?.replace(/#\d+$/, '');
    const mac = ip ? this.clients.get(ip) : undefined;
    this.emit({
      source: 'dnsmasq',
      type,
      message,
      ...(mac !== undefined && { mac }),
      ...(ip !== undefined && { ip }),
      data: { ...data, ...(file !== undefined && { file, name: path.basename(file) }), ...(ip !== undefined && { client: ip }) },
    });
  }

  private info(message: string, data: Record<string, unknown>): void {
    this.emit({ source: 'dnsmasq', type: 'dnsmasq-info', message: message.slice(0, MAX_TEXT), data });
  }

  private error(message: string, data: Record<string, unknown>): void {
    this.emit({ source: 'dnsmasq', type: 'dnsmasq-error', message: message.slice(0, MAX_TEXT), data });
  }

  private emitRaw(line: string, data: Record<string, unknown>): void {
    this.emit({ source: 'dnsmasq', type: 'raw', message: line.slice(0, MAX_TEXT), data: { ...data, line } });
  }

  private rememberClient(ip: string, mac: string): void {
    this.clients.delete(ip);
    this.clients.set(ip, mac);
    if (this.clients.size > this.maxKnownClients) {
      const oldest = this.clients.keys().next().value;
      if (oldest !== undefined) this.clients.delete(oldest);
    }
  }
}

function messageOf(dm: RegExpExecArray, line: string): PendingMessage {
  const kind = dm[1]!.startsWith('DHCP') ? dm[1]!.slice(4) : dm[1]!;
  const tokens = (dm[3] ?? '').trim().split(/\s+/).filter(Boolean);
  const out: PendingMessage = { kind, iface: dm[2] ?? '', detail: '', line };
  if (tokens[0] !== undefined && isIPv4(tokens[0])) out.ip = tokens.shift();
  if (tokens[0] !== undefined && HWADDR.test(tokens[0])) out.mac = normalizeMac(tokens.shift()!);
  out.detail = tokens.join(' ').slice(0, MAX_TEXT);
  return out;
}

/** Folds one log-dhcp context line into the packet context; false if the line is not one. */
function applyContext(ctx: PacketContext, body: string): boolean {
  let r: RegExpExecArray | null;
  // Recognised but not kept (see emitMessage): the range, requested and sent options.
  if (/^(available DHCP (range|subnet)|requested options|sent size):/.test(body)) return true;
  if ((r = /^vendor class: (.*)$/.exec(body))) {
    ctx.vendorClass = r[1]!.trim();
    const a = PXE_ARCH.exec(ctx.vendorClass);
    if (a) ctx.clientArch = Number(a[1]);
  } else if ((r = /^user class: (.*)$/.exec(body))) ctx.userClass = r[1]!.trim();
  else if ((r = /^client provides name: (.*)$/.exec(body))) ctx.clientName = r[1]!.trim();
  else if ((r = /^tags: (.*)$/.exec(body))) {
    ctx.tags = r[1]!
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
  } else if ((r = /^bootfile name: (.*)$/.exec(body))) ctx.bootFile = r[1]!.trim();
  else if ((r = /^server name: (.*)$/.exec(body))) ctx.serverName = r[1]!.trim();
  else if ((r = /^next server: (.*)$/.exec(body))) ctx.nextServer = r[1]!.trim();
  else if (/^broadcast response$/.test(body)) ctx.broadcast = true;
  else return false;
  return true;
}
