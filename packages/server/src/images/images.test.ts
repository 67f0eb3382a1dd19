import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile, appendFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseConfig } from '../config/load.js';
import type { CocoonConfig } from '../config/types.js';
import { addImage, listImages, verifyImage } from './catalog.js';
import { parseDigests } from './digests.js';
import { FLATCAR_FILES, fetchFlatcar, type FetchProgress } from './fetch-flatcar.js';
import { readManifest } from './manifest.js';
import { installImageFor, osFor, resolveImageFile } from './resolve.js';

const hex = (algo: string, data: Buffer): string => createHash(algo).update(data).digest('hex');

/** A release directory in Flatcar's layout: files, <file>.DIGESTS (MD5/SHA1/SHA512), version.txt. */
async function flatcarRelease(root: string, version: string, tamper?: string): Promise<Record<string, Buffer>> {
  const dir = path.join(root, version);
  await mkdir(dir, { recursive: true });
  const contents: Record<string, Buffer> = {};
  for (const file of Object.values(FLATCAR_FILES)) {
    const data = randomBytes(file === FLATCAR_FILES.install ? 300_000 : 40_000);
    contents[file] = data;
    const digests = ['# MD5 HASH', `${hex('md5', data)}  ${file}`, '# SHA1 HASH', `${hex('sha1', data)}  ${file}`, '# SHA512 HASH', `${hex('sha512', data)}  ${file}`, ''].join('\n');
    await writeFile(path.join(dir, `${file}.DIGESTS`), digests);
    const served = Buffer.from(data);
    if (file === tamper) served[1000] = served[1000]! ^ 0xff;
    await writeFile(path.join(dir, file), served);
  }
  await writeFile(path.join(dir, 'version.txt'), `FLATCAR_BUILD=9999\nFLATCAR_VERSION=${version}\n`);
  return contents;
}

