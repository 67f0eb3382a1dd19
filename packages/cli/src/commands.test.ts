// Every cocoonctl command against the real Cocoon server (API and boot ports on loopback, port 0,
// a temporary cluster directory, no dnsmasq), run as a real child process.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, readConfigFile } from '@cocoon/server/config';
import { ADMIN_TOKEN, agentFacts, READ_TOKEN, startTestServer, testConfigDoc, type TestServer } from '@cocoon/server/http/testing';
import type { HistoryEntry, MachineRecord } from '@cocoon/server/store/types';
import { parseJson, runCtl, runCtlOnTty, type CtlResult } from './testing/run-ctl.js';

let dir = '';
let server: TestServer;
let api: string[] = [];
let admin: string[] = [];

/** Enrolls a machine the way its agent does: POST of its hardware facts to the boot port. */
async function enroll(serial: string, n: number): Promise<void> {
  const body = JSON.stringify(agentFacts(serial, `52:54:00:00:10:0${n}`));
  const res = await fetch(`${server.bootUrl}/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  assert.equal(res.status, 200, await res.text());
  await res.arrayBuffer().catch(() => undefined);
}

function ctl(...args: string[]): Promise<CtlResult> {
  return runCtl([...args, ...admin]);
}

async function machine(serial: string): Promise<MachineRecord> {
  const r = await ctl('status', serial, '--json', '--events', '0');
  assert.equal(r.code, 0, r.stderr);
  return parseJson<{ machine: MachineRecord }>(r).machine;
}

function ok(r: CtlResult): CtlResult {
  assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'cocoonctl-server-'));
  // A rescue image, so `rescue` can be requested (the server refuses it without one).
  server = await startTestServer((doc) => {
    doc['rescue'] = { kernel: 'rescue/vmlinuz', initrds: ['rescue/initrd.gz'] };
  });
  api = ['--endpoint', server.apiUrl];
  admin = [...api, '--token', ADMIN_TOKEN];
  // Enrolled out of address order, so sorting is visible: srv-c gets the first address.
  await enroll('srv-c', 3);
  await enroll('srv-a', 1);
  await enroll('srv-b', 2);
});

after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('reading', () => {
  test('list: aligned table sorted by IP; --json array; --fields; --state and --profile filters', async () => {
    const table = ok(await ctl('list')).stdout.trimEnd().split('\n');
    assert.match(table[0] ?? '', /^IP\s+SERIAL\s+PROFILE\s+IPMI\s+PROVIDER ID\s+ETCD TOKEN\s+METADATA\s+OS VERSION\s+STATE\s+LAST BOOT$/);
    assert.equal(table.length, 4);
    const serialCol = (table[0] ?? '').indexOf('SERIAL');
    assert.deepEqual(table.slice(1).map((l) => l.slice(serialCol).split(/\s+/)[0]), ['srv-c', 'srv-a', 'srv-b']);

    const all = parseJson<MachineRecord[]>(ok(await ctl('list', '--json')));
    assert.deepEqual(all.map((m) => m.Serial), ['srv-c', 'srv-a', 'srv-b']);
    assert.deepEqual(all.map((m) => m.InternalAddr), ['10.99.1.10', '10.99.1.11', '10.99.1.12']);
    assert.ok(all.every((m) => m.State === 'installing'));

    assert.equal(ok(await ctl('list', '--fields', 'serial,state')).stdout, 'SERIAL  STATE\nsrv-c   installing\nsrv-a   installing\nsrv-b   installing\n');
    assert.deepEqual(parseJson<MachineRecord[]>(ok(await ctl('list', '--json', '--profile', 'control'))).map((m) => m.Serial), ['srv-c', 'srv-a']);
    assert.deepEqual(parseJson<MachineRecord[]>(ok(await ctl('list', '--json', '--state', 'running'))), []);
  });

  test('status: the record, hardware summary and recent events', async () => {
    const human = ok(await ctl('status', 'srv-a')).stdout;
    assert.match(human, /^Serial:\s+srv-a$/m);
    assert.match(human, /^IP:\s+10\.99\.1\.11$/m);
    assert.match(human, /^ {2}CPU:\s+QEMU Virtual CPU, 1 socket, 2 cores, 2 threads$/m);
    assert.match(human, /^ {2}Memory:\s+2\.0 GiB$/m);
    assert.match(human, /^Recent events\n.*enrolled/m);
    const json = parseJson<{ machine: MachineRecord; timeline: { type: string }[] }>(ok(await ctl('status', 'srv-a', '--json')));
    assert.equal(json.machine.Serial, 'srv-a');
    assert.deepEqual(json.machine.MacAddresses, ['52:54:00:00:10:01']);
    assert.ok(json.timeline.some((e) => e.type === 'enrolled'), JSON.stringify(json.timeline));
  });

  test('render: the iPXE script and the Ignition config the machine would get', async () => {
    assert.match(ok(await ctl('render', 'srv-a', 'ipxe')).stdout, /^#!ipxe/);
    const ign = parseJson<{ contentType: string; body: string }>(ok(await ctl('render', 'srv-a', 'ignition', '--json')));
    assert.match(ign.contentType, /json/);
    assert.match((JSON.parse(ign.body) as { ignition: { version: string } }).ignition.version, /^3\./);
  });

  test('status without a serial: the server', async () => {
    const text = ok(await ctl('status')).stdout;
    assert.match(text, /^Server:\s+cocoon 0\.1\.0 \(node 20\./m);
    assert.match(text, /^Machines:\s+3 \(3 installing\)$/m);
    assert.match(text, /^dnsmasq:\s+disabled \(HTTP only\)$/m);
    const json = parseJson<{ machines: { total: number } }>(ok(await ctl('status', '--json')));
    assert.equal(json.machines.total, 3);
  });

  test('version: client and server', async () => {
    const v = parseJson<{ client: string; server: string }>(ok(await ctl('version', '--json')));
    assert.equal(v.client, '0.1.0');
    assert.equal(v.server, '0.1.0');
    assert.match(ok(await ctl('version')).stdout, /^client: cocoonctl 0\.1\.0 .*\nserver: cocoon 0\.1\.0\n$/);
  });
});

describe('changing', () => {
  test('set: every operator field, then the record shows it', async () => {
    ok(await ctl('set', 'srv-b', 'providerid', 'rack-7/b'));
    ok(await ctl('set', 'srv-b', 'ipmiaddr', '10.98.0.7'));
    ok(await ctl('set', 'srv-b', 'metadata', 'role=worker,zone=a', '--reason', 'placement'));
    ok(await ctl('set', 'srv-b', 'cabinet', '7'));
    ok(await ctl('set', 'srv-b', 'machineoncabinet', '12'));
    ok(await ctl('set', 'srv-b', 'etcdtoken', 'tok123'));
    const m = parseJson<MachineRecord>(ok(await ctl('set', 'srv-b', 'state', 'failed', '--reason', 'disk errors', '--json')));
    assert.equal(m.State, 'failed');
    const after = await machine('srv-b');
    assert.deepEqual(
      [after.ProviderId, after.IPMIAddr, after.FleetMetadata, after.Cabinet, after.MachineOnCabinet, after.EtcdClusterToken, after.State, after.StateReason],
      ['rack-7/b', '10.98.0.7', ['role=worker', 'zone=a'], 7, 12, 'tok123', 'failed', 'disk errors'],
    );
    const row = ok(await ctl('list', '--state', 'failed', '--fields', 'serial,ipmi,providerid,etcdtoken,metadata')).stdout;
    assert.equal(row.split('\n')[1], 'srv-b   10.98.0.7  rack-7/b     tok123      role=worker,zone=a');
  });

  test('set: an invalid field or value is refused locally with the allowed set (exit 2)', async () => {
    const before = await machine('srv-c');
    const bad = await ctl('set', 'srv-c', 'state', 'sleeping', '--reason', 'x');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /allowed: unknown, configured, installing, installed, running, failed/);
    const field = await ctl('set', 'srv-c', 'colour', 'red');
    assert.equal(field.code, 2);
    assert.match(field.stderr, /Choices: "state", "profile", "providerid"/);
    assert.equal((await ctl('set', 'srv-c', 'cabinet', 'seven')).code, 2);
    assert.equal((await ctl('set', 'srv-c', 'state', 'running')).code, 2, 'state without --reason');
    assert.deepEqual(await machine('srv-c'), before);
  });

  test('set profile to one the server does not know: exit 1 with the server\'s reason', async () => {
    const r = await ctl('set', 'srv-c', 'profile', 'nosuchprofile');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^cocoonctl: .*\(HTTP 4\d\d\): .*nosuchprofile/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });

  test('override and override --unset', async () => {
    const set = parseJson<MachineRecord>(ok(await ctl('override', 'srv-a', 'ntp_server', '10.0.0.1', '--json')));
    assert.equal(set.Overrides['ntp_server'], '10.0.0.1');
    const typed = parseJson<MachineRecord>(ok(await ctl('override', 'srv-a', 'disks', '["vda"]', '--json-value', '--json')));
    assert.deepEqual(typed.Overrides['disks'], ['vda']);
    ok(await ctl('override', '--unset', 'srv-a', 'ntp_server'));
    assert.deepEqual((await machine('srv-a')).Overrides, { disks: ['vda'] });
    assert.equal((await ctl('override', 'srv-a', 'k')).code, 2, 'value missing');
    assert.equal((await ctl('override', '--unset', 'srv-a', 'k', 'v')).code, 2, 'value with --unset');
  });

  test('reinstall needs a reason; history shows it, with --patch and --limit', async () => {
    const missing = await ctl('reinstall', 'srv-a');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /Missing required argument: reason/);
    ok(await ctl('reinstall', 'srv-a', '--reason', 'new disk layout'));
    assert.equal((await machine('srv-a')).State, 'configured');

    const history = parseJson<HistoryEntry[]>(ok(await ctl('history', 'srv-a', '--json')));
    assert.match(history[0]?.message ?? '', /srv-a: .*configured[\s\S]*operator: alice[\s\S]*reason: new disk layout/);
    assert.ok(history.length >= 3, 'enrolled, overrides, reinstall');
    const one = parseJson<HistoryEntry[]>(ok(await ctl('history', 'srv-a', '--json', '--limit', '1', '--patch')));
    assert.equal(one.length, 1);
    assert.match(one[0]?.patch ?? '', /^[-+].*"State": "configured"/m);
    const text = ok(await ctl('history', 'srv-a', '-n', '1', '-p')).stdout;
    assert.match(text, /^commit [0-9a-f]{40}\nAuthor: .*\nDate: {3}\S+\n\n {4}srv-a: /);
  });

  test('boot-complete reads os-release and the installer env file and reports to the boot port', async () => {
    ok(await ctl('set', 'srv-c', 'state', 'installed', '--reason', 'test: pretend the install finished'));
    const osRelease = path.join(dir, 'os-release');
    const envFile = path.join(dir, 'machine.env');
    writeFileSync(osRelease, 'NAME="Flatcar Container Linux by Kinvolk"\nID=flatcar\nVERSION_ID=4000.0.0\nBUILD_ID=2026-01-01\n');
    writeFileSync(envFile, `# written by the installer\nCOCOON_SERVER=${server.bootUrl}\nCOCOON_SERIAL=srv-c\n`);
    const r = ok(await runCtl(['boot-complete', '--os-release', osRelease, '--env-file', envFile, '--set-version', 'docker=24.0.9']));
    assert.match(r.stdout, /^srv-c: boot-complete reported to http:\/\/127\.0\.0\.1:\d+\n$/);
    const m = await machine('srv-c');
    assert.equal(m.State, 'running');
    assert.equal(m.CoreOSVersion, '4000.0.0');
    assert.equal(m.DockerVersion, '24.0.9');
    assert.equal(m.BootCount, 1);
    assert.match(ok(await ctl('status', 'srv-c')).stdout, /^Reported:\s+docker 24\.0\.9, os-id flatcar, os-build 2026-01-01, kernel \S+$/m);
    const unknown = await runCtl(['boot-complete', '--os-release', osRelease, '--server', server.bootUrl, '--serial', 'nobody', '--retry-for', '0']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /Not Found \(HTTP 404\)/);
  });

  test('rescue and add (declare a machine by MAC)', async () => {
    assert.equal((await ctl('rescue', 'srv-a')).code, 2, 'reason required');
    const r = parseJson<MachineRecord>(ok(await ctl('rescue', 'srv-a', '--reason', 'memtest', '--json')));
    assert.equal(r.RescuePending, true);
    assert.match(ok(await ctl('status', 'srv-a')).stdout, /^Rescue:\s+pending \(next boot\)$/m);

    const bad = await ctl('add', '--mac', '52:54:00:zz:00:01');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--mac: "52:54:00:zz:00:01" is not a MAC address/);
    const added = ok(await ctl('add', '--mac', '52:54:00:aa:00:01', '--serial', 'rack1-u7', '--ip', '10.99.1.200', '--hostname', 'worker-7', '--reason', 'racked'));
    assert.match(added.stdout, /^rack1-u7: declared \(MAC 52:54:00:aa:00:01, IP 10\.99\.1\.200/);
    const m = await machine('rack1-u7');
    assert.deepEqual([m.MacAddresses, m.InternalAddr, m.Hostname, m.Declared], [['52:54:00:aa:00:01'], '10.99.1.200', 'worker-7', true]);
    const dup = await ctl('add', '--mac', '52:54:00:aa:00:02', '--ip', '10.99.1.200');
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /^cocoonctl: Conflict \(HTTP 409\): .*10\.99\.1\.200/);
    const confirmed = await runCtlOnTty(['decommission', 'rack1-u7', '--reason', 'test cleanup', ...admin], 'rack1-u7\n');
    assert.equal(confirmed.code, 0, confirmed.stdout);
    assert.match(confirmed.stdout, /rack1-u7: decommissioned/);
  });

  test('decommission: --yes needed without a terminal; afterwards the machine is gone (404, exit 1)', async () => {
    const noTty = await ctl('decommission', 'srv-b', '--reason', 'retired');
    assert.equal(noTty.code, 2);
    assert.match(noTty.stderr, /stdin is not a terminal: add --yes/);
    const wrong = await runCtlOnTty(['decommission', 'srv-b', '--reason', 'retired', ...admin], 'srv-x\n');
    assert.equal(wrong.code, 1);
    assert.match(wrong.stdout, /Type the serial to confirm: [\s\S]*not confirmed; nothing changed/);
    assert.equal((await machine('srv-b')).Serial, 'srv-b');
    assert.deepEqual(parseJson(ok(await ctl('decommission', 'srv-b', '--reason', 'retired', '--yes', '--json'))), { serial: 'srv-b', decommissioned: true });
    const gone = await ctl('status', 'srv-b');
    assert.equal(gone.code, 1);
    assert.equal(gone.stdout, '');
    assert.match(gone.stderr, /^cocoonctl: Not Found \(HTTP 404\): .*srv-b.*\n$/);
  });
});

