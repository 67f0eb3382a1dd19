/**
 * Flatcar publishes `<file>.DIGESTS` next to every release file: sections headed "# <ALGO> HASH"
 * followed by "<hex>  <file name>" lines (MD5, SHA1, SHA512 and on newer releases more).
 */
export type DigestTable = Map<string, Map<string, string>>; // file name -> algorithm -> hex

const ALGORITHMS: Record<string, string> = { MD5: 'md5', SHA1: 'sha1', SHA256: 'sha256', SHA512: 'sha512' };

export function parseDigests(text: string): DigestTable {
  const table: DigestTable = new Map();
  let algo: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const head = /^#\s*([A-Z0-9-]+)\s+HASH$/i.exec(line);
    if (head) {
      algo = ALGORITHMS[head[1]!.toUpperCase().replace('-', '')];
      continue;
    }
    if (line.startsWith('#') || !algo) continue;
    const m = /^([0-9a-f]+)\s+\*?(\S+)$/i.exec(line);
    if (!m) continue;
    const file = m[2]!;
    if (!table.has(file)) table.set(file, new Map());
    table.get(file)!.set(algo, m[1]!.toLowerCase());
  }
  return table;
}

/** The digests that count: at least one of SHA-512 / SHA-256 must be published for a file. */
export const STRONG = ['sha512', 'sha256'];
