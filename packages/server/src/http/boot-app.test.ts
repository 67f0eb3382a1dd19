import { test, before, after } from 'node:test';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import type { Problem } from './problem.js';
import { agentFacts, json, rawRequest, startTestServer, type TestServer } from './testing.js';

let s: TestServer;
before(async () => {
  s = await startTestServer();
});
after(() => s.close());

const boot = (method: string, path: string, opts: { headers?: Record<string, string>; body?: string } = {}) => rawRequest(s.bootPort, method, path, opts);
const post = (path: string, body: unknown) => boot('POST', path, { headers: json(), body: typeof body === 'string' ? body : JSON.stringify(body) });

async function enroll(serial: string, mac: string): Promise<string> {
  const r = await post('/enroll', agentFacts(serial, mac));
  assert.equal(r.status, 200, r.text);
  return String(r.headers['cocoon-serial']);
}

test('iPXE chain and per-machine script; the request lands on the machine timeline', async () => {
  let r = await boot('GET', '/ipxe');
  assert.equal(r.status, 200);
  assert.match(r.text, /^#!ipxe/);
  assert.match(String(r.headers['content-type']), /^text\/plain/);
  r = await boot('GET', '/ipxe/machine?serial=BOOT-1&uuid=&mac=52:54:00:aa:00:01&arch=x86_64');
  assert.equal(r.status, 200, r.text);
  assert.match(r.text, /^#!ipxe/);
  // Kernel and initrd are the manifest's roles; the kernel line names the initrd (EFI) and the script.
  assert.match(r.text, /^kernel http:\/\/127\.0\.0\.1:4081\/images\/boot-1\/vmlinuz initrd=initrd\.cpio\.gz .*cocoon\.script=http:\/\/127\.0\.0\.1:4081\/first-stage\/boot-1 /m);
  assert.ok(s.events.timeline('boot-1').some((e) => e.type === 'http-boot'));
  r = await boot('GET', '/ipxe/machine?serial=0&uuid=&mac=not-a-mac');
  assert.equal(r.status, 400);
  assert.equal(r.json<Problem>().field, 'mac');
  r = await boot('GET', '/ipxe/machine?arch=../../x');
  assert.equal(r.status, 400);
});

test('first-stage script and first-stage Ignition', async () => {
  let r = await boot('GET', '/first-stage/fs-1');
  assert.equal(r.status, 200, r.text);
  assert.match(r.text, /^#!/);
  assert.match(String(r.headers['content-type']), /^text\/x-shellscript/);
  // The install image of the manifest, with the checksum the script verifies the stream against.
  const sha = createHash('sha256').update(Buffer.alloc(5000, 2)).digest('hex');
  assert.match(r.text, /^COCOON_IMAGE='install_image\.bin\.bz2'$/m);
  assert.match(r.text, new RegExp(`^COCOON_IMAGE_SHA256='${sha}'$`, 'm'));
  assert.match(r.text, /^COCOON_IMAGE_SIZE='5000'$/m);
  r = await boot('GET', '/first-stage/fs-1/ignition.json');
  assert.equal(r.status, 200, r.text);
  assert.ok(JSON.parse(r.text).ignition.version);
});

test('enrollment: record, Cocoon-Serial, final config; /config again; reports move the state', async () => {
  const r = await post('/enroll', agentFacts('ENR-1', '52:54:00:aa:01:01', { ipmiAddress: '10.0.0.9' }));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers['cocoon-serial'], 'enr-1');
  const ign = JSON.parse(r.text) as { ignition: { version: string } };
  assert.match(ign.ignition.version, /^3\./);
  const m = s.store.get('enr-1');
  assert.equal(m?.State, 'installing');
  assert.deepEqual(m?.MacAddresses, ['52:54:00:aa:01:01']);
  assert.equal(m?.IPMIAddr, '10.0.0.9');
  assert.equal((m?.Hardware as { memoryBytes?: number }).memoryBytes, 2147483648);

  const again = await boot('GET', '/config/enr-1');
  assert.equal(again.status, 200);
  assert.equal(again.text, r.text);

  assert.equal((await post('/machines/enr-1/progress', { message: 'writing disk' })).status, 204);
  assert.ok(s.events.timeline('enr-1').some((e) => e.type === 'progress' && e.message.includes('writing disk')));
  assert.equal((await post('/machines/enr-1/installed', {})).status, 204);
  assert.equal(s.store.get('enr-1')?.State, 'installed');
  assert.equal((await post('/machines/enr-1/boot-complete', { versions: { flatcar: '1.0.0' } })).status, 204);
  assert.equal(s.store.get('enr-1')?.State, 'running');
  assert.equal(s.store.get('enr-1')?.CoreOSVersion, '1.0.0');
  // An installed machine boots its disk.
  const ipxe = await boot('GET', '/ipxe/machine?serial=ENR-1&mac=52:54:00:aa:01:01');
  assert.equal(ipxe.status, 200);

  await enroll('ENR-2', '52:54:00:aa:01:02');
  assert.equal((await post('/machines/enr-2/failed', { reason: 'disk /dev/vda missing' })).status, 204);
  assert.equal(s.store.get('enr-2')?.State, 'failed');
  assert.equal(s.store.get('enr-2')?.StateReason, 'disk /dev/vda missing');
});

test('reports and config for unknown machines are 404 problems', async () => {
  for (const [method, path, body] of [
    ['GET', '/config/nobody', undefined],
    ['POST', '/machines/nobody/installed', {}],
    ['POST', '/machines/nobody/failed', { reason: 'x' }],
    ['POST', '/machines/nobody/boot-complete', {}],
  ] as const) {
    const r = body === undefined ? await boot(method, path) : await post(path, body);
    assert.equal(r.status, 404, `${method} ${path}: ${r.text}`);
    assert.match(String(r.headers['content-type']), /^application\/problem\+json/);
  }
});

test('progress before enrollment lands on the timeline of the serial the script was rendered for', async () => {
  const r = await post('/machines/early-1/progress', { message: 'first stage started' });
  assert.equal(r.status, 204);
  assert.ok(s.events.timeline('early-1').some((e) => e.type === 'progress' && e.message === 'first stage started'));
  assert.equal(s.store.get('early-1'), undefined);
});

test('bad enrollment bodies: malformed, wrong types, no NICs, bad MAC, oversized, wrong method', async () => {
  let r = await post('/enroll', '{"serial":');
  assert.equal(r.status, 400);
  assert.match(r.json<Problem>().detail, /not valid JSON/);
  r = await post('/enroll', { ...agentFacts('X', '52:54:00:00:00:09'), nics: 'eth0' });
  assert.equal(r.status, 400);
  assert.equal(r.json<Problem>().field, 'nics');
  r = await post('/enroll', { ...agentFacts('X', '52:54:00:00:00:09'), nics: [] });
  assert.equal(r.status, 400);
  r = await post('/enroll', agentFacts('X', 'zz:zz'));
  assert.equal(r.status, 400);
  assert.match(r.json<Problem>().detail, /mac/);
  r = await post('/enroll', agentFacts('../../etc', '52:54:00:00:00:09'));
  assert.equal(r.status, 400);
  r = await post('/enroll', agentFacts('X', '52:54:00:00:00:09', { pad: 'x'.repeat(70_000) }));
  assert.equal(r.status, 413);
  assert.match(String(r.headers['content-type']), /^application\/problem\+json/);
  r = await boot('GET', '/enroll');
  assert.equal(r.status, 405);
  assert.equal(r.headers['allow'], 'POST');
  r = await boot('DELETE', '/ipxe');
  assert.equal(r.status, 405);
  assert.equal(r.headers['allow'], 'GET, HEAD');
  r = await post('/machines/enr-1/failed', { reason: 5 });
  assert.equal(r.status, 400);
  assert.equal(r.json<Problem>().field, 'reason');
});

test('images: length, ETag, Range, HEAD, unknown file 404, mayu names on the mayu layout', async () => {
  await enroll('IMG-1', '52:54:00:aa:02:01');
  let r = await boot('GET', '/images/img-1/vmlinuz');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-length'], String(s.kernel.length));
  assert.ok(r.body.equals(s.kernel));
  assert.match(String(r.headers['etag']), /^"[0-9a-f]{64}"$/);
  r = await boot('GET', '/images/img-1/vmlinuz', { headers: { range: 'bytes=100-199' } });
  assert.equal(r.status, 206);
  assert.equal(r.body.length, 100);
  r = await boot('GET', '/images/img-1/vmlinuz', { headers: { range: 'bytes=999999-' } });
  assert.equal(r.status, 416);
  r = await boot('HEAD', '/images/img-1/install_image.bin.bz2');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-length'], '5000');
  assert.equal(r.body.length, 0);
  // Unknown machines (first stage before enrollment) get the default OS.
  r = await boot('GET', '/images/not-enrolled-yet/initrd.cpio.gz');
  assert.equal(r.status, 200);
  r = await boot('GET', '/images/img-1/nothing.bin');
  assert.equal(r.status, 404);
  assert.match(String(r.headers['content-type']), /^application\/problem\+json/);
  r = await boot('GET', '/images/img-1/manifest.json');
  assert.equal(r.status, 404);
  // mayu 0.11 layout: /images/<serial>/vmlinuz is coreos_production_pxe.vmlinuz of the version.
  await s.provisioner.setOverride('img-1', 'OSVersion', '0.11.0', { operator: 'test' });
  r = await boot('GET', '/images/img-1/vmlinuz');
  assert.equal(r.status, 200);
  assert.ok(r.text === 'mayu kernel', `expected mayu's kernel, got ${r.body.length} bytes`);
});

test('path traversal on every path parameter never reaches the filesystem', async () => {
  const attacks = ['..%2F..%2Fsecret.txt', '%2e%2e%2f%2e%2e%2fsecret.txt', '%252e%252e%252fsecret.txt', '..%5C..%5Csecret.txt', '.%2e/secret.txt', '%2e%2e', '..'];
  const paths: string[] = [];
  for (const a of attacks) {
    paths.push(`/images/img-1/${a}`, `/images/${a}/vmlinuz`, `/first-stage/${a}`, `/config/${a}`, `/machines/${a}/progress`, `/first-stage-script/${a}`);
  }
  paths.push('/images/img-1/../../secret.txt', '/images/img-1/sub/../../../../secret.txt', '/../secret.txt', '/images/img-1/%00');
  for (const p of paths) {
    const method = p.includes('/progress') ? 'POST' : 'GET';
    const r = await boot(method, p, method === 'POST' ? { headers: json(), body: '{"message":"x"}' } : {});
    assert.ok([400, 404, 405].includes(r.status), `${p}: ${r.status}`);
    assert.doesNotMatch(r.text, /TOP SECRET/, p);
    assert.doesNotMatch(r.text, /\/tmp\/|\bat .*\.js:\d+/, p);
  }
});

test('agent downloads; mayu boot routes (ipxebootscript, first-stage-script, hostinfo-helper)', async () => {
  let r = await boot('GET', '/agent/cocoon-agent.js');
  assert.equal(r.status, 200);
  assert.equal(r.text, 'console.log("agent")\n');
  r = await boot('HEAD', '/agent/cocoon-agent.gz');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-length'], '4');
  r = await boot('GET', '/agent/other.js');
  assert.equal(r.status, 404);
  r = await boot('GET', '/ipxebootscript');
  assert.equal(r.status, 200);
  assert.match(r.text, /^#!ipxe/);
  r = await boot('GET', '/first-stage-script/mayu-1');
  assert.equal(r.status, 200);
  assert.match(r.text, /^#!/);
  r = await boot('GET', '/hostinfo-helper');
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 4);
});

test("mayu infopusher body -> enrollment -> final Ignition; errors in mayu's plain text", async () => {
  const body = { Serial: 'MAYU-42', NetDevs: [{ Name: 'eth0', MacAddress: '52:54:00:bb:00:01' }, { Name: 'eth1', MacAddress: '52:54:00:bb:00:02' }], IPMIAddress: '10.1.1.1', ConnectedNIC: 'eth1' };
  let r = await boot('POST', '/final-ignition-config.json', { body: JSON.stringify(body) });
  assert.equal(r.status, 200, r.text);
  assert.match(JSON.parse(r.text).ignition.version, /^3\./);
  const m = s.store.get('mayu-42');
  assert.equal(m?.State, 'installing');
  assert.deepEqual(m?.MacAddresses, ['52:54:00:bb:00:01', '52:54:00:bb:00:02']);
  assert.equal(m?.ConnectedNIC, 'eth1');
  assert.equal(m?.IPMIAddr, '10.1.1.1');
  r = await boot('POST', '/final-cloud-config.yaml', { body: JSON.stringify(body) });
  assert.equal(r.status, 409);
  assert.match(String(r.headers['content-type']), /^text\/plain/);
  assert.match(r.text, /final-ignition-config\.json/);
  r = await boot('POST', '/final-ignition-config.json', { body: '{"Serial": nope' });
  assert.equal(r.status, 400);
  assert.equal(r.text, 'unable to parse json data in final config request');
  r = await boot('POST', '/final-ignition-config.json', { body: JSON.stringify({ Serial: 'x' }) });
  assert.equal(r.status, 400);
  assert.match(r.text, /NetDevs: is required/);
  r = await boot('GET', '/final-ignition-config.json');
  assert.equal(r.status, 405);
});