describe('errors and exit codes', () => {
  test('401 for a wrong token, 403 for a read token changing things, 2 for usage', async () => {
    const bad = await runCtl(['list', ...api, '--token', 'not-a-valid-token-at-all']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^cocoonctl: Unauthorized \(HTTP 401\): the bearer token is not valid \(set --token, COCOON_TOKEN or token in the settings file\)\n$/);
    const none = await runCtl(['list', ...api]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /HTTP 401/);
    assert.equal((await runCtl(['list', ...api], { env: { COCOON_TOKEN: READ_TOKEN } })).code, 0);
    const forbidden = await runCtl(['set', 'srv-a', 'providerid', 'x', ...api, '--token', READ_TOKEN]);
    assert.equal(forbidden.code, 1);
    assert.match(forbidden.stderr, /Forbidden \(HTTP 403\): .*scope "admin"/);
    const usage = await ctl('list', '--no-such-option');
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /Unknown argument/);
    assert.equal((await ctl('frobnicate')).code, 2);
  });

  test('--debug shows the stack of a failure', async () => {
    const r = await ctl('status', 'nobody', '--debug');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ApiError: Not Found[\s\S]*at /);
  });
});

describe('logs', () => {
  test('recent events of a machine; -f reads new events from the SSE stream', async () => {
    const recent = ok(await ctl('logs', '--serial', 'srv-a', '--json')).stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; serial: string });
    assert.ok(recent.some((e) => e.type === 'enrolled' && e.serial === 'srv-a'), JSON.stringify(recent));

    const fleet = ok(await ctl('logs', '--json', '--type', 'enrolled')).stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; serial: string });
    assert.ok(fleet.every((e) => e.type === 'enrolled'));
    for (const serial of ['srv-a', 'srv-b', 'srv-c']) assert.ok(fleet.some((e) => e.serial === serial), `${serial} in ${JSON.stringify(fleet)}`);
    const byMac = ok(await ctl('logs', '--json', '--mac', '52:54:00:00:10:01')).stdout.trim().split('\n').map((l) => JSON.parse(l) as { serial: string });
    assert.ok(byMac.length > 0 && byMac.every((e) => e.serial === 'srv-a'), JSON.stringify(byMac));

    // Follow from now; keep producing events until the follower has printed one and exited.
    const follower = ctl('logs', '-f', '--serial', 'srv-a', '--type', 'progress', '--tail', '0', '--count', '1', '--json');
    let done = false;
    void follower.then(() => (done = true));
    for (let i = 0; !done && i < 100; i++) {
      await fetch(`${server.bootUrl}/machines/srv-a/progress`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: `step ${i}` }) });
      await new Promise((r) => setTimeout(r, 100));
    }
    const r = ok(await follower);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const e = JSON.parse(lines[0] ?? '') as { type: string; serial: string; message: string };
    assert.equal(e.type, 'progress');
    assert.equal(e.serial, 'srv-a');
    assert.match(e.message, /step \d+/);
  });
});

