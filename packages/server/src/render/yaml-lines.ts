/**
 * Find the line of a value in block-style YAML from its JSON path, so a schema error in a rendered
 * config can point at a line. js-yaml keeps no positions, and templates are plain block YAML, so
 * following indentation is enough; when the text is written in a way this does not follow, the
 * line of the deepest part of the path that was found is returned (exact: false).
 */

/** One structural token: a "- " marker or a line's content after its markers. */
interface Token {
  col: number;
  dash: boolean;
  key: string | undefined;
  /** 0-based source line. */
  line: number;
}

const KEY = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"{[\]][^#]*?)\s*:(?:\s|$)/;

function unquote(key: string): string {
  if (key.startsWith('"')) {
    try {
      return JSON.parse(key) as string;
    } catch {
      return key.slice(1, -1);
    }
  }
  if (key.startsWith("'")) return key.slice(1, -1).replace(/''/g, "'");
  return key.trim();
}

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  // Column of the key (or marker) that opened a literal/folded block; its deeper lines are text.
  let blockCol = -1;
  text.split('\n').forEach((raw, line) => {
    const body = raw.trimEnd();
    const trimmed = body.trimStart();
    let col = body.length - trimmed.length;
    if (trimmed === '') return;
    if (blockCol >= 0) {
      if (col > blockCol) return;
      blockCol = -1;
    }
    if (trimmed.startsWith('#') || trimmed === '---' || trimmed === '...') return;
    let rest = trimmed;
    let ownerCol = col;
    while (rest === '-' || rest.startsWith('- ')) {
      out.push({ col, dash: true, key: undefined, line });
      ownerCol = col;
      const after = rest.slice(1);
      const skip = 1 + (after.length - after.trimStart().length);
      col += skip;
      rest = after.trimStart();
    }
    if (rest === '') return;
    const m = KEY.exec(rest);
    const key = m?.[1] !== undefined ? unquote(m[1]) : undefined;
    out.push({ col, dash: false, key, line });
    const value = key !== undefined ? rest.slice((m?.[0] ?? '').length) : rest;
    if (/^[|>][-+0-9]*\s*(#.*)?$/.test(value.trim())) blockCol = key !== undefined ? col : ownerCol;
  });
  return out;
}

export interface YamlLocation {
  /** 1-based line. */
  line: number;
  /** Whether the whole path was found (false: the line of its deepest found part). */
  exact: boolean;
}

/** `path` as JSON pointer segments, e.g. ["storage", "files", "0", "mode"]. */
export function yamlLineOf(text: string, path: readonly string[]): YamlLocation | undefined {
  const tokens = tokenize(text);
  let start = 0;
  let end = tokens.length;
  let found: number | undefined;
  const partial = (): YamlLocation | undefined => (found === undefined ? undefined : { line: found + 1, exact: false });
  for (const seg of path) {
    const first = tokens[start];
    if (start >= end || !first) return partial();
    const col = first.col;
    let hit = -1;
    if (/^[0-9]+$/.test(seg) && first.dash) {
      let n = Number(seg);
      for (let i = start; i < end; i++) {
        const t = tokens[i] as Token;
        if (t.col < col) break;
        if (t.col === col && t.dash && n-- === 0) {
          hit = i;
          break;
        }
      }
      if (hit < 0) return partial();
      // The item's content is every later token deeper than its marker.
      let stop = hit + 1;
      while (stop < end && (tokens[stop] as Token).col > col) stop++;
      start = hit + 1;
      end = stop;
      // Point at the item's content when it starts on the marker's line.
      const content = tokens[hit + 1];
      found = content && hit + 1 < stop && content.line === (tokens[hit] as Token).line ? content.line : (tokens[hit] as Token).line;
      continue;
    }
    for (let i = start; i < end; i++) {
      const t = tokens[i] as Token;
      if (t.col < col) break;
      if (t.col === col && !t.dash && t.key === seg) {
        hit = i;
        break;
      }
    }
    if (hit < 0) return partial();
    // The value: deeper tokens, or a sequence whose markers sit at the key's own column.
    let stop = hit + 1;
    const next = tokens[stop];
    const compactSeq = next !== undefined && next.dash && next.col === col && stop < end;
    while (stop < end) {
      const t = tokens[stop] as Token;
      if (t.col > col || (compactSeq && t.col === col && t.dash)) stop++;
      else break;
    }
    start = hit + 1;
    end = stop;
    found = (tokens[hit] as Token).line;
  }
  return found === undefined ? undefined : { line: found + 1, exact: true };
}
