import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../testing/store-fixtures.js';
import { atomicWriteFile, isTempFileName, tempPathFor } from './atomic-write.js';

test('atomicWriteFile replaces the whole file and leaves no temp file', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const f = path.join(dir, 'conf.json');
  writeFileSync(f, 'old content that is longer than the new one');
  await atomicWriteFile(f, 'new');
  assert.equal(readFileSync(f, 'utf8'), 'new');
  assert.deepEqual(readdirSync(dir), ['conf.json']);
});

test('concurrent readers only ever see a whole old or whole new file', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const f = path.join(dir, 'conf.json');
  const a = JSON.stringify({ v: 'a'.repeat(200_000) });
  const b = JSON.stringify({ v: 'b'.repeat(300_000) });
  await atomicWriteFile(f, a);
  let stop = false;
  let reads = 0;
  const reader = (async () => {
    while (!stop) {
      const text = readFileSync(f, 'utf8');
      assert.ok(text === a || text === b, 'a torn read');
      reads++;
      await new Promise((r) => setImmediate(r));
    }
  })();
  for (let i = 0; i < 20; i++) await atomicWriteFile(f, i % 2 ? a : b);
  stop = true;
  await reader;
  assert.ok(reads > 0);
});

test('a failed write leaves the target untouched and removes its temp file', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const f = path.join(dir, 'missing-dir', 'conf.json');
  await assert.rejects(atomicWriteFile(f, 'x'));
  const g = path.join(dir, 'conf.json');
  writeFileSync(g, 'keep');
  if (process.getuid?.() !== 0) {
    chmodSync(dir, 0o500);
    await assert.rejects(atomicWriteFile(g, 'new'));
    chmodSync(dir, 0o700);
  }
  assert.equal(readFileSync(g, 'utf8'), 'keep');
  assert.deepEqual(readdirSync(dir), ['conf.json']);
});

test('temp file names are recognisable for the start-up sweep', () => {
  const p = tempPathFor('/x/y/conf.json');
  assert.equal(path.dirname(p), '/x/y');
  assert.ok(isTempFileName(path.basename(p)));
  assert.ok(!isTempFileName('conf.json'));
  assert.ok(!isTempFileName('cluster.json'));
});
