import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parseJson, runCtl } from '../testing/run-ctl.js';

let dir = '';
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'cocoonctl-images-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('images add, list and verify on a real images directory; a damaged file fails verify', async () => {
  const images = path.join(dir, 'images');
  const src = ['vmlinuz', 'initrd.gz', 'disk.img.gz'].map((n) => {
    const f = path.join(dir, n);
    writeFileSync(f, `content of ${n}\n`);
    return f;
  });
  const add = await runCtl(['images', 'add', 'testos', '1.2.3', ...src, '--install', 'disk.img.gz', '--kernel', 'vmlinuz', '--images-dir', images, '--json']);
  assert.equal(add.code, 0, add.stderr);
  const manifest = parseJson<{ install: string; files: Record<string, { sha256: string }> }>(add);
  assert.equal(manifest.install, 'disk.img.gz');
  assert.equal(manifest.files['vmlinuz']?.sha256, createHash('sha256').update('content of vmlinuz\n').digest('hex'));

  const list = await runCtl(['images', 'list', '--images-dir', images, '--json']);
  assert.deepEqual(
    parseJson<{ os: string; version: string; files: number }[]>(list).map((i) => [i.os, i.version, i.files]),
    [['testos', '1.2.3', 3]],
  );
  const table = await runCtl(['images', 'list', '--images-dir', images]);
  assert.match(table.stdout, /^OS\s+VERSION\s+CHANNEL.*\ntestos\s+1\.2\.3\s+-\s+cocoon\s+3\s/);

  assert.equal((await runCtl(['images', 'verify', 'testos', '1.2.3', '--images-dir', images])).code, 0);
  appendFileSync(path.join(images, 'testos', '1.2.3', 'vmlinuz'), 'tampered');
  const bad = await runCtl(['images', 'verify', 'testos', '1.2.3', '--images-dir', images]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /image testos 1\.2\.3 is damaged:\n {2}- vmlinuz: size \d+, manifest says 19/);

  const role = await runCtl(['images', 'add', 'testos', '2', src[0] ?? '', '--install', 'nope.bin', '--images-dir', images]);
  assert.equal(role.code, 2);
  assert.match(role.stderr, /--install: "nope.bin" is not one of the files given \(vmlinuz\)/);
});

test('images fetch flatcar from a mirror checks the published digests', async () => {
  const files: Record<string, string> = {};
  for (const name of ['flatcar_production_pxe.vmlinuz', 'flatcar_production_pxe_image.cpio.gz', 'flatcar_production_image.bin.bz2']) {
    const body = `fixture ${name}\n`;
    files[`/amd64-usr/4000.0.0/${name}`] = body;
    files[`/amd64-usr/4000.0.0/${name}.DIGESTS`] = `# SHA512 HASH\n${createHash('sha512').update(body).digest('hex')}  ${name}\n`;
  }
  const mirror = http.createServer((req, res) => {
    const body = files[req.url ?? ''];
    if (body === undefined) res.writeHead(404).end();
    else res.writeHead(200, { 'content-length': Buffer.byteLength(body) }).end(body);
  });
  await new Promise<void>((r) => mirror.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(mirror.address() as AddressInfo).port}/amd64-usr`;
  try {
    // Images dir from the server configuration file, as an operator on the host would do it.
    const cfg = path.join(dir, 'config.yaml');
    writeFileSync(
      cfg,
      ['network: { pxe_interface: br0, bind_addr: 10.77.0.1, bootstrap_range: { start: 10.77.0.100, end: 10.77.0.150 }, ip_range: { start: 10.77.0.10, end: 10.77.0.60 }, subnet_size: 24 }',
        'auth: { mode: none }', 'profiles: [{ name: default }]', 'default_os: { name: flatcar, version: current }', 'paths: { cluster_dir: c, images_dir: fetched, tftp_root: t, state_dir: s }', ''].join('\n'),
    );
    const r = await runCtl(['images', 'fetch', 'flatcar', '--version', '4000.0.0', '--base-url', base, '--config', cfg]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^flatcar 4000\.0\.0 \(stable\) is in .*fetched\/flatcar\/4000\.0\.0; signatures not checked/);
    assert.equal(readFileSync(path.join(dir, 'fetched', 'flatcar', '4000.0.0', 'flatcar_production_pxe.vmlinuz'), 'utf8'), 'fixture flatcar_production_pxe.vmlinuz\n');

    files['/amd64-usr/4001.0.0/flatcar_production_pxe.vmlinuz'] = 'corrupted';
    files['/amd64-usr/4001.0.0/flatcar_production_pxe.vmlinuz.DIGESTS'] = files['/amd64-usr/4000.0.0/flatcar_production_pxe.vmlinuz.DIGESTS'] ?? '';
    const bad = await runCtl(['images', 'fetch', 'flatcar', '--version', '4001.0.0', '--base-url', base, '--config', cfg]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /flatcar_production_pxe\.vmlinuz: sha512 \w+ does not match the published/);
  } finally {
    mirror.close();
  }
});