async function serveDir(root: string): Promise<{ server: Server; url: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const file = path.join(root, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    stat(file).then(
      (st) => {
        res.writeHead(200, { 'content-length': st.size });
        createReadStream(file).pipe(res);
      },
      () => res.writeHead(404).end('not found'),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/amd64-usr`, requests };
}

async function sandbox(t: { after: (fn: () => Promise<void>) => void }): Promise<{ dir: string; images: string; mirror: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'cocoon-images-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const images = path.join(dir, 'images');
  await mkdir(images);
  return { dir, images, mirror: path.join(dir, 'mirror', 'amd64-usr') };
}

function configFor(dir: string, images: string): CocoonConfig {
  return parseConfig(
    {
      network: { pxe_interface: 'br0', bind_addr: '10.0.0.1', bootstrap_range: { start: '10.0.0.100', end: '10.0.0.150' }, ip_range: { start: '10.0.1.10', end: '10.0.1.20' } },
      profiles: [{ name: 'workers', os: { name: 'flatcar', version: '3975.2.0', channel: 'stable' } }, { name: 'default' }],
      default_os: { name: 'flatcar', version: '3815.2.5', channel: 'stable' },
      auth: { mode: 'none' },
      paths: { images_dir: images },
    },
    path.join(dir, 'config.yaml'),
  );
}

test('fetchFlatcar downloads kernel, initrd and install image, checks the DIGESTS and writes the manifest', async (t) => {
  const { dir, images, mirror } = await sandbox(t);
  const release = await flatcarRelease(mirror, '3975.2.0');
  const { server, url, requests } = await serveDir(path.dirname(mirror));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const progress: FetchProgress[] = [];
  const result = await fetchFlatcar({ channel: 'stable', version: '3975.2.0', baseUrl: url, dest: images, onProgress: (p) => progress.push(p) });

  assert.equal(result.dir, path.join(images, 'flatcar', '3975.2.0'));
  assert.equal(result.signatures, 'not checked: no GPG keyring configured');
  const manifest = await readManifest(result.dir);
  assert.deepEqual(manifest, result.manifest);
  assert.equal(manifest?.install, 'flatcar_production_image.bin.bz2');
  assert.equal(manifest?.kernel, 'flatcar_production_pxe.vmlinuz');
  assert.equal(manifest?.initrd, 'flatcar_production_pxe_image.cpio.gz');
  for (const [file, data] of Object.entries(release)) {
    assert.deepEqual(manifest?.files[file], { sha256: hex('sha256', data), size: data.length });
  }
  assert.match(manifest?.source ?? '', /digests: sha1, sha512; signatures: not checked/);
  assert.ok(requests.includes('/amd64-usr/3975.2.0/flatcar_production_image.bin.bz2.DIGESTS'));
  const done = progress.filter((p) => p.phase === 'done').map((p) => p.file);
  assert.deepEqual(done, Object.values(FLATCAR_FILES));
  const last = progress.filter((p) => p.phase === 'download' && p.file === FLATCAR_FILES.install).pop();
  assert.deepEqual([last?.bytes, last?.total], [300_000, 300_000]);
  // Nothing temporary is left beside the version.
  assert.deepEqual(await readdir(path.join(images, 'flatcar')), ['3975.2.0']);

  const config = configFor(dir, images);
  const file = await resolveImageFile(config, { Profile: 'workers' }, 'flatcar_production_image.bin.bz2');
  assert.deepEqual(file, {
    path: path.join(result.dir, 'flatcar_production_image.bin.bz2'),
    size: 300_000,
    sha256: hex('sha256', release['flatcar_production_image.bin.bz2']!),
    os: 'flatcar',
    version: '3975.2.0',
  });
  assert.deepEqual(await installImageFor(config, { Profile: 'workers' }), {
    name: 'flatcar_production_image.bin.bz2', sha256: file?.sha256, size: 300_000, os: 'flatcar', version: '3975.2.0', minDiskBytes: 8 * 1024 ** 3,
  });

  assert.deepEqual(await verifyImage(images, 'flatcar', '3975.2.0'), { ok: true, checked: 6, problems: [] });
  await appendFile(path.join(result.dir, FLATCAR_FILES.kernel), 'x');
  const bad = await verifyImage(images, 'flatcar', '3975.2.0');
  assert.equal(bad.ok, false);
  assert.deepEqual(bad.problems, [`${FLATCAR_FILES.kernel}: size 40001, manifest says 40000`]);

  const list = await listImages(images);
  assert.equal(list.length, 1);
  assert.deepEqual({ ...list[0], createdAt: undefined }, {
    os: 'flatcar', version: '3975.2.0', layout: 'cocoon', channel: 'stable', createdAt: undefined, files: 6, bytes: Object.values(manifest!.files).reduce((n, f) => n + f.size, 0), install: 'flatcar_production_image.bin.bz2',
  });
});

test('a download that does not match the published digest is rejected and leaves nothing behind', async (t) => {
  const { images, mirror } = await sandbox(t);
  await flatcarRelease(mirror, '3975.2.0', FLATCAR_FILES.install);
  const { server, url } = await serveDir(path.dirname(mirror));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  await assert.rejects(fetchFlatcar({ channel: 'stable', version: '3975.2.0', baseUrl: url, dest: images }), (err: Error) => {
    assert.match(err.message, /^flatcar_production_image\.bin\.bz2: sha1 [0-9a-f]+ does not match the published [0-9a-f]+/);
    return true;
  });
  assert.deepEqual(await readdir(path.join(images, 'flatcar')), []);
  await assert.rejects(fetchFlatcar({ channel: 'stable', version: '1.2.3', baseUrl: url, dest: images }), /GET .*\/1\.2\.3\/flatcar_production_pxe\.vmlinuz\.DIGESTS: HTTP 404/);
  await assert.rejects(fetchFlatcar({ channel: 'stable', version: '../x', baseUrl: url, dest: images }), /is not a version/);
});

test('the OS version is override > machine > profile > default', async (t) => {
  const { dir, images } = await sandbox(t);
  const config = configFor(dir, images);
  assert.deepEqual(osFor(config, undefined), { name: 'flatcar', version: '3815.2.5', channel: 'stable' });
  assert.deepEqual(osFor(config, { Profile: 'workers' }), { name: 'flatcar', version: '3975.2.0', channel: 'stable' });
  assert.deepEqual(osFor(config, { Profile: 'workers', OSVersion: '4000.0.0' }), { name: 'flatcar', version: '4000.0.0', channel: 'stable' });
  assert.deepEqual(osFor(config, { Profile: 'workers', OSVersion: '4000.0.0', Overrides: { OSVersion: '4010.1.0' } }), { name: 'flatcar', version: '4010.1.0', channel: 'stable' });
  assert.deepEqual(osFor(config, { Overrides: { CoreOSVersion: '1068.2.0', OSName: 'coreos' } }), { name: 'coreos', version: '1068.2.0' });
  assert.deepEqual(osFor(config, { OSName: 'standin', OSVersion: '1' }), { name: 'standin', version: '1' });
});

test('only manifest-listed names resolve, never a path outside images_dir; mayu layout serves its fixed names', async (t) => {
  const { dir, images } = await sandbox(t);
  const config = configFor(dir, images);
  const src = path.join(dir, 'src');
  await mkdir(src);
  await writeFile(path.join(src, 'disk.img.gz'), 'disk image');
  await writeFile(path.join(src, 'vmlinuz'), 'kernel');
  await addImage({ imagesDir: images, os: 'standin', version: '1', files: [path.join(src, 'disk.img.gz'), path.join(src, 'vmlinuz')], install: 'disk.img.gz', kernel: 'vmlinuz' });
  const machine = { OSName: 'standin', OSVersion: '1' };
  assert.equal((await resolveImageFile(config, machine, 'disk.img.gz'))?.size, 10);
  // On disk but not in the manifest, or not a plain name: 404.
  await writeFile(path.join(images, 'standin', '1', 'extra'), 'x');
  await writeFile(path.join(dir, 'secret'), 'x');
  for (const name of ['extra', 'manifest.json', '../../../secret', '..', '.hidden', 'a/b']) {
    assert.equal(await resolveImageFile(config, machine, name), undefined, name);
  }
  // A listed name that is a symlink out of images_dir does not resolve either.
  await rm(path.join(images, 'standin', '1', 'vmlinuz'));
  await symlink(path.join(dir, 'secret'), path.join(images, 'standin', '1', 'vmlinuz'));
  assert.equal(await resolveImageFile(config, machine, 'vmlinuz'), undefined);
  // A version that does not exist resolves nothing.
  assert.equal(await resolveImageFile(config, { OSName: 'standin', OSVersion: '2' }, 'disk.img.gz'), undefined);

  // mayu: images/<version>/coreos_production_* without a manifest.
  await mkdir(path.join(images, '1068.2.0'));
  await writeFile(path.join(images, '1068.2.0', 'coreos_production_image.bin.bz2'), 'coreos');
  await writeFile(path.join(images, '1068.2.0', 'other'), 'x');
  const mayuMachine = { OSName: 'coreos', OSVersion: '1068.2.0' };
  assert.deepEqual(await resolveImageFile(config, mayuMachine, 'coreos_production_image.bin.bz2'), {
    path: path.join(images, '1068.2.0', 'coreos_production_image.bin.bz2'), size: 6, os: 'coreos', version: '1068.2.0',
  });
  assert.equal(await resolveImageFile(config, mayuMachine, 'other'), undefined);
  const list = await listImages(images);
  assert.deepEqual(list.map((i) => [i.os, i.version, i.layout, i.files, i.problem]), [
    ['coreos', '1068.2.0', 'mayu', 1, 'no manifest.json (files are served without checksums)'],
    ['standin', '1', 'cocoon', 2, undefined],
  ]);
});

test('DIGESTS parsing takes every algorithm section', () => {
  const t = parseDigests('# MD5 HASH\naa  f\n# SHA1 HASH\nbb  f\n# SHA512 HASH\ncc  f\ndd  g\n');
  assert.deepEqual([...t.get('f')!.entries()], [['md5', 'aa'], ['sha1', 'bb'], ['sha512', 'cc']]);
  assert.deepEqual([...t.get('g')!.entries()], [['sha512', 'dd']]);
});

test('with a GPG keyring configured, every file\'s .sig is checked with gpgv', async (t) => {
  const { dir, images, mirror } = await sandbox(t);
  const gnupg = path.join(dir, 'gnupg');
  await mkdir(gnupg, { mode: 0o700 });
  const gpg = (...args: string[]): string => {
    const r = spawnSync('gpg', ['--batch', '--homedir', gnupg, '--pinentry-mode', 'loopback', '--passphrase', '', ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  // gpg starts an agent for the home dir: stop it on every exit path.
  t.after(() => void spawnSync('gpgconf', ['--homedir', gnupg, '--kill', 'gpg-agent']));
  gpg('--quick-gen-key', 'Cocoon Test Release <release@example.invalid>', 'ed25519', 'sign', 'never');
  const keyring = path.join(dir, 'release.gpg');
  await writeFile(keyring, spawnSync('gpg', ['--batch', '--homedir', gnupg, '--export'], { maxBuffer: 1 << 20 }).stdout);
  await flatcarRelease(mirror, '3975.2.0');
  for (const file of Object.values(FLATCAR_FILES)) {
    const f = path.join(mirror, '3975.2.0', file);
    gpg('--detach-sign', '--output', `${f}.sig`, f);
  }
  const { server, url } = await serveDir(path.dirname(mirror));
  t.after(() => new Promise<void>((r) => server.close(() => r())));

  const ok = await fetchFlatcar({ channel: 'stable', version: '3975.2.0', baseUrl: url, dest: images, gpgKeyring: keyring });
  assert.equal(ok.signatures, `verified with ${keyring}`);
  assert.match(ok.manifest.source ?? '', /signatures: verified with /);

  // A signature by another key (here: the initrd's signature for the install image) fails.
  const install = path.join(mirror, '3975.2.0', FLATCAR_FILES.install);
  gpg('--yes', '--detach-sign', '--output', `${install}.sig`, path.join(mirror, '3975.2.0', FLATCAR_FILES.initrd));
  await assert.rejects(
    fetchFlatcar({ channel: 'stable', version: '3975.2.0', baseUrl: url, dest: images, gpgKeyring: keyring }),
    /^CocoonError: flatcar_production_image\.bin\.bz2: GPG signature check failed: .*BAD signature/,
  );
  // The earlier, verified version is still in place.
  assert.deepEqual(await readdir(path.join(images, 'flatcar')), ['3975.2.0']);
  assert.deepEqual(await verifyImage(images, 'flatcar', '3975.2.0'), { ok: true, checked: 9, problems: [] });
});
