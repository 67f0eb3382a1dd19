// Shared helpers of the HTTP benchmarks: a real server child process on loopback, a keep-alive
// HTTP client, percentiles. Benchmarks print figures; they never assert timings.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

const { emptyRecord, serializeRecord } = await import('../packages/server/dist/store/record.js');
const { intToIp, ipToInt } = await import('../packages/server/dist/util/ipv4.js');

export const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
// The production start path (container, systemd): it gives node its heap flags.
export const START = path.join(root, 'scripts/cocoon-start.sh');

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Writes config.yaml for a loopback server in `dir` (auth none, dnsmasq off, git as asked). */
export function writeConfig(dir, { git = true, profiles, ipRange = { start: '10.100.0.10', end: '10.100.63.250' }, subnet = 18 } = {}) {
  const file = path.join(dir, 'config.yaml');
  const lines = [
    'network:',
    '  pxe_interface: lo',
    '  bind_addr: 127.0.0.1',
    '  bootstrap_range: {start: 10.99.0.100, end: 10.99.0.150}',
    `  ip_range: {start: ${ipRange.start}, end: ${ipRange.end}}`,
    `  subnet_size: ${subnet}`,
    'http:',
    '  boot: {listen: 127.0.0.1, port: 4081, public_url: "http://127.0.0.1:4081"}',
    '  api: {listen: 127.0.0.1, port: 4080}',
    'auth: {mode: none}',
    'default_os: {name: flatcar, version: 1.0.0}',
    'profiles:',
    ...(profiles ?? [{ name: 'default' }]).map((p) => `  - {name: ${p.name}${p.quantity !== undefined ? `, quantity: ${p.quantity}` : ''}}`),
    'paths: {cluster_dir: cluster, images_dir: images, state_dir: state}',
    `git: {enabled: ${git}}`,
    'dnsmasq: {enabled: false}',
    'log: {level: warn}',
    '',
  ];
  writeFileSync(file, lines.join('\n'));
  return file;
}

/**
 * Starts the server as deployments do (scripts/cocoon-start.sh, which execs node: the child's pid
 * is the server's) on free ports and waits until /healthz answers. SERVER_NODE_FLAGS, if set,
 * replaces the script's node flags (COCOON_NODE_FLAGS), e.g. '' to measure V8's defaults.
 */
export async function startServer(configFile) {
  const [apiPort, bootPort] = [await freePort(), await freePort()];
  const env = { ...process.env, COCOON_CONFIG: configFile, PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}` };
  if (process.env.SERVER_NODE_FLAGS !== undefined) env.COCOON_NODE_FLAGS = process.env.SERVER_NODE_FLAGS;
  const child = spawn('sh', [START, '--no-dnsmasq', '--api-port', String(apiPort), '--boot-port', String(bootPort)], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env,
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      const res = await fetch(`http://127.0.0.1:${apiPort}/healthz`);
      if (res.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('server did not start in 120 s');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    apiPort,
    bootPort,
    rssMB() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
      return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
    },
    /** CPU seconds the server has used (user + system): per-request cost that other load on the box does not skew as much as req/s. */
    cpuSeconds() {
      const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100 on Linux)
    },
    async stop() {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

export function client(maxSockets) {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  return function request(port, method, path, body) {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
      const headers = payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {};
      const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });
  };
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export function ms(x) {
  return `${x.toFixed(2)} ms`;
}

/** Run `fn(i)` for i in [0, n) with at most `c` at a time. */
export async function pool(n, c, fn) {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(c, n) }, worker));
}

/**
 * What the first-stage agent reports for a typical 1U server (packages/first-stage/src/facts.ts,
 * stored by the enrollment as Hardware): 4 NICs, 4 disks, CPU, memory, DMI strings, kernel, each
 * with per-machine serials, MACs and WWNs, so the store holds records of the size a fleet has.
 */
function hardwareOf(i, bootMac) {
  const hex = (i + 1).toString(16).padStart(6, '0');
  const mac = (port) => `${bootMac.slice(0, -2)}${String(port + 2).padStart(2, '0')}`;
  const nics = [0, 1, 2, 3].map((port) => ({
    name: port < 2 ? `eno${port + 1}` : `ens2f${port - 2}`,
    mac: port === 0 ? bootMac : mac(port),
    driver: port < 2 ? 'ixgbe' : 'mlx5_core',
    pciAddress: port < 2 ? `0000:18:00.${port}` : `0000:3b:00.${port - 2}`,
    link: port === 1 ? 'down' : 'up',
    speedMbps: port === 1 ? null : port < 2 ? 10000 : 25000,
  }));
  const disks = [0, 1, 2, 3].map((d) =>
    d < 2
      ? { name: `nvme${d}n1`, sizeBytes: 960197124096, rotational: false, removable: false, model: 'SAMSUNG MZQL2960HCJR-00A07', serial: `S64FNE0R${hex}${d}`.toUpperCase(), wwn: `eui.36344630528${hex}${d}0025384500000001` }
      : { name: `sd${String.fromCharCode(95 + d)}`, sizeBytes: 3840755982336, rotational: true, removable: false, model: 'ST4000NM000A-2HZ100', serial: `WJG0${hex}${d}`.toUpperCase(), wwn: `0x5000c500${hex}${d}a1b` },
  );
  return {
    firmware: 'uefi',
    vendor: 'Dell Inc.',
    productName: 'PowerEdge R650',
    board: '0Y2K8V',
    biosVersion: '1.13.2',
    nics,
    cpu: { model: 'Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz', sockets: 2, cores: 64, threads: 128 },
    memoryBytes: 549755813888,
    disks,
    kernel: '6.6.21-flatcar',
  };
}

/**
 * Writes `n` machines' conf.json files into `clusterDir` (the server adopts them at start), each
 * with the facts of hardwareOf and the MACs bench request-rate queries; returns their serials.
 */
export function seedFleet(clusterDir, n) {
  mkdirSync(clusterDir, { recursive: true });
  const base = ipToInt('10.100.0.10');
  const serials = [];
  for (let i = 0; i < n; i++) {
    const serial = `seed-${String(i).padStart(6, '0')}`;
    const hex = (i + 1).toString(16).padStart(6, '0');
    const rec = emptyRecord(serial);
    rec.MacAddresses = [`52:54:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}:02`];
    rec.InternalAddr = intToIp(base + i);
    rec.Hostname = serial;
    rec.MachineID = hex.padStart(32, '0');
    rec.Profile = 'default';
    rec.State = 'running';
    rec.Hardware = hardwareOf(i, rec.MacAddresses[0]);
    rec.MacAddresses = rec.Hardware.nics.map((nic) => nic.mac);
    rec.SMBIOSUUID = `4c4c4544-0042-3510-80${hex.slice(0, 2)}-${hex.padStart(12, 'b')}`;
    rec.ConnectedNIC = 'eno1';
    rec.IdentitySource = 'product';
    mkdirSync(path.join(clusterDir, serial));
    writeFileSync(path.join(clusterDir, serial, 'conf.json'), serializeRecord(rec));
    serials.push(serial);
  }
  return serials;
}
