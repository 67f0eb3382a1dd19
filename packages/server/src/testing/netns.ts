import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

/**
 * Isolated test networks for anything that runs dnsmasq or boots machines: a "server" network
 * namespace with a bridge (and the server's address on it) plus client namespaces attached to the
 * bridge by veth pairs (or taps for QEMU). Nothing touches the host's namespace. Names are unique
 * per process; every namespace (and every process still in it, by PID) is removed by destroy(),
 * and also when the process exits or is interrupted, whatever path the test took.
 */

export interface TestClient {
  ns: string;
  ifname: string;
  mac: string;
}

export interface TestNetworkOptions {
  /** Part of the namespace names, e.g. "dnsmasq" → cocoon-dnsmasq-<pid>-<n>. */
  purpose: string;
  serverIp?: string;
  prefix?: number;
  /** MACs of client namespaces to create (one veth each). */
  clientMacs?: string[];
  /** Give the bridge an IPv6 ULA too (router adverts of network.fast_test_network need one). */
  ipv6?: string;
}

export interface TestNetwork {
  /** The server namespace (run dnsmasq/the server here, e.g. config dnsmasq.netns). */
  ns: string;
  bridge: string;
  serverIp: string;
  prefix: number;
  clients: TestClient[];
  /** A persistent tap device in the server namespace, attached to the bridge (for QEMU guests). */
  addTap(name: string): Promise<string>;
  /** Run a command inside a namespace of this network. */
  exec(ns: string, argv: string[], opts?: { timeoutMs?: number }): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }>;
  destroy(): Promise<void>;
}

const live = new Set<string>();
let counter = 0;
let hooksInstalled = false;

function deleteNamespaceSync(ns: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '';
  for (const p of pids.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(p), 'SIGKILL');
    } catch {
      // gone already
    }
  }
  spawnSync('ip', ['netns', 'del', ns]);
  live.delete(ns);
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const cleanAll = (): void => {
    for (const ns of [...live].reverse()) deleteNamespaceSync(ns);
  };
  process.on('exit', cleanAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      cleanAll();
      process.kill(process.pid, sig);
    });
  }
}

/** Whether this process can create network namespaces (root + iproute2). */
export function canUseNetns(): boolean {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return false;
  return spawnSync('ip', ['netns', 'list']).status === 0;
}

async function ip(args: string[]): Promise<void> {
  const r = await execa('ip', args, { reject: false, all: true });
  if (r.exitCode !== 0) throw new Error(`ip ${args.join(' ')} failed: ${String(r.all).trim()}`);
}

