import type { Agent, Response } from 'undici';
import { ApiError, ReachError, type Problem } from './errors.js';
import type { Connection } from './settings.js';

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** A rendered artefact or other non-JSON answer. */
export interface TextAnswer {
  contentType: string;
  body: string;
}

/**
 * The one place cocoonctl speaks HTTP: bearer token, TLS trust (--ca / --insecure) through undici's
 * dispatcher (Node 20's global fetch cannot take a CA), problem+json errors and unreachable
 * servers turned into ApiError / ReachError.
 */
// Loaded on first use: usage errors, --help and shell completion (run on every TAB) stay quick.
type Undici = Pick<typeof import('undici'), 'Agent' | 'fetch'>;
let undici: Promise<Undici> | undefined;
const loadUndici = (): Promise<Undici> => (undici ??= import('undici'));

export class ApiClient {
  private requestAgent?: Agent;
  private streamAgent?: Agent;

  constructor(readonly connection: Connection) {}

  /** Absolute URL of an API path; the endpoint may carry a base path (reverse proxy). */
  url(pathname: string, query?: Query): string {
    const url = new URL(this.connection.endpoint + pathname);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    return url.href;
  }

  async json<T>(method: string, pathname: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, pathname, opts, 'application/json');
    const text = await res.text();
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(res.status, { title: 'Invalid response', detail: `the server answered ${method} ${pathname} with a body that is not JSON` }, method, res.url);
    }
  }

  async text(pathname: string, opts: RequestOptions = {}): Promise<TextAnswer> {
    const res = await this.send('GET', pathname, opts, '*/*');
    return { contentType: res.headers.get('content-type') ?? 'application/octet-stream', body: await res.text() };
  }

  /** An open response whose body the caller reads (SSE); no body time-out, the caller watches idleness. */
  async stream(pathname: string, opts: RequestOptions = {}): Promise<Response> {
    this.streamAgent ??= await this.makeAgent({ headersTimeout: 30_000, bodyTimeout: 0 });
    return this.send('GET', pathname, opts, 'text/event-stream', this.streamAgent);
  }

  async close(): Promise<void> {
    await Promise.all([this.requestAgent?.close(), this.streamAgent?.close()]);
  }

  private async makeAgent(timeouts: { headersTimeout: number; bodyTimeout: number }): Promise<Agent> {
    const { ca, insecure } = this.connection;
    const { Agent } = await loadUndici();
    return new Agent({
      ...timeouts,
      connect: { timeout: 10_000, ...(ca ? { ca } : {}), ...(insecure ? { rejectUnauthorized: false } : {}) },
    });
  }

  private async send(method: string, pathname: string, opts: RequestOptions, accept: string, streamAgent?: Agent): Promise<Response> {
    const agent = streamAgent ?? (this.requestAgent ??= await this.makeAgent({ headersTimeout: 60_000, bodyTimeout: 60_000 }));
    const { fetch } = await loadUndici();
    const url = this.url(pathname, opts.query);
    const headers: Record<string, string> = { accept, 'user-agent': 'cocoonctl', ...opts.headers };
    if (this.connection.token) headers.authorization = `Bearer ${this.connection.token}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body, signal: opts.signal, dispatcher: agent });
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      throw new ReachError(this.connection.endpoint, describeNetworkError(err, this.connection), { cause: err });
    }
    if (res.ok) return res;
    throw new ApiError(res.status, await readProblem(res), method, url);
  }
}

async function readProblem(res: Response): Promise<Problem> {
  const type = res.headers.get('content-type') ?? '';
  const text = await res.text().catch(() => '');
  if (/json/i.test(type)) {
    try {
      const doc: unknown = JSON.parse(text);
      if (doc && typeof doc === 'object' && !Array.isArray(doc)) {
        const p = doc as Problem;
        return { ...p, title: typeof p.title === 'string' ? p.title : res.statusText || undefined, detail: typeof p.detail === 'string' ? p.detail : undefined };
      }
    } catch {
      // not JSON after all: fall through to the text form
    }
  }
  const firstLine = text.split('\n').find((l) => l.trim())?.trim().slice(0, 200);
  return { title: res.statusText || undefined, detail: firstLine };
}

const TLS_HINT = 'use --ca FILE to trust the server certificate (or --insecure to skip verification)';

/** fetch reports "fetch failed"; the useful part is the cause's code, sometimes inside an AggregateError. */
export function describeNetworkError(err: unknown, conn: Pick<Connection, 'endpoint' | 'caFile' | 'insecure'>): string {
  const cause = (err as { cause?: unknown }).cause ?? err;
  const inner = cause instanceof AggregateError && cause.errors.length ? cause.errors[0] : cause;
  const code = (inner as { code?: string }).code ?? '';
  const message = inner instanceof Error ? inner.message : String(inner);
  const known: Record<string, string> = {
    ECONNREFUSED: 'connection refused (is the Cocoon server running and listening there?)',
    ENOTFOUND: 'host name not found',
    EAI_AGAIN: 'host name lookup failed (temporary)',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    ECONNRESET: 'connection reset by the server',
    ETIMEDOUT: 'connection timed out',
    UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
    UND_ERR_HEADERS_TIMEOUT: 'the server did not answer in time',
    UND_ERR_SOCKET: 'the server closed the connection',
    EPROTO: `TLS handshake failed (does the endpoint really serve ${conn.endpoint.startsWith('https:') ? 'HTTPS' : 'HTTP'}?)`,
  };
  if (known[code]) return `${known[code]} [${code}]`;
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
    return `TLS certificate not trusted: ${message} [${code}]; ${conn.caFile ? `checked against ${conn.caFile}` : TLS_HINT}`;
  }
  return code ? `${message} [${code}]` : message;
}
