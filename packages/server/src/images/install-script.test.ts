// The first-stage install script (templates/first-stage/install.sh.njk) run by busybox sh in a
// sandbox: a fixture /sys and /proc, a sparse file as the disk, busybox applets as the only tools
// (plus node for the agent bundle), and a real boot server stand-in on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile, open } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import nunjucks from 'nunjucks';
import { AGENT_BUNDLE, MiB, REPO, runScript, sandbox } from './first-stage-sandbox.js';
import yaml from 'js-yaml';

const IGNITION = JSON.stringify({ ignition: { version: '3.4.0' }, passwd: { users: [{ name: 'core' }] } });

function renderer(): (ctx: Record<string, unknown>) => string {
  // Same settings as the server's template environment (render/): undefined output is an error.
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(path.join(REPO, 'templates')), {
    autoescape: false, throwOnUndefined: true, trimBlocks: true, lstripBlocks: true,
  });
  env.addFilter('shquote', (v: unknown) => `'${String(v).replace(/'/g, `'\\''`)}'`);
  return (ctx) => env.render('first-stage/install.sh.njk', ctx);
}

interface Report { path: string; body: unknown }

interface BootServer { server: Server; url: string; reports: Report[]; enrollments: unknown[]; image: Buffer }

async function bootServer(opts: { image: Buffer; imageName: string; sha256: string; os: string; render: (ctx: Record<string, unknown>) => string }): Promise<BootServer> {
  const reports: Report[] = [];
  const enrollments: unknown[] = [];
  const agent = await readFile(AGENT_BUNDLE);
  let url = '';
  // The image is read per request, so a test can swap what the server serves.
  const result: BootServer = { server: undefined as unknown as Server, url: '', reports, enrollments, image: opts.image };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d));
    req.on('end', () => {
      const p = req.url ?? '';
      if (req.method === 'GET' && p === '/first-stage/vm-0042') {
        res.end(opts.render(enrolledContext(url, opts)));
      } else if (req.method === 'GET' && p.startsWith('/first-stage/')) {
        res.end(opts.render(unknownContext(url, decodeURIComponent(p.slice('/first-stage/'.length)))));
      } else if (req.method === 'GET' && p === '/agent/cocoon-agent.js') {
        res.end(agent);
      } else if (req.method === 'POST' && p === '/enroll') {
        enrollments.push(JSON.parse(body));
        res.writeHead(200, { 'content-type': 'application/json', 'cocoon-serial': 'vm-0042' }).end(IGNITION);
      } else if (req.method === 'GET' && p === `/images/vm-0042/${opts.imageName}`) {
        res.writeHead(200, { 'content-length': result.image.length }).end(result.image);
      } else if (req.method === 'POST' && p.startsWith('/machines/')) {
        reports.push({ path: p, body: JSON.parse(body) });
        res.writeHead(204).end();
      } else {
        res.writeHead(404).end('not found');
      }
    });
  });
  result.server = server;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  result.url = url;
  return result;
}

function unknownContext(url: string, serial: string): Record<string, unknown> {
  return { machine: { Serial: serial }, enrolled: false, os: null, urls: { boot: url }, install: { disk: '' } };
}

function enrolledContext(url: string, o: { imageName: string; sha256: string; image: Buffer; os: string }): Record<string, unknown> {
  return {
    machine: { Serial: 'vm-0042' },
    enrolled: true,
    os: { name: o.os, version: '1' },
    urls: { boot: url },
    install: { disk: '', image: { file: o.imageName, sha256: o.sha256, size: o.image.length } },
  };
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

test('unknown machine: enrolls, re-reads its parameters, streams + verifies the image onto the smallest free disk, places the config, reports installed, reboots', async (t) => {
  const sb = await sandbox(t);
  const raw = randomBytes(3 * MiB + 123);
  const image = gzipSync(raw);
  const render = renderer();
  const srv = await bootServer({ image, imageName: 'standin.img.gz', sha256: sha256(image), os: 'standin', render });
  t.after(() => new Promise<void>((r) => srv.server.close(() => r())));
  const script = path.join(sb.dir, 'first-stage.sh');
  await writeFile(script, render(unknownContext(srv.url, 'to-be-filled-by-o-e-m')));

  const r = await runScript(sb, script);
  assert.equal(r.code, 0, r.stderr);

  // vdb is smaller but holds the running environment, sdb is removable: vda is the target.
  const disk = await readFile(sb.disk);
  assert.equal(disk.length, 64 * MiB, 'the disk keeps its size');
  assert.ok(disk.subarray(0, raw.length).equals(raw), 'the image is on the disk');
  const tail = disk.subarray(disk.length - MiB);
  const header = `COCOON-CONFIG ${IGNITION.length}\n`;
  assert.equal(tail.subarray(0, header.length + IGNITION.length).toString(), header + IGNITION);
  assert.ok(tail.subarray(header.length + IGNITION.length).every((b) => b === 0));
  assert.ok((await readFile(path.join(sb.devDir, 'vdb'))).every((b) => b === 0), 'the in-use disk is untouched');
  assert.ok(existsSync(path.join(sb.dir, 'rebooted')));

  assert.equal(srv.enrollments.length, 1);
  assert.deepEqual((srv.enrollments[0] as { serial: unknown }).serial, { product: 'To Be Filled By O.E.M.', chassis: '', board: '' });
  assert.equal((srv.enrollments[0] as { serialHint: unknown }).serialHint, 'to-be-filled-by-o-e-m');
  const messages = srv.reports.map((x) => `${x.path} ${JSON.stringify(x.body)}`);
  assert.deepEqual(messages, [
    '/machines/to-be-filled-by-o-e-m/progress {"message":"first stage started (serial to-be-filled-by-o-e-m)"}',
    '/machines/to-be-filled-by-o-e-m/progress {"message":"agent fetched; collecting hardware facts and enrolling"}',
    '/machines/vm-0042/progress {"message":"enrolled as vm-0042; final config received"}',
    `/machines/vm-0042/progress {"message":"installing standin.img.gz (sha256 ${sha256(image)}) to ${sb.disk}"}`,
    `/machines/vm-0042/progress {"message":"image written to ${sb.disk} and verified"}`,
    `/machines/vm-0042/progress {"message":"config placed in the last MiB of ${sb.disk} (the image has no OEM partition)"}`,
    '/machines/vm-0042/installed {}',
  ]);
});

test('corrupted image: checksum mismatch reports failed, wipes the disk start, never reports installed or reboots', async (t) => {
  const sb = await sandbox(t);
  const good = gzipSync(randomBytes(2 * MiB));
  const served = gzipSync(randomBytes(2 * MiB)); // valid gzip, wrong bytes
  const render = renderer();
  const srv = await bootServer({ image: served, imageName: 'standin.img.gz', sha256: sha256(good), os: 'standin', render });
  t.after(() => new Promise<void>((r) => srv.server.close(() => r())));
  const script = path.join(sb.dir, 'first-stage.sh');
  await writeFile(script, render(enrolledContext(srv.url, { imageName: 'standin.img.gz', sha256: sha256(good), image: good, os: 'standin' })));

  const r = await runScript(sb, script);
  assert.equal(r.code, 1);
  const failed = srv.reports.filter((x) => x.path.endsWith('/failed'));
  assert.deepEqual(failed, [{ path: '/machines/vm-0042/failed', body: { reason: `sha256 mismatch for standin.img.gz: got ${sha256(served)}, manifest says ${sha256(good)}` } }]);
  assert.equal(srv.reports.some((x) => x.path.endsWith('/installed')), false);
  assert.equal(existsSync(path.join(sb.dir, 'rebooted')), false);
  const disk = await readFile(sb.disk);
  assert.ok(disk.subarray(0, MiB).every((b) => b === 0), 'the start of the disk is wiped');
  assert.ok(disk.subarray(disk.length - MiB).every((b) => b === 0), 'no config was placed');

  // A truncated download: gzip fails, every stage's status is in the reason.
  srv.image = good.subarray(0, good.length >> 1);
  const r2 = await runScript(sb, script);
  assert.equal(r2.code, 1);
  const reason = (srv.reports.at(-1)!.body as { reason: string }).reason;
  assert.match(reason, new RegExp(`^writing standin.img.gz to ${sb.disk} failed: download exit 0, decompress exit [1-9]\\d*, write exit 0 \\(.*\\); sha256 ${sha256(srv.image)}, manifest says ${sha256(good)}$`));
  assert.equal(srv.reports.some((x) => x.path.endsWith('/installed')), false);
});

test('Flatcar (run by bash): the Ignition config goes to config.ign on the OEM partition; an unknown install_disk fails the step', async (t) => {
  const sb = await sandbox(t);
  const raw = randomBytes(MiB);
  const bz2 = spawnSync('bzip2', ['-c'], { input: raw, maxBuffer: 64 * MiB }).stdout;
  const render = renderer();
  const srv = await bootServer({ image: bz2, imageName: 'flatcar_production_image.bin.bz2', sha256: sha256(bz2), os: 'flatcar', render });
  t.after(() => new Promise<void>((r) => srv.server.close(() => r())));
  // The render context asks for >= 8 GiB (a Flatcar image expands to ~8.5 GB): make vda big.
  await writeFile(path.join(sb.root, 'sys/devices/pci0000:00/vda-ctrl/block/vda/size'), `${(16 * 1024 * MiB) / 512}\n`);
  const calls = path.join(sb.dir, 'calls');
  const stub = async (name: string, body: string): Promise<string> => {
    const f = path.join(sb.dir, name);
    await writeFile(f, `#!/bin/sh\necho "${name} $*" >> ${calls}\n${body}\n`, { mode: 0o755 });
    return f;
  };
  const env = {
    COCOON_REREAD: await stub('reread', ''),
    COCOON_SETTLE: await stub('settle', ''),
    COCOON_BLKID: await stub('blkid', `echo ${sb.devDir}/vda6`),
    COCOON_MOUNT: await stub('mount', ''),
    COCOON_UMOUNT: await stub('umount', ''),
  };
  const script = path.join(sb.dir, 'first-stage.sh');
  const base = enrolledContext(srv.url, { imageName: 'flatcar_production_image.bin.bz2', sha256: sha256(bz2), image: bz2, os: 'flatcar' });
  const ctx = { ...base, install: { ...(base.install as object), minDiskBytes: 8 * 1024 * MiB } };
  await writeFile(script, render(ctx));
  const r = await runScript(sb, script, env, ['/bin/bash']);
  assert.equal(r.code, 0, r.stderr);
  const work = path.join(sb.dir, 'work');
  assert.equal(await readFile(path.join(work, 'oem', 'config.ign'), 'utf8'), IGNITION);
  assert.equal(await readFile(calls, 'utf8'), [
    `reread ${sb.disk}`, 'settle ', `blkid -t LABEL=OEM -o device ${sb.disk}`, `mount ${sb.devDir}/vda6 ${work}/oem`, `umount ${work}/oem`, '',
  ].join('\n'));
  const disk = await open(sb.disk, 'r');
  const head = Buffer.alloc(raw.length);
  await disk.read(head, 0, raw.length, 0);
  await disk.close();
  assert.ok(head.equals(raw));
  assert.ok(srv.reports.some((x) => x.path === '/machines/vm-0042/installed'));
  assert.ok(srv.reports.some((x) => JSON.stringify(x.body) === `{"message":"config placed as config.ign on the OEM partition ${sb.devDir}/vda6"}`));

  // vda too small for min_disk_bytes: no disk qualifies, the step fails with the reason.
  await writeFile(path.join(sb.root, 'sys/devices/pci0000:00/vda-ctrl/block/vda/size'), `${(64 * MiB) / 512}\n`);
  const r1 = await runScript(sb, script, env, ['/bin/bash']);
  assert.equal(r1.code, 1);
  assert.deepEqual(srv.reports.at(-1), { path: '/machines/vm-0042/failed', body: { reason: `no non-removable disk of at least ${8 * 1024 * MiB + MiB} bytes that the running environment does not use` } });

  // A profile install_disk that does not exist is a failed step with the reason.
  await writeFile(script, render({ ...ctx, install: { ...(ctx.install as object), disk: '/dev/nvme9n1' } }));
  const r2 = await runScript(sb, script, env, ['/bin/bash']);
  assert.equal(r2.code, 1);
  assert.deepEqual(srv.reports.at(-1), { path: '/machines/vm-0042/failed', body: { reason: 'install_disk /dev/nvme9n1 does not exist' } });
});

