import { readFileSync } from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { E2E_DIR, CACHE_DIR } from './paths.js';

export interface AssetFile {
  size: number;
  sha256: string;
}

/** What e2e/assets/build-assets.sh produced (see the script for what each file is). */
export interface Assets {
  dir: string;
  key: string;
  kernelPackage: string;
  withNode: boolean;
  files: Record<'vmlinuz' | 'first-stage.cpio.gz' | 'os-disk.img' | 'os-disk.img.bz2', AssetFile>;
  path(name: keyof Assets['files']): string;
}

let cached: Promise<Assets> | undefined;

/** Builds the guest assets if the cache has none for the current inputs; cheap when cached. */
export function ensureAssets(opts: { progress?: (line: string) => void } = {}): Promise<Assets> {
  cached ??= build(opts.progress);
  return cached;
}

function build(progress?: (line: string) => void): Promise<Assets> {
  const script = path.join(E2E_DIR, 'assets', 'build-assets.sh');
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script], { env: { ...process.env, E2E_CACHE: CACHE_DIR }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      for (const line of d.toString().split('\n')) if (line.trim()) progress?.(line);
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) {
        reject(new Error(`e2e/assets/build-assets.sh failed (status ${code}):\n${err.trim().split('\n').slice(-15).join('\n')}`));
        return;
      }
      const dir = out.trim().split('\n').pop() ?? '';
      try {
        const info = JSON.parse(readFileSync(path.join(dir, 'assets.json'), 'utf8')) as Omit<Assets, 'dir' | 'path'>;
        resolve({ ...info, dir, path: (name) => path.join(dir, name) });
      } catch (e) {
        reject(new Error(`build-assets.sh printed ${JSON.stringify(dir)}, which holds no readable assets.json: ${(e as Error).message}`));
      }
    });
  });
}
