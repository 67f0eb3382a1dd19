import { writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseConfig } from '@cocoon/server/config';
import { spawnManaged, describeExit, type ManagedProcess } from './proc.js';
import { NetnsHttp } from './api.js';
import { waitFor } from './wait.js';
import { SERVER_MAIN, FORWARDER } from './paths.js';
import type { LabNetwork } from './netns.js';

export const API_PORT = 4080;
export const BOOT_PORT = 4081;

export interface ProfileSpec {
  name: string;
  quantity?: number;
  os?: { name: string; version: string };
}

export interface ServerOptions {
  net: LabNetwork;
  dir: string;
  imagesDir: string;
  defaultOs: { name: string; version: string };
  profiles?: ProfileSpec[];
  hostPolicy?: 'answer' | 'ignore-installed';
  logLevel?: 'info' | 'debug';
  /** Top-level keys that replace the lab config's (LabOptions.config). */
  extraConfig?: Record<string, unknown>;
}

/** Third octet kept, last one replaced: 10.77.0.1 -> 10.77.0.<n>. */
function hostIn(address: string, n: number): string {
  return address.split('.').slice(0, 3).concat(String(n)).join('.');
}

/** The server config of a lab: the example config's shape, adapted to the namespace. */
export function labConfig(opts: ServerOptions, token: string): Record<string, unknown> {
  const a = opts.net.address;
  return {
    network: {
      pxe_interface: opts.net.bridge,
      bind_addr: a,
      bootstrap_range: { start: hostIn(a, 100), end: hostIn(a, 150) },
      lease_time: '10m',
      ip_range: { start: hostIn(a, 10), end: hostIn(a, 60) },
      subnet_size: opts.net.prefix,
      dns: [],
      ntp: [],
      host_policy: opts.hostPolicy ?? 'answer',
      // no ICMP probe before offers, IPv6 router adverts: saves ~13 s per PXE boot
      fast_test_network: true,
    },
    http: {
      boot: { listen: a, port: BOOT_PORT },
      api: { listen: a, port: API_PORT },
    },
    auth: { mode: 'tokens', tokens: [{ name: 'e2e-operator', token, scope: 'admin' }], compat_admin: 'token' },
    default_os: opts.defaultOs,
    profiles: (opts.profiles ?? [{ name: 'default' }]).map((p) => ({ template: 'default', ...p })),
    // The guests have only a serial console (-nodefaults: no VGA); the harness reads it.
    templates_env: { cluster_name: 'e2e', ssh_authorized_keys: [], kernel_args: 'console=ttyS0,115200n8 quiet panic=-1' },
    paths: {
      cluster_dir: path.join(opts.dir, 'cluster'),
      images_dir: opts.imagesDir,
      tftp_root: '/usr/lib/ipxe',
      state_dir: path.join(opts.dir, 'state'),
    },
    git: { enabled: true, author_name: 'cocoon-e2e', author_email: 'e2e@cocoon.invalid' },
    // The whole server runs inside the namespace already; naming it here as well keeps
    // dnsmasq inside it whatever way the server launches it.
    dnsmasq: { enabled: true, netns: opts.net.name },
    log: { level: opts.logLevel ?? 'debug', format: 'json' },
  };
}

export interface RunningServer {
  readonly process: ManagedProcess;
  readonly api: NetnsHttp;
  /** The boot port, reached the same way (what a machine sees). */
  readonly boot: NetnsHttp;
  readonly token: string;
  readonly configFile: string;
  readonly logFile: string;
  readonly apiUrl: string;
  logTail(lines?: number): string;
  /** The last dnsmasq events the server logged (DHCP, TFTP, errors). */
  dnsmasqTail(lines?: number): string;
  stop(): Promise<void>;
}

/**
 * The harness polls machines that are not enrolled yet; the server rightly logs each 404. Those
 * lines are noise in a failure report.
 */
function isHarnessPoll(line: string): boolean {
  return line.includes('"status":404') && line.includes('/api/v1/machines/');
}

/**
 * Starts the real server (`node packages/server/dist/main.js --config FILE`) inside the
 * namespace, plus one unix-socket forwarder per port so the test process can talk to it.
 * Resolves once /healthz answers; fails with the server's log if it exits first.
 */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  mkdirSync(opts.dir, { recursive: true });
  const token = randomBytes(24).toString('hex');
  const config = { ...labConfig(opts, token), ...opts.extraConfig };
  const configFile = path.join(opts.dir, 'config.yaml');
  // JSON is YAML; validating here turns a drift between this file and the schema into a clear
  // message instead of a server that refuses to start.
  writeFileSync(configFile, JSON.stringify(config, null, 2) + '\n');
  parseConfig(config, configFile);
  const logFile = path.join(opts.dir, 'server.log');
  const server = spawnManaged('cocoon server', process.execPath, [SERVER_MAIN, '--config', configFile], {
    netns: opts.net.name,
    stdoutFile: logFile,
  });
  const forwarders: ManagedProcess[] = [];
  const forward = (port: number) => {
    const sock = path.join(opts.dir, `port-${port}.sock`);
    forwarders.push(
      spawnManaged(`forwarder ${port}`, process.execPath, [FORWARDER, sock, opts.net.address, String(port)], {
        netns: opts.net.name,
        stdoutFile: path.join(opts.dir, `forwarder-${port}.log`),
      }),
    );
    return sock;
  };
  const apiUrl = `http://${opts.net.address}:${API_PORT}`;
  const api = new NetnsHttp(forward(API_PORT), apiUrl, token);
  const boot = new NetnsHttp(forward(BOOT_PORT), `http://${opts.net.address}:${BOOT_PORT}`);
  const logLines = (): string[] => {
    try {
      return readFileSync(logFile, 'utf8').trimEnd().split('\n');
    } catch {
      return ['(no server log)'];
    }
  };
  const logTail = (lines = 60) => logLines().filter((l) => !isHarnessPoll(l)).slice(-lines).join('\n');
  const dnsmasqTail = (lines = 30) =>
    logLines()
      .filter((l) => l.includes('"source":"dnsmasq"') || l.includes('dnsmasq'))
      .filter((l) => !l.includes('RTR-ADVERT'))
      .slice(-lines)
      .map((l) => {
        try {
          const j = JSON.parse(l) as { timestamp?: string; message?: string; event?: { type?: string } };
          return `${j.timestamp ?? ''} ${j.event?.type ?? ''} ${j.message ?? ''}`;
        } catch {
          return l;
        }
      })
      .join('\n');
  const stop = async () => {
    await server.stop(10_000);
    await Promise.all(forwarders.map((f) => f.stop(1000)));
  };
  try {
    await waitFor(
      'the Cocoon server to answer /healthz',
      async () => ((await api.request('GET', '/healthz', undefined, 2000)).status === 200 ? true : undefined),
      {
        timeoutMs: 60_000,
        abortIf: () => {
          const e = server.exit();
          return e ? `the server ${describeExit(e)}; its log:\n${logTail(30)}` : undefined;
        },
      },
      () => logTail(10),
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { process: server, api, boot, token, configFile, logFile, apiUrl, logTail, dnsmasqTail, stop };
}
