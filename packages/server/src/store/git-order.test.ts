import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareGitPaths, compareTreeNames } from './git-order.js';

const sign = (n: number): number => Math.sign(n);

test('string order equals UTF-8 byte order, also around surrogates and U+E000..U+FFFF', () => {
  const alphabet = ['a', 'b', '-', '.', '/', '0', 'é', '\u{ffff}', '\u{e000}', '\u{d7ff}', '\u{1f600}', '\u{10000}', ''];
  const words: string[] = [];
  for (const x of alphabet) for (const y of alphabet) words.push(`${x}${y}`, `k${x}`, `${y}k${x}`);
  for (const a of words) {
    for (const b of words) {
      assert.equal(sign(compareGitPaths(a, b)), sign(Buffer.compare(Buffer.from(a), Buffer.from(b))), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    }
  }
});

test('a tree name sorts as if it ended in "/"', () => {
  // "a.b" < "a/" because '.' (0x2e) < '/' (0x2f), while a file "a" sorts before "a.b"
  assert.ok(compareTreeNames('a.b', true, 'a', true) < 0);
  assert.ok(compareTreeNames('a', false, 'a.b', true) < 0);
  assert.ok(compareTreeNames('a', true, 'a0', false) < 0, "'/' < '0'");
  assert.ok(compareTreeNames('a-b', false, 'a', true) < 0, "'-' < '/'");
  assert.equal(compareTreeNames('a', true, 'a', true), 0);
  assert.ok(compareTreeNames('a', false, 'a', true) < 0);
});
