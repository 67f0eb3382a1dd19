/** Human output: aligned tables, key/value blocks and plain values; JSON for scripts. No colours. */

export interface Out {
  write(text: string): void;
  isTTY: boolean;
}

export const stdout: Out = {
  write: (text) => void process.stdout.write(text),
  get isTTY() {
    return Boolean(process.stdout.isTTY);
  },
};

export function printJson(value: unknown, out: Out = stdout): void {
  out.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Columns separated by two spaces, padded to the widest cell; the last column is not padded. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** Label/value lines with the values aligned; empty values show as "-". */
export function formatFields(pairs: [string, string | undefined][]): string {
  const width = Math.max(0, ...pairs.map(([k]) => k.length)) + 1;
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width)}  ${v === undefined || v === '' ? '-' : v}`).join('\n') + '\n';
}

/** mayu wrote Go's zero time for "never"; show that (and empty) as "-", others to the second. */
export function formatTime(iso: unknown): string {
  if (typeof iso !== 'string' || iso === '' || iso.startsWith('0001-01-01')) return '-';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function formatBytes(n: unknown): string {
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

/** A cell: strings as they are, numbers printed, lists comma-joined, nothing as "-". */
export function cell(value: unknown): string {
  if (value === undefined || value === null || value === '') return '-';
  if (Array.isArray(value)) return value.length ? value.map(String).join(',') : '-';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
