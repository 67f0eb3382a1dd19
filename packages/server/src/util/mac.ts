/** MAC addresses are stored lower case with colons, whatever the source wrote. */
const MAC = /^([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})$/i;

export function normalizeMac(text: string): string | undefined {
  const m = MAC.exec(text.trim());
  if (!m) return undefined;
  return m.slice(1, 7).join(':').toLowerCase();
}

export function isMac(text: string): boolean {
  return normalizeMac(text) !== undefined;
}
