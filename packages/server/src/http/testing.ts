import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseConfig } from '../config/load.js';
import type { CocoonConfig } from '../config/types.js';
import { writeManifest } from '../images/index.js';
import { startServer, type RunningServer } from '../server.js';
import { createLogger } from '../util/logger.js';
import type { AddressInfo } from 'node:net';
import http, { type Server } from 'node:http';
import type { RequestListener } from 'node:http';

/** Test helpers: real listeners on loopback port 0, raw requests (no URL normalisation). */
export async function listenLoopback(handler: RequestListener): Promise<{ server: Server; base: string; port: number; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    base: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
  json<T = unknown>(): T;
}

/**
 * One HTTP request with the path sent exactly as given (fetch would normalise "../" away, which
 * is exactly what traversal tests must not do).
 */
export function rawRequest(
  port: number,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.body !== undefined) headers['content-length'] ??= String(Buffer.byteLength(opts.body));
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const text = body.toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text, json: <T>() => JSON.parse(text) as T });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------
// A whole server (store with git, provisioner, renderer, both listeners) in a temp dir.


export const ADMIN_TOKEN = 'test-admin-token-0123456789';
export const READ_TOKEN = 'test-read-token-0123456789';

export interface TestServer extends RunningServer {
  dir: string;
  bootPort: number;
  apiPort: number;
  /** The bytes of images/flatcar/1.0.0/vmlinuz. */
  kernel: Buffer;
  close(): Promise<void>;
}

/** A config document for tests; `adjust` edits it before validation. */
export function testConfigDoc(dir: string): Record<string, unknown> {
  return {
    network: {
      pxe_interface: 'lo',
      bind_addr: '127.0.0.1',
      bootstrap_range: { start: '10.99.0.100', end: '10.99.0.150' },
      ip_range: { start: '10.99.1.10', end: '10.99.1.250' },
    },
    http: { boot: { listen: '127.0.0.1', public_url: 'http://127.0.0.1:4081' }, api: { listen: '127.0.0.1', max_body: '64kb' } },
    auth: {
      mode: 'tokens',
      tokens: [
        { name: 'alice', token: ADMIN_TOKEN, scope: 'admin' },
        { name: 'viewer', token: READ_TOKEN, scope: 'read' },
      ],
      compat_admin: 'open',
    },
    default_os: { name: 'flatcar', version: '1.0.0' },
    profiles: [{ name: 'control', quantity: 2 }, { name: 'default' }],
    paths: { cluster_dir: path.join(dir, 'cluster'), images_dir: path.join(dir, 'images'), state_dir: path.join(dir, 'state'), agent_dir: path.join(dir, 'agent') },
    git: { enabled: true },
    dnsmasq: { enabled: false },
    log: { level: 'error' },
  };
}

export async function startTestServer(adjust?: (doc: Record<string, unknown>) => void): Promise<TestServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cocoon-http-'));
  const version = path.join(dir, 'images', 'flatcar', '1.0.0');
  mkdirSync(version, { recursive: true });
  const kernel = Buffer.alloc(200_000, 7);
  writeFileSync(path.join(version, 'vmlinuz'), kernel);
  writeFileSync(path.join(version, 'initrd.cpio.gz'), Buffer.alloc(1000, 1));
  writeFileSync(path.join(version, 'install_image.bin.bz2'), Buffer.alloc(5000, 2));
  await writeManifest(version, { os: 'flatcar', version: '1.0.0', kernel: 'vmlinuz', initrd: 'initrd.cpio.gz', install: 'install_image.bin.bz2' });
  // A version in mayu 0.11's layout (images/<version>/coreos_production_*), without a manifest.
  const mayu = path.join(dir, 'images', '0.11.0');
  mkdirSync(mayu, { recursive: true });
  writeFileSync(path.join(mayu, 'coreos_production_pxe.vmlinuz'), 'mayu kernel');
  mkdirSync(path.join(dir, 'agent'));
  writeFileSync(path.join(dir, 'agent', 'cocoon-agent.js'), 'console.log("agent")\n');
  writeFileSync(path.join(dir, 'agent', 'cocoon-agent.gz'), Buffer.from([0x1f, 0x8b, 8, 0]));
  writeFileSync(path.join(dir, 'secret.txt'), 'TOP SECRET');

  const doc = testConfigDoc(dir);
  adjust?.(doc);
  const config: CocoonConfig = parseConfig(doc, path.join(dir, 'config.yaml'));
  // The schema wants real ports; tests take ephemeral ones.
  config.http.boot.port = 0;
  config.http.api.port = 0;
  const server = await startServer(config, { logger: createLogger({ level: 'error', format: 'json', silent: true }), drainMs: 200 });
  const port = (u: string): number => Number(new URL(u).port);
  return {
    ...server,
    dir,
    kernel,
    bootPort: port(server.bootUrl),
    apiPort: port(server.apiUrl),
    close: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A hardware report as the agent sends it (packages/first-stage facts.ts). */
export function agentFacts(serial: string, mac: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    serial: { product: serial, chassis: '', board: '' },
    uuid: '',
    firmware: 'bios',
    vendor: 'QEMU',
    productName: 'Standard PC',
    board: '',
    biosVersion: '1.16',
    nics: [{ name: 'eth0', mac, driver: 'virtio_net', pciAddress: '0000:00:03.0', link: 'up', speedMbps: 1000 }],
    connectedNic: 'eth0',
    cpu: { model: 'QEMU Virtual CPU', sockets: 1, cores: 2, threads: 2 },
    memoryBytes: 2147483648,
    disks: [{ name: 'vda', sizeBytes: 10737418240, rotational: false, removable: false, model: '', serial: '', wwn: '' }],
    kernel: '6.1.0',
    ...extra,
  };
}

export const json = (token?: string): Record<string, string> => ({
  'content-type': 'application/json',
  ...(token ? { authorization: `Bearer ${token}` } : {}),
});
