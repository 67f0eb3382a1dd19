import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { tempDir } from '../testing/store-fixtures.js';
import { HistoryLog } from './history-log.js';

const oid = (i: number): string => createHash('sha1').update(String(i)).digest('hex');

test('readLast returns the newest n commits in order from the tail of a long list', async (t) => {
  const { dir, cleanup } = tempDir('cocoon-history-');
  t.after(cleanup);
  const log = new HistoryLog(dir);
  const all = Array.from({ length: 500 }, (_, i) => oid(i));
  for (let i = 0; i < all.length; i += 100) await log.append(new Map([['m1', all.slice(i, i + 100)]]));
  await log.append(new Map([['m2', [oid(1000)]]]));
  assert.deepEqual(await log.readLast('m1', 5), all.slice(-5));
  assert.deepEqual(await log.readLast('m1', 1), all.slice(-1));
  assert.deepEqual(await log.readLast('m1', 499), all.slice(1), 'the read starts mid-line: the partial line is dropped');
  assert.deepEqual(await log.readLast('m1', 10_000), all);
  assert.deepEqual(await log.readLast('m1', 0), []);
  assert.deepEqual(await log.readLast('m2', 50), [oid(1000)]);
  assert.deepEqual(await log.readLast('never-seen', 50), []);
  assert.deepEqual(await log.read('m1'), all);
});
