/** The event shape of the API (docs/architecture.md, "Events") and how cocoonctl prints one. */
import { cell, formatTime } from './output.js';

export interface CocoonEvent {
  id: number;
  time: string;
  source: 'dnsmasq' | 'server' | 'agent' | string;
  type: string;
  mac?: string;
  serial?: string;
  ip?: string;
  message: string;
  data?: Record<string, unknown>;
}

export function isCocoonEvent(v: unknown): v is CocoonEvent {
  const e = v as Partial<CocoonEvent> | null;
  return !!e && typeof e === 'object' && typeof e.type === 'string' && typeof e.time === 'string';
}

/** One line per event: time, source, type, who (serial or MAC), IP, message. */
export function formatEventLine(e: CocoonEvent): string {
  const who = e.serial ?? e.mac ?? '-';
  return [formatTime(e.time), e.source.padEnd(7), e.type.padEnd(14), who, cell(e.ip), e.message].join('  ');
}

/** Lists may come bare or wrapped ({events: [...]}) depending on the route. */
export function asEventList(doc: unknown): CocoonEvent[] {
  const list = Array.isArray(doc) ? doc : ((doc as { events?: unknown })?.events ?? []);
  return Array.isArray(list) ? list.filter(isCocoonEvent) : [];
}
