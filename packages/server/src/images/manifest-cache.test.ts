import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tempDir } from '../testing/temp-dir.js';
import { addImage } from './catalog.js';
import { writeManifest } from './manifest.js';
import { cachedManifest } from './resolve.js';

test('a version this process adds is seen at once; one another process adds, within a second', async () => {
  const images = tempDir('cocoon-manifest-cache-');
  const src = path.join(images, 'src');
  await mkdir(src);
  await writeFile(path.join(src, 'vmlinuz'), 'kernel');
  const ours = path.join(images, 'osa', '1');
  assert.equal(await cachedManifest(ours), undefined, 'nothing there yet');
  await addImage({ imagesDir: images, os: 'osa', version: '1', files: [path.join(src, 'vmlinuz')], kernel: 'vmlinuz' });
  assert.equal((await cachedManifest(ours))?.kernel, 'vmlinuz', 'added here: no wait for revalidation');

  // Another process (an operator's cocoonctl on the host) swaps a version directory in.
  const theirs = path.join(images, 'osb', '2');
  assert.equal(await cachedManifest(theirs), undefined);
  const tmp = path.join(images, 'osb', '.tmp');
  await mkdir(tmp, { recursive: true });
  await writeFile(path.join(tmp, 'vmlinuz'), 'kernel');
  await writeManifest(tmp, { os: 'osb', version: '2', kernel: 'vmlinuz' });
  await rename(tmp, theirs);
  await sleep(1100);
  assert.equal((await cachedManifest(theirs))?.kernel, 'vmlinuz', 'seen after at most a second');

  // ...and removes it again.
  await rm(theirs, { recursive: true });
  await sleep(1100);
  assert.equal(await cachedManifest(theirs), undefined, 'a removed version is forgotten');
});
