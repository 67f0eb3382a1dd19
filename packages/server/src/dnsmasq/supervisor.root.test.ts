import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { canUseNetns, createTestNetwork, type TestNetwork } from '../testing/netns.js';
import { waitFor } from '../testing/wait.js';
import { isRunning } from '../util/process.js';
import { DnsmasqSupervisor } from './supervisor.js';

// The supervisor alone, with dnsmasq in a namespace this test creates: exit reasons, back-off,
// and that no dnsmasq outlives its server (crash of the node process, leftover from a crash).

const skip = canUseNetns() ? false : 'needs root and iproute2 (network namespaces)';

describe('dnsmasq supervisor', { skip }, () => {
  let net: TestNetwork;
  let dir: string;
  let goodConf: string;

  before(async () => {
    net = await createTestNetwork({ purpose: 'supervisor' });
    dir = mkdtempSync(path.join(os.tmpdir(), 'cocoon-supervisor-'));
    goodConf = path.join(dir, 'good.conf');
    writeFileSync(goodConf, `port=0\ninterface=br0\nbind-interfaces\ndhcp-range=10.77.0.100,10.77.0.110,2m\ndhcp-leasefile=${dir}/leases\n`);
  });

  after(async () => {
    await net?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a bad interface: the exit reason says so, restarts back off', async () => {
    const conf = path.join(dir, 'bad.conf');
    writeFileSync(conf, 'port=0\ninterface=nosuch0\nbind-interfaces\ndhcp-range=10.77.0.100,10.77.0.110,2m\n');
    const sup = new DnsmasqSupervisor({ binary: 'dnsmasq', confFile: conf, pidFile: path.join(dir, 'bad.pid'), netns: net.ns, backoff: { initialMs: 50, maxMs: 400 } });
    try {
      await sup.start();
      const s = await waitFor('two restarts', () => sup.status().restarts >= 2 && sup.status());
      assert.match(s.lastExit?.reason ?? '', /^bad interface: unknown interface nosuch0 \(exit code \d+\)$/);
    } finally {
      await sup.stop();
    }
    assert.equal(sup.status().state, 'stopped');
  });

  test('stop() ends dnsmasq and it is not restarted', async () => {
    const sup = new DnsmasqSupervisor({ binary: 'dnsmasq', confFile: goodConf, pidFile: path.join(dir, 'stop.pid'), netns: net.ns });
    await sup.start();
    const pid = sup.pid!;
    assert.ok(isRunning(pid));
    await sup.stop();
    assert.equal(isRunning(pid), false);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(sup.status().restarts, 0);
    assert.equal(sup.pid, undefined);
  });

  test('dnsmasq dies with a crashed server (SIGKILL of node), and a leftover is stopped at the next start', async () => {
    const pidFile = path.join(dir, 'crash.pid');
    const script = path.join(dir, 'server.mjs');
    const supervisorUrl = new URL('./supervisor.js', import.meta.url).href;
    writeFileSync(
      script,
      `import { DnsmasqSupervisor } from ${JSON.stringify(supervisorUrl)};\n` +
        `const s = new DnsmasqSupervisor({ binary: 'dnsmasq', confFile: ${JSON.stringify(goodConf)}, pidFile: ${JSON.stringify(pidFile)}, netns: ${JSON.stringify(net.ns)} });\n` +
        `await s.start();\nconsole.log('PID ' + s.pid);\nsetInterval(() => {}, 1000);\n`,
    );
    const server = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    server.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const match = await waitFor('the child server to start dnsmasq', () => /PID (\d+)/.exec(out) ?? undefined);
    const pid = Number(match[1]);
    assert.ok(isRunning(pid));
    server.kill('SIGKILL');
    await waitFor('dnsmasq to die with its parent', () => !isRunning(pid));

    // A leftover (started outside any supervisor, e.g. before a crash on a system without
    // setpriv) is found through the pid file and stopped before the new one starts.
    const leftover = execa('ip', ['netns', 'exec', net.ns, 'dnsmasq', '--keep-in-foreground', '--log-facility=-', '--user=root', `--conf-file=${goodConf}`, `--pid-file=${pidFile}`], {
      reject: false,
      stdio: 'ignore',
    });
    const leftoverPid = leftover.pid!;
    await waitFor('the leftover pid file', () => {
      try {
        return Number(readFileSync(pidFile, 'utf8').trim()) === leftoverPid;
      } catch {
        return false;
      }
    });
    const sup = new DnsmasqSupervisor({ binary: 'dnsmasq', confFile: goodConf, pidFile, netns: net.ns });
    try {
      await sup.start();
      assert.equal(isRunning(leftoverPid), false, 'the leftover was stopped');
      await leftover;
      assert.notEqual(sup.pid, leftoverPid);
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(sup.status().running, 'the new dnsmasq got the ports');
      assert.equal(sup.status().restarts, 0);
    } finally {
      await sup.stop();
    }
  });
});
