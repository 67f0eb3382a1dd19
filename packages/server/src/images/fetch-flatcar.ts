import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { CocoonError } from '../util/errors.js';
import { STRONG, parseDigests } from './digests.js';
import { hashFile, syncDir } from './files.js';
import { checkVersion } from './layout.js';
import { forgetManifest } from './resolve.js';
import { type ImageManifest, writeManifest } from './manifest.js';

export const FLATCAR_FILES = {
  kernel: 'flatcar_production_pxe.vmlinuz',
  initrd: 'flatcar_production_pxe_image.cpio.gz',
  install: 'flatcar_production_image.bin.bz2',
} as const;

export const FLATCAR_MIN_DISK_BYTES = 8 * 1024 ** 3;

export interface FetchProgress {
  file: string;
  /** bytes so far / total (total undefined when the server sends no length). */
  bytes: number;
  total?: number;
  phase: 'download' | 'verify' | 'done';
}

export interface FetchFlatcarOptions {
  channel: string;
  /** A release version, or "current". */
  version: string;
  /** Default: the channel's public release server, amd64-usr. */
  baseUrl?: string;
  /** images_dir: the image lands in <dest>/flatcar/<version>/. */
  dest: string;
  onProgress?: (p: FetchProgress) => void;
  /** A GPG keyring (binary or armored public key file) to check the .sig files with gpgv. */
  gpgKeyring?: string;
  /** Injected for tests; default global fetch. */
  fetchImpl?: typeof fetch;
}

export interface FetchFlatcarResult {
  dir: string;
  manifest: ImageManifest;
  /** "verified with <keyring>" or why signatures were not checked. */
  signatures: string;
}

export function defaultFlatcarBaseUrl(channel: string): string {
  return `https://${channel}.release.flatcar-linux.net/amd64-usr`;
}

/**
 * Downloads a Flatcar release's PXE kernel, initrd and install image into a temporary directory,
 * checks each against its published DIGESTS (and GPG signature when a keyring is configured),
 * writes the manifest and only then moves the directory into place: a failed or interrupted
 * fetch never leaves a half image where the boot server would serve it.
 */
export async function fetchFlatcar(opts: FetchFlatcarOptions): Promise<FetchFlatcarResult> {
  if (!/^[a-z]+$/.test(opts.channel)) throw new CocoonError('invalid', `channel "${opts.channel}" is not a Flatcar channel name`, 'channel');
  const version = checkVersion(opts.version);
  const base = (opts.baseUrl ?? defaultFlatcarBaseUrl(opts.channel)).replace(/\/+$/, '');
  const osDir = path.join(opts.dest, 'flatcar');
  const finalDir = path.join(osDir, version);
  const tmp = path.join(osDir, `.fetch-${version}-${process.pid}`);
  const doFetch = opts.fetchImpl ?? fetch;
  await mkdir(tmp, { recursive: true });
  try {
    const digestsChecked = new Set<string>();
    for (const file of Object.values(FLATCAR_FILES)) {
      const digestsText = await download(doFetch, `${base}/${version}/${file}.DIGESTS`, path.join(tmp, `${file}.DIGESTS`));
      await download(doFetch, `${base}/${version}/${file}`, path.join(tmp, file), opts.onProgress);
      opts.onProgress?.({ file, bytes: 0, phase: 'verify' });
      const published = parseDigests(await readFile(digestsText, 'utf8')).get(file);
      if (!published || !STRONG.some((a) => published.has(a))) {
        throw new CocoonError('invalid', `${file}.DIGESTS publishes no SHA-512 or SHA-256 for ${file}`);
      }
      const algos = [...published.keys()].filter((a) => a !== 'md5');
      const { digests } = await hashFile(path.join(tmp, file), algos);
      for (const a of algos) {
        if (digests[a] !== published.get(a)) {
          throw new CocoonError('invalid', `${file}: ${a} ${digests[a]} does not match the published ${published.get(a)} (download corrupted or tampered with)`);
        }
        digestsChecked.add(a);
      }
      if (opts.gpgKeyring) {
        await download(doFetch, `${base}/${version}/${file}.sig`, path.join(tmp, `${file}.sig`));
        await gpgVerify(opts.gpgKeyring, path.join(tmp, `${file}.sig`), path.join(tmp, file));
      }
      opts.onProgress?.({ file, bytes: 0, phase: 'done' });
    }
    const releaseVersion = await optionalVersionTxt(doFetch, `${base}/${version}/version.txt`);
    const signatures = opts.gpgKeyring ? `verified with ${opts.gpgKeyring}` : 'not checked: no GPG keyring configured';
    const manifest = await writeManifest(tmp, {
      os: 'flatcar',
      version,
      channel: opts.channel,
      source: `${base}/${version}/${releaseVersion && releaseVersion !== version ? ` (release ${releaseVersion})` : ''}; digests: ${[...digestsChecked].sort().join(', ')}; signatures: ${signatures}`,
      ...FLATCAR_FILES,
      // The generic image expands to ~8.5 GB (its partition table spans that much).
      minDiskBytes: FLATCAR_MIN_DISK_BYTES,
    });
    // Swap into place: the old version (if any) is moved aside first, then removed.
    const old = path.join(osDir, `.old-${version}-${process.pid}`);
    const hadOld = await rename(finalDir, old).then(() => true, () => false);
    await rename(tmp, finalDir);
    forgetManifest(finalDir);
    await syncDir(osDir);
    if (hadOld) await rm(old, { recursive: true, force: true });
    return { dir: finalDir, manifest, signatures };
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

async function download(doFetch: typeof fetch, url: string, file: string, onProgress?: (p: FetchProgress) => void): Promise<string> {
  let res: Response;
  try {
    res = await doFetch(url);
  } catch (err) {
    throw new CocoonError('unavailable', `GET ${url}: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}`);
  }
  if (!res.ok || !res.body) throw new CocoonError('unavailable', `GET ${url}: HTTP ${res.status}`);
  const totalHeader = res.headers.get('content-length');
  const total = totalHeader ? Number(totalHeader) : undefined;
  const name = path.basename(file);
  let bytes = 0;
  let lastReport = 0;
  const body = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
  body.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    // At most one progress report per 1% (or per 8 MiB without a length).
    const step = total ? total / 100 : 8 << 20;
    if (onProgress && bytes - lastReport >= step) {
      lastReport = bytes;
      onProgress({ file: name, bytes, ...(total !== undefined ? { total } : {}), phase: 'download' });
    }
  });
  await pipeline(body, createWriteStream(file));
  if (total !== undefined && bytes !== total) throw new CocoonError('unavailable', `GET ${url}: got ${bytes} of ${total} bytes`);
  onProgress?.({ file: name, bytes, ...(total !== undefined ? { total } : {}), phase: 'download' });
  return file;
}

async function optionalVersionTxt(doFetch: typeof fetch, url: string): Promise<string | undefined> {
  try {
    const res = await doFetch(url);
    if (!res.ok) return undefined;
    return /^FLATCAR_VERSION=(\S+)$/m.exec(await res.text())?.[1];
  } catch {
    return undefined;
  }
}

function gpgVerify(keyring: string, sig: string, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('gpgv', ['--keyring', path.resolve(keyring), sig, file], { timeout: 120_000 }, (err, _stdout, stderr) => {
      if (err) reject(new CocoonError('invalid', `${path.basename(file)}: GPG signature check failed: ${String(stderr).trim().split('\n').pop() ?? err.message}`));
      else resolve();
    });
  });
}
