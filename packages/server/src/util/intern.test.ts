import assert from 'node:assert/strict';
import test from 'node:test';
import { Interner } from './intern.js';

test('an interner hands out the first copy of a string, is bounded, and skips long strings', () => {
  const i = new Interner(3, 8);
  const a = i.intern('running');
  assert.equal(i.intern(['run', 'ning'].join('')), a);
  i.intern('b');
  i.intern('c');
  assert.equal(i.size, 3);
  // Full: it starts over rather than growing.
  i.intern('d');
  assert.equal(i.size, 1);
  assert.equal(i.intern('a-long-string'), 'a-long-string');
  assert.equal(i.size, 1, 'long strings are not kept');
});
