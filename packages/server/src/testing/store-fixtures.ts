import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseConfig } from '../config/load.js';
import type { CocoonConfig } from '../config/types.js';
import { openClusterStore, type ClusterStore } from '../store/cluster-store.js';
import type { EnrollmentReport } from '../lifecycle/enrollment-report.js';

/** A temp directory removed by the returned cleanup. */
export function tempDir(prefix = 'cocoon-store-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs the real git CLI in `dir` (config isolated from the user's). */
export function gitCli(dir: string, args: string[]): string {
  return execFileSync('git', args, {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', HOME: dir, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' },
  });
}

export function testConfig(opts: { ipRange?: [string, string]; profiles?: unknown[]; machines?: unknown[]; network?: Record<string, unknown>; rescue?: unknown } = {}): CocoonConfig {
  const [start, end] = opts.ipRange ?? ['10.0.1.10', '10.0.1.250'];
  return parseConfig(
    {
      network: {
        pxe_interface: 'br0',
        bind_addr: '10.0.1.1',
        bootstrap_range: { start: '10.0.0.100', end: '10.0.0.150' },
        ip_range: { start, end },
        ...opts.network,
      },
      profiles: opts.profiles ?? [{ name: 'control-plane', quantity: 3 }],
      machines: opts.machines ?? [],
      default_os: { name: 'flatcar', version: '1.0.0' },
      auth: { mode: 'none' },
      ...(opts.rescue !== undefined && { rescue: opts.rescue }),
    },
    '/tmp/cocoon-test/config.yaml',
  );
}

export function openTestStore(dir: string, git = true): Promise<ClusterStore> {
  return openClusterStore({ dir, git: { enabled: git, authorName: 'Cocoon Test', authorEmail: 'cocoon@test.invalid' }, indexFlushMs: 20 });
}

/** An agent report for machine number `n` (distinct serial and MAC). */
export function report(n: number, extra: Partial<EnrollmentReport> = {}): EnrollmentReport {
  const hex = n.toString(16).padStart(6, '0');
  const mac = `52:54:00:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`;
  return {
    serial: { product: `SN-${hex}`, chassis: 'Not Specified', board: 'To Be Filled By O.E.M.' },
    uuid: `4c4c4544-0000-1000-8000-${hex.padStart(12, '0')}`,
    macs: [{ name: 'eth0', mac }],
    connectedNic: 'eth0',
    hardware: { cpus: 4, memoryMiB: 8192 },
    ...extra,
  };
}
