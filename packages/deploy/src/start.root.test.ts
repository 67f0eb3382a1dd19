/**
 * The container's start path, run on the host: the release is assembled as the Dockerfile does
 * (scripts/assemble-release.sh), then started with the image's ENTRYPOINT (minus tini), CMD and
 * ENV as parsed from the Dockerfile, as the image's unprivileged user with the capability
 * bounding set of docker-compose.yml and a dnsmasq that holds the image's file capabilities.
 * Only the config file's location and network differ: deploy/config.yaml with its state paths
 * moved into a temp dir and its interface set to a bridge inside a network namespace this test
 * creates (dnsmasq never sees a host interface). The image's HEALTHCHECK must pass, a PXE client
 * must get an address and boot file, the boot port must serve the agent, and SIGTERM must stop
 * the server and its dnsmasq.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { canUseNetns, createTestNetwork, dhcpRequest, type TestNetwork } from '@cocoon/server/testing/netns';
import { execForm, last, stageEnv } from './dockerfile.js';
import { readRepoFile, repoFile, runtimeStage, toolAvailable } from './repo.js';

const IMAGE_ROOT = '/opt/cocoon';
const UID = 10001;

function sh(cmd: string, args: string[], opts: { cwd?: string } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const ready = canUseNetns() && toolAvailable('setcap') && toolAvailable('setpriv');

test('the image start command, run on the host, serves DHCP and HTTP as the image user and stops on SIGTERM', { skip: ready ? false : 'needs root, network namespaces, setcap and setpriv', timeout: 180_000 }, async () => {
  const runtime = runtimeStage();
  const entry = execForm(last(runtime, 'ENTRYPOINT')?.args ?? '') ?? [];
  const cmd = execForm(last(runtime, 'CMD')?.args ?? '') ?? [];
  const hc = execForm(last(runtime, 'HEALTHCHECK')?.args.replace(/^.*?\bCMD\s+/, '') ?? '') ?? [];
  assert.equal(entry[0], '/usr/bin/tini', 'tini is PID 1 in the image');
  const imageEnv = stageEnv(runtime);

  const dir = mkdtempSync(path.join(tmpdir(), 'cocoon-start-'));
  chmodSync(dir, 0o755);
  let net: TestNetwork | undefined;
  let server: ChildProcess | undefined;
  try {
    // 1. The release, exactly as the build stage assembles it.
    const release = path.join(dir, 'opt');
    sh('sh', [repoFile('scripts/assemble-release.sh'), release]);
    const fromImage = (p: string) => p.replaceAll(IMAGE_ROOT, release);

    // 2. deploy/config.yaml, state moved into the temp dir, network into the namespace.
    net = await createTestNetwork({ purpose: 'deploystart', clientMacs: ['52:54:00:de:90:01'] });
    const cfg = yaml.load(readRepoFile('deploy/config.yaml')) as Record<string, Record<string, unknown>>;
    const state = path.join(dir, 'var');
    for (const key of ['cluster_dir', 'images_dir', 'state_dir']) {
      const p = path.join(state, key);
      mkdirSync(p, { recursive: true });
      chownSync(p, UID, UID);
      (cfg.paths as Record<string, string>)[key] = p;
    }
    (cfg.paths as Record<string, string>).templates_dir = path.join(dir, 'templates');
    mkdirSync(path.join(dir, 'templates'));
    cfg.network = { ...cfg.network, pxe_interface: net.bridge, bind_addr: net.serverIp };
    // The image's dnsmasq carries file capabilities; give a copy of the host's the same.
    const dnsmasq = path.join(dir, 'dnsmasq');
    copyFileSync('/usr/sbin/dnsmasq', dnsmasq);
    chmodSync(dnsmasq, 0o755);
    const setcap = runs(runtime).match(/setcap (\S+) \/usr\/sbin\/dnsmasq/)?.[1];
    assert.ok(setcap);
    sh('setcap', [setcap, dnsmasq]);
    cfg.dnsmasq = { ...cfg.dnsmasq, binary: dnsmasq };
    const configFile = path.join(dir, 'config.yaml');
    writeFileSync(configFile, yaml.dump(cfg));
    chmodSync(configFile, 0o644);

    // 3. ENTRYPOINT (after tini) + CMD with the image's ENV, as uid 10001 with compose's caps.
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(imageEnv)) env[k] = fromImage(v.replace('$PATH', process.env.PATH ?? '/usr/bin:/bin'));
    env.COCOON_CONFIG = configFile;
    const compose = yaml.load(readRepoFile('docker-compose.yml')) as { services: { cocoon: { cap_add: string[] } } };
    const bounding = ['-all', ...compose.services.cocoon.cap_add.map((c) => `+${c.toLowerCase()}`)].join(',');
    const argv = [
      'netns', 'exec', net.ns,
      'setpriv', `--reuid=${UID}`, `--regid=${UID}`, '--clear-groups', '--inh-caps=-all', `--bounding-set=${bounding}`,
      'env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      ...entry.slice(entry.indexOf('--') + 1).map(fromImage), ...cmd,
    ];
    const logFile = path.join(dir, 'server.log');
    // cwd stands in for the image's WORKDIR: the image user must be able to enter it (a checkout
    // under a 0700 temp dir is not; the server's child processes would fail to start there).
    server = spawn('ip', argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
    let output = '';
    server.stdout?.on('data', (b: Buffer) => (output += b.toString()));
    server.stderr?.on('data', (b: Buffer) => (output += b.toString()));
    const exited = new Promise<number | null>((resolve) => server?.once('exit', (code) => resolve(code)));

    // 4. The image's HEALTHCHECK command until it passes.
    const healthArgv = ['netns', 'exec', net.ns, 'env', `COCOON_HEALTH_URL=${env.COCOON_HEALTH_URL}`, process.execPath, ...hc.slice(1).map(fromImage)];
    let healthy = false;
    for (let i = 0; i < 120 && !healthy && server.exitCode === null; i++) {
      healthy = spawnSync('ip', healthArgv, { encoding: 'utf8' }).status === 0;
      if (!healthy) await new Promise((r) => setTimeout(r, 500));
    }
    writeFileSync(logFile, output);
    assert.ok(healthy, `the health check never passed; server output:\n${output}`);

    // 5. DHCP from its dnsmasq, unprivileged but for the file capabilities.
    const client = net.clients[0];
    assert.ok(client);
    // Give the client time: with network.ping_check on, dnsmasq waits about 3 s before an offer.
    const lease = await dhcpRequest(net, client, { vendorClass: 'PXEClient:Arch:00000:UNDI:002001', clientArch: 0, tries: 3, timeoutSec: 5 });
    assert.ok(lease, `no DHCP answer; server output:\n${output}`);
    const range = cfg.network.bootstrap_range as { start: string; end: string };
    assert.equal(lease.ip.split('.').slice(0, 3).join('.'), range.start.split('.').slice(0, 3).join('.'));
    assert.equal(lease.bootFile, 'undionly.kpxe');

    // 6. The boot port serves the chain script and the agent from the assembled release.
    const fetchScript = `const u=process.argv[1];fetch(u).then(async r=>{const b=Buffer.from(await r.arrayBuffer());console.log(r.status,b.length,b.subarray(0,6).toString())},e=>{console.log('error',e.message)})`;
    const get = (url: string) => sh('ip', ['netns', 'exec', net!.ns, process.execPath, '-e', fetchScript, url]).trim();
    const boot = `http://${net.serverIp}:4081`;
    assert.match(get(`${boot}/ipxe`), /^200 \d+ #!ipxe/);
    const agentSize = readFileSync(path.join(release, 'packages/first-stage/dist/cocoon-agent.js')).length;
    assert.equal(get(`${boot}/agent/cocoon-agent.js`).split(' ').slice(0, 2).join(' '), `200 ${agentSize}`);

    // 7. cocoonctl from the release, as the quick start runs it in the container (same user, env;
    // Docker sets HOME from the image's passwd entry, which uid 10001 lacks on this host).
    const tokens = (cfg.auth as { tokens: { token: string; scope: string }[] }).tokens;
    const admin = tokens.find((t) => t.scope === 'admin')?.token ?? '';
    const ctl = (...args: string[]) =>
      spawnSync('ip', ['netns', 'exec', net!.ns, 'setpriv', `--reuid=${UID}`, `--regid=${UID}`, '--clear-groups', 'env', '-i', ...Object.entries({ ...env, HOME: dir, COCOON_TOKEN: admin }).map(([k, v]) => `${k}=${v}`), 'cocoonctl', ...args], { encoding: 'utf8' });
    const list = ctl('list', '--json');
    assert.equal(list.status, 0, list.stderr);
    assert.ok(Array.isArray(JSON.parse(list.stdout)) || typeof JSON.parse(list.stdout) === 'object');
    const images = ctl('images', 'list', '--json');
    assert.equal(images.status, 0, `cocoonctl images list (paths from COCOON_CONFIG): ${images.stderr}`);

    // 8. SIGTERM: the server stops its dnsmasq and exits cleanly; nothing is left in the namespace.
    server.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), 30_000)))]);
    clearTimeout(timer);
    assert.equal(code, 0, `exit after SIGTERM; output:\n${output}`);
    const left = spawnSync('ip', ['netns', 'pids', net.ns], { encoding: 'utf8' }).stdout.trim();
    assert.equal(left, '', 'no process (dnsmasq) left in the namespace');
  } finally {
    if (server && server.exitCode === null) server.kill('SIGKILL');
    await net?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});

function runs(stage: ReturnType<typeof runtimeStage>): string {
  return stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n');
}
