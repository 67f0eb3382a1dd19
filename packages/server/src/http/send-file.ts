import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import { HttpError } from './problem.js';

export interface SendFileOptions {
  contentType?: string;
  /** A strong validator when the caller knows the content hash (image manifests carry sha256). */
  sha256?: string;
  /** Called when the client went away mid-transfer (normal for iPXE retries; not an error). */
  onAbort?: (err: unknown) => void;
}

interface ByteRange {
  start: number;
  end: number;
}

/**
 * Parse a Range header for a file of `size` bytes. Only one range is served; anything else
 * (several ranges, another unit, nonsense, or a start beyond the end) is a 416.
 */
export function parseRange(header: string, size: number): ByteRange | 'unsatisfiable' {
  const m = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return 'unsatisfiable';
  const [, a = '', b = ''] = m;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

function etagOf(size: number, mtimeMs: number, sha256?: string): string {
  return sha256 ? `"${sha256}"` : `W/"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`;
}

function matchesAny(header: string, etag: string): boolean {
  const weak = (t: string): string => t.replace(/^W\//, '');
  return header.split(',').some((t) => t.trim() === '*' || weak(t.trim()) === weak(etag));
}

/**
 * Stream one file with Content-Length, ETag, Last-Modified, single Range and HEAD. The file is
 * opened once and its size taken from that descriptor, so a file replaced meanwhile cannot give
 * a Content-Length that does not match the bytes sent. Nothing is read into memory as a whole.
 */
export async function sendFile(req: Request, res: Response, file: string, opts: SendFileOptions = {}): Promise<void> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') throw new HttpError(404, 'the file does not exist on this server');
    throw err;
  }
  let handedOver = false;
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new HttpError(404, 'the file does not exist on this server');
    const etag = etagOf(st.size, st.mtimeMs, opts.sha256);
    res.setHeader('ETag', etag);
    res.setHeader('Last-Modified', st.mtime.toUTCString());
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('Content-Type', opts.contentType ?? 'application/octet-stream');

    const inm = req.headers['if-none-match'];
    if (inm && matchesAny(inm, etag)) {
      res.status(304).end();
      return;
    }

    let range: ByteRange | undefined;
    const rangeHeader = req.headers.range;
    const ifRange = req.headers['if-range'];
    // If-Range with a stale validator means "send the whole new file", not an error.
    if (rangeHeader && (!ifRange || ifRange === etag || ifRange === st.mtime.toUTCString())) {
      const r = parseRange(rangeHeader, st.size);
      if (r === 'unsatisfiable') {
        throw new HttpError(416, `range ${JSON.stringify(rangeHeader)} cannot be served for a file of ${st.size} bytes (one range, bytes=start-end)`, 'Range', {
          'Content-Range': `bytes */${st.size}`,
        });
      }
      range = r;
    }

    const start = range?.start ?? 0;
    const end = range?.end ?? st.size - 1;
    const length = st.size === 0 ? 0 : end - start + 1;
    if (range) {
      res.status(206);
      res.setHeader('Content-Range', `bytes ${start}-${end}/${st.size}`);
    } else res.status(200);
    res.setHeader('Content-Length', String(length));

    if (req.method === 'HEAD' || length === 0) {
      res.end();
      return;
    }
    const stream = createReadStream('', { fd: handle, start, end, autoClose: true, highWaterMark: 256 * 1024 });
    handedOver = true;
    try {
      await pipeline(stream, res);
    } catch (err) {
      opts.onAbort?.(err);
    }
  } finally {
    if (!handedOver) await handle.close();
  }
}