test('first-stage Flatcar Ignition: one unit that fetches and runs the machine\'s first-stage script', async () => {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(path.join(REPO, 'templates')), {
    autoescape: false, throwOnUndefined: true, trimBlocks: true, lstripBlocks: true,
  });
  env.addFilter('shquote', (v: unknown) => `'${String(v).replace(/'/g, `'\\''`)}'`);
  env.addFilter('dataurl', (v: unknown) => `data:;base64,${Buffer.from(String(v)).toString('base64')}`);
  env.addFilter('json', (v: unknown) => JSON.stringify(v));
  const text = env.render('ignition/first-stage-flatcar.yaml', { urls: { firstStage: 'http://10.77.0.1:4081/first-stage/abc' } });
  const doc = yaml.load(text) as {
    ignition: { version: string };
    storage: { files: { path: string; mode: number; contents: { source: string } }[] };
    systemd: { units: { name: string; enabled: boolean; contents: string }[] };
  };
  assert.equal(doc.ignition.version, '3.4.0');
  const file = doc.storage.files[0]!;
  assert.equal(file.path, '/opt/cocoon/first-stage-bootstrap.sh');
  assert.equal(file.mode, 0o755);
  const script = Buffer.from(file.contents.source.replace('data:;base64,', ''), 'base64').toString();
  assert.match(script, /^#!\/bin\/sh\n/);
  assert.match(script, /curl -fsSL --connect-timeout 10 -o \/run\/cocoon-first-stage.sh 'http:\/\/10\.77\.0\.1:4081\/first-stage\/abc'/);
  const unit = doc.systemd.units[0]!;
  assert.deepEqual([unit.name, unit.enabled], ['cocoon-first-stage.service', true]);
  assert.match(unit.contents, /ExecStart=\/opt\/cocoon\/first-stage-bootstrap.sh/);
});

test('bootstrap line: takes cocoon.script= from the kernel command line, fetches the script and runs it', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'cocoon-bootstrap-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const served: string[] = [];
  const server = createServer((req, res) => {
    served.push(req.url ?? '');
    res.end(`echo "first stage ran for $0" > ${path.join(dir, 'ran')}\n`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/first-stage/abc`;
  for (const arg of ['cocoon.script', 'cocoon.first_stage']) {
    await writeFile(path.join(dir, 'cmdline'), `BOOT_IMAGE=vmlinuz console=ttyS0 cocoon.server=http://x ${arg}=${url} quiet\n`);
    // The bootstrap reads /proc/cmdline and works in /tmp/cocoon: point both into the sandbox.
    const text = (await readFile(path.join(REPO, 'templates/first-stage/bootstrap.sh'), 'utf8'))
      .replaceAll('/tmp/cocoon', path.join(dir, 'work'))
      .replaceAll('/proc/cmdline', path.join(dir, 'cmdline'));
    await writeFile(path.join(dir, 'bootstrap.sh'), text);
    const r = await new Promise<number | null>((resolve) => spawn('busybox', ['sh', path.join(dir, 'bootstrap.sh')], { stdio: 'ignore', timeout: 60_000 }).on('close', resolve));
    assert.equal(r, 0);
    assert.equal(await readFile(path.join(dir, 'ran'), 'utf8'), `first stage ran for ${path.join(dir, 'work', 'first-stage.sh')}\n`);
    await rm(path.join(dir, 'ran'));
  }
  assert.deepEqual(served, ['/first-stage/abc', '/first-stage/abc']);
});
