import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gitCli, tempDir } from '../testing/store-fixtures.js';
import { blobOid, GitAudit } from './git-audit.js';

const author = { name: 'Cocoon Test', email: 'cocoon@test.invalid' };

/** Writes `files` into the worktree (GitAudit commits; the store writes files) and commits them. */
async function commitFiles(audit: GitAudit, dir: string, files: Record<string, string | null>, message: string): Promise<void> {
  for (const [p, content] of Object.entries(files)) {
    const file = path.join(dir, p);
    if (content === null) rmSync(file, { force: true, recursive: true });
    else {
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, content);
    }
  }
  await audit.commit(Object.entries(files).map(([p, content]) => ({ path: p, content })), message);
}

function headTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of gitCli(dir, ['ls-tree', '-r', '-z', '--full-tree', 'HEAD']).split('\0').filter(Boolean)) {
    const [meta, name] = line.split('\t') as [string, string];
    out[name] = meta.split(' ')[2] as string;
  }
  return out;
}

const expected = (files: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(files).map(([p, c]) => [p, blobOid(c)]));

test('trees built in memory are what git builds: names that sort around "/", nesting, non-ASCII, file <-> directory', async (t) => {
  const { dir, cleanup } = tempDir('cocoon-gitaudit-');
  t.after(cleanup);
  const audit = await GitAudit.open({ dir, author, indexFlushMs: 10 });
  const live: Record<string, string> = {};
  const apply = async (files: Record<string, string | null>, message: string): Promise<void> => {
    await commitFiles(audit, dir, files, message);
    for (const [p, c] of Object.entries(files)) {
      if (c === null) for (const k of Object.keys(live)) if (k === p || k.startsWith(`${p}/`)) delete live[k];
      if (c !== null) live[p] = c;
    }
    assert.deepEqual(headTree(dir), expected(live), `after "${message}"`);
  };
  await apply({ 'cluster.json': '{}\n', 'seed-1/conf.json': 'one\n', 'seed-1.a/conf.json': 'dot\n', 'seed-1-b/conf.json': 'dash\n', 'seed-10/conf.json': 'ten\n' }, 'first');
  await apply({ 'x.y/z': 'xy\n', 'x/z': 'xz\n', x0: 'file x0\n', 'deep/a/b/c.txt': 'deep\n', 'deep/a/d': 'd\n' }, 'nesting');
  await apply({ 'é/conf.json': 'e acute\n', '\u{1f600}/f': 'emoji\n', '\u{fffd}/f': 'replacement char\n', '\u{e000}': 'private use\n' }, 'non-ascii');
  await apply({ 'seed-1/conf.json': 'one, changed\n', 'deep/a/d': null }, 'change and delete');
  await apply({ 'deep/a/b/c.txt': null }, 'last file of a nested dir: the empty trees go');
  await apply({ x0: null }, 'remove a file');
  await apply({ 'x0/inner': 'now a directory\n' }, 'a directory where a file was');
  await apply({ 'seed-1/extra': 'second file\n' }, 'a second file in a machine dir');
  await audit.close();
  gitCli(dir, ['fsck', '--strict']);
  assert.equal(gitCli(dir, ['status', '--porcelain']), '', 'the index matches the worktree');
  assert.equal(gitCli(dir, ['log', '--format=%s']).trim().split('\n').length, 8);

  // A restart reads HEAD shallowly and answers from single-file trees without reading them.
  const again = await GitAudit.open({ dir, author, indexFlushMs: 10 });
  t.after(() => again.close());
  assert.equal(await again.isCommitted('seed-10/conf.json', 'ten\n'), true, 'single-file directory, unread');
  assert.equal(await again.isCommitted('seed-1-b/conf.json', 'changed on disk\n'), false);
  assert.equal(await again.isCommitted('seed-1/conf.json', 'one, changed\n'), true, 'two-file directory: read from git');
  assert.equal(await again.isCommitted('x0/inner', 'now a directory\n'), true);
  assert.equal(again.headFile('seed-1/extra'), blobOid('second file\n'));
  await again.loadAll();
  assert.deepEqual(Object.fromEntries(again.headFiles()), expected(live));
  await again.rebuildIndex(() => true); // as the store does at open: the index starts from HEAD
  await commitFiles(again, dir, { 'seed-1.a/conf.json': 'dot, changed after restart\n', 'new/conf.json': 'new\n' }, 'after restart');
  live['seed-1.a/conf.json'] = 'dot, changed after restart\n';
  live['new/conf.json'] = 'new\n';
  await again.flushIndex();
  assert.deepEqual(headTree(dir), expected(live));
  gitCli(dir, ['fsck', '--strict']);
  assert.equal(gitCli(dir, ['status', '--porcelain']), '');
});
