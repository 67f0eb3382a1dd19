/** MAC addresses are stored lower case with colons, whatever the source wrote. */
const MAC = /^([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})$/i;

export function normalizeMac(text: string): string | undefined {
  const m = MAC.exec(text.trim());
  if (!m) return undefined;
  const mac = m.slice(1, 7).join(':').toLowerCase();
  // The caller's own string when it is normal already: records and events keep one copy of it.
  return mac === text ? text : mac;
}

export function isMac(text: string): boolean {
  return normalizeMac(text) !== undefined;
}