export async function createTestNetwork(opts: TestNetworkOptions): Promise<TestNetwork> {
  installHooks();
  const base = `cocoon-${opts.purpose}-${process.pid}-${++counter}`;
  const serverIp = opts.serverIp ?? '10.77.0.1';
  const prefix = opts.prefix ?? 24;
  const created: string[] = [];
  const addNs = async (name: string): Promise<void> => {
    await ip(['netns', 'add', name]);
    live.add(name);
    created.push(name);
    await ip(['-n', name, 'link', 'set', 'lo', 'up']);
  };
  const destroy = async (): Promise<void> => {
    for (const ns of [...created].reverse()) deleteNamespaceSync(ns);
  };
  try {
    await addNs(base);
    await ip(['-n', base, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
    await ip(['-n', base, 'addr', 'add', `${serverIp}/${prefix}`, 'dev', 'br0']);
    if (opts.ipv6) await ip(['-n', base, 'addr', 'add', opts.ipv6, 'dev', 'br0', 'nodad']);
    await ip(['-n', base, 'link', 'set', 'br0', 'up']);
    const clients: TestClient[] = [];
    for (const [i, mac] of (opts.clientMacs ?? []).entries()) {
      const cns = `${base}-c${i}`;
      await addNs(cns);
      // Created inside the server namespace, peer moved straight into the client's: no host device.
      await ip(['-n', base, 'link', 'add', `v${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', cns]);
      await ip(['-n', cns, 'link', 'set', 'eth0', 'address', mac]);
      await ip(['-n', base, 'link', 'set', `v${i}`, 'master', 'br0']);
      await ip(['-n', base, 'link', 'set', `v${i}`, 'up']);
      await ip(['-n', cns, 'link', 'set', 'eth0', 'up']);
      clients.push({ ns: cns, ifname: 'eth0', mac });
    }
    return {
      ns: base,
      bridge: 'br0',
      serverIp,
      prefix,
      clients,
      async addTap(name: string): Promise<string> {
        await ip(['-n', base, 'tuntap', 'add', 'dev', name, 'mode', 'tap']);
        await ip(['-n', base, 'link', 'set', name, 'master', 'br0']);
        await ip(['-n', base, 'link', 'set', name, 'up']);
        return name;
      },
      async exec(ns, argv, o = {}) {
        if (!created.includes(ns)) throw new Error(`namespace ${ns} is not part of this test network`);
        const r = await execa('ip', ['netns', 'exec', ns, ...argv], { reject: false, timeout: o.timeoutMs ?? 30_000, stdin: 'ignore' });
        return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
      },
      destroy,
    };
  } catch (err) {
    await destroy();
    throw err;
  }
}

export interface DhcpResult {
  ip: string;
  bootFile: string;
  siaddr: string;
  router: string;
  dns: string;
  serverId: string;
  lease: string;
}

let scriptFile: string | undefined;
function udhcpcScript(): string {
  // Written once: rewriting it while another client runs it fails with "text file busy".
  if (scriptFile) return scriptFile;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cocoon-udhcpc-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'report.sh');
  // Reports what the server sent and configures nothing: the test decides about addresses.
  writeFileSync(
    file,
    '#!/bin/sh\n[ "$1" = bound ] || exit 0\nfor v in ip boot_file siaddr router dns serverid lease; do eval "echo COCOON_DHCP $v=\\$$v"; done\n',
  );
  chmodSync(file, 0o755);
  scriptFile = file;
  return file;
}

/**
 * One DHCP exchange with busybox udhcpc from a client namespace. `vendorClass` is option 60,
 * `clientArch` option 93 (e.g. 0 BIOS, 7 UEFI x86-64), `options` more `-x` values. Resolves
 * undefined when no server answered.
 */
export async function dhcpRequest(
  net: TestNetwork,
  client: TestClient,
  opts: { vendorClass?: string; clientArch?: number; options?: string[]; tries?: number; timeoutSec?: number } = {},
): Promise<DhcpResult | undefined> {
  const args = ['busybox', 'udhcpc', '-i', client.ifname, '-n', '-q', '-f', '-t', String(opts.tries ?? 3), '-T', String(opts.timeoutSec ?? 1), '-s', udhcpcScript()];
  if (opts.vendorClass !== undefined) args.push('-V', opts.vendorClass);
  if (opts.clientArch !== undefined) args.push('-x', `0x5d:${opts.clientArch.toString(16).padStart(4, '0')}`);
  for (const o of opts.options ?? []) args.push('-x', o);
  const r = await net.exec(client.ns, args, { timeoutMs: 60_000 });
  const values = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const m = /^COCOON_DHCP (\w+)=(.*)$/.exec(line);
    if (m) values.set(m[1]!, m[2]!);
  }
  if (!values.get('ip')) return undefined;
  return {
    ip: values.get('ip') ?? '',
    bootFile: values.get('boot_file') ?? '',
    siaddr: values.get('siaddr') ?? '',
    router: values.get('router') ?? '',
    dns: values.get('dns') ?? '',
    serverId: values.get('serverid') ?? '',
    lease: values.get('lease') ?? '',
  };
}

/** Fetch a file over TFTP (busybox tftp) from the client namespace, using a temporary address. */
export async function tftpGet(net: TestNetwork, client: TestClient, clientIp: string, remote: string, local: string): Promise<void> {
  await net.exec(client.ns, ['ip', 'addr', 'add', `${clientIp}/${net.prefix}`, 'dev', client.ifname]);
  try {
    const r = await net.exec(client.ns, ['busybox', 'tftp', '-g', '-r', remote, '-l', local, net.serverIp], { timeoutMs: 30_000 });
    if (r.exitCode !== 0) throw new Error(`tftp get ${remote} failed: ${r.stderr.trim()}`);
  } finally {
    await net.exec(client.ns, ['ip', 'addr', 'flush', 'dev', client.ifname]);
  }
}
