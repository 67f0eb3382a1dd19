/**
 * git's orders, computed on JS strings without encoding them: git compares names as UTF-8 bytes,
 * which is code point order, and UTF-16 code units give the same order except that surrogates
 * (U+D800..U+DFFF, i.e. code points above U+FFFF) must sort after U+E000..U+FFFF.
 */
function unit(c: number): number {
  if (c < 0xd800) return c;
  return c >= 0xe000 ? c - 0x800 : c + 0x2000;
}

/** The code unit of `s` at `i`, with a tree's name continuing as '/' and -1 past the end. */
function at(s: string, tree: boolean, i: number): number {
  if (i < s.length) return unit(s.charCodeAt(i));
  return i === s.length && tree ? 0x2f : -1;
}

/** Order of two entries of one tree object: a tree's name sorts as if it ended in '/'. */
export function compareTreeNames(a: string, aTree: boolean, b: string, bTree: boolean): number {
  const end = Math.max(a.length, b.length) + 1;
  for (let i = 0; i < end; i++) {
    const d = at(a, aTree, i) - at(b, bTree, i);
    if (d !== 0) return d;
  }
  return 0;
}

/** Order of the index file: full paths as bytes. */
export function compareGitPaths(a: string, b: string): number {
  return compareTreeNames(a, false, b, false);
}