describe('offline', () => {
  test('config validate: a good file passes; a bad one fails with the server\'s own errors', async () => {
    const good = path.join(dir, 'good.yaml');
    writeFileSync(good, JSON.stringify(testConfigDoc(dir)));
    assert.match(ok(await runCtl(['config', 'validate', good])).stdout, /^configuration .*good\.yaml is valid \(profiles: control, default; declared machines: 0\)\n$/);

    const bad = path.join(dir, 'bad.yaml');
    const doc = testConfigDoc(dir);
    writeFileSync(bad, JSON.stringify({ ...doc, network: { ...(doc.network as object), subnet_size: 40 }, profiles: [{ name: 'Bad Name' }] }));
    let expected = '';
    try {
      readConfigFile(bad);
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      expected = err.message;
    }
    assert.ok(expected, 'the server rejects the file too');
    const r = await runCtl(['config', 'validate', bad]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `${expected}\n`);
    const json = await runCtl(['config', 'validate', bad, '--json']);
    assert.equal(json.code, 1);
    assert.equal(parseJson<{ valid: boolean; problems: string[] }>(json).problems.length, (expected.match(/^ {2}- /gm) ?? []).length);
  });

  test('completion prints a shell script', async () => {
    const r = ok(await runCtl(['completion']));
    assert.match(r.stdout, /cocoonctl --get-yargs-completions/);
    const words = ok(await runCtl(['--get-yargs-completions', 'cocoonctl', 're'])).stdout.split('\n');
    assert.ok(words.includes('reinstall') && words.includes('render'), words.join(' '));
  });
});
