import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { HistoryView, EventView } from './lab.js';

/** sha256 of the first `length` bytes of a file (the disk prefix an image was written to). */
export function sha256Prefix(file: string, length: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file, { start: 0, end: length - 1 })
      .on('data', (c) => h.update(c))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}

export function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

/**
 * The machine's commit messages oldest first (the API, like git log, lists newest first;
 * when entries carry dates they decide).
 */
export function chronological(history: HistoryView[]): HistoryView[] {
  const dated = history.every((h) => h.date && !Number.isNaN(Date.parse(h.date)));
  // Commit dates have one-second resolution: reverse first so that commits of the same second
  // keep their order (sort is stable), then let the dates decide.
  if (dated) return [...history].reverse().sort((a, b) => Date.parse(a.date!) - Date.parse(b.date!));
  return [...history].reverse();
}

/**
 * Index of the first message at or after `from` matching each pattern in turn; -1 when a
 * step is missing. Proves the steps happened in this order.
 */
export function stepsInOrder(messages: string[], patterns: RegExp[]): number[] {
  const at: number[] = [];
  let from = 0;
  for (const p of patterns) {
    const i = messages.findIndex((m, idx) => idx >= from && p.test(m));
    at.push(i);
    if (i >= 0) from = i + 1;
  }
  return at;
}

export function eventTypes(events: EventView[]): Set<string> {
  return new Set(events.map((e) => e.type));
}
