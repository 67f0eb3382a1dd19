import type { AgentFacts } from './facts.js';

/** Why enrollment did not produce a config; `kind` decides the exit code (see docs/first-stage.md). */
export class EnrollError extends Error {
  constructor(
    readonly kind: 'unreachable' | 'refused',
    message: string,
  ) {
    super(message);
    this.name = 'EnrollError';
  }
}

export interface EnrollOptions {
  /** Boot server base URL, e.g. http://10.77.0.1:4081 */
  server: string;
  facts: AgentFacts;
  /** Give up after this long while the server is unreachable (default 5 minutes). */
  deadlineMs?: number;
  /** First back-off; doubles per attempt up to maxDelayMs. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Per-attempt timeout. */
  attemptTimeoutMs?: number;
  /** Called before each wait, for a progress line on stderr. */
  onRetry?: (attempt: number, delayMs: number, reason: string) => void;
}

export interface EnrollResult {
  /** The final config exactly as served. */
  body: string;
  contentType: string;
  /** The serial the server filed the machine under (Cocoon-Serial header), when it says. */
  serial?: string;
}

/** Statuses that mean "a proxy or the server is not ready yet": wait and try again. */
const TRANSIENT = new Set([502, 503, 504]);

export async function enroll(opts: EnrollOptions): Promise<EnrollResult> {
  const url = new URL('enroll', opts.server.endsWith('/') ? opts.server : `${opts.server}/`).toString();
  const deadline = Date.now() + (opts.deadlineMs ?? 300_000);
  let delay = opts.initialDelayMs ?? 1000;
  const maxDelay = opts.maxDelayMs ?? 30_000;
  const payload = JSON.stringify(opts.facts);
  for (let attempt = 1; ; attempt++) {
    let reason: string;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, application/yaml, text/cloud-config' },
        body: payload,
        signal: AbortSignal.timeout(opts.attemptTimeoutMs ?? 60_000),
      });
      const body = await res.text();
      if (res.ok) return acceptConfig(res, body);
      if (!TRANSIENT.has(res.status)) throw new EnrollError('refused', `server refused enrollment: HTTP ${res.status} ${describeError(res, body)}`);
      reason = `HTTP ${res.status}`;
    } catch (err) {
      if (err instanceof EnrollError) throw err;
      reason = networkReason(err);
    }
    const wait = Math.min(delay, maxDelay, deadline - Date.now());
    if (wait <= 0) throw new EnrollError('unreachable', `server ${url} unreachable after ${attempt} attempts: ${reason}`);
    opts.onRetry?.(attempt, wait, reason);
    await new Promise((r) => setTimeout(r, wait));
    delay = Math.min(delay * 2, maxDelay);
  }
}

/**
 * A 2xx answer is only a config if it looks like one: Ignition JSON (an object with
 * ignition.version) or a cloud-config document. Anything else (an HTML error page from a proxy,
 * a problem+json) is refused, so garbage never reaches the disk.
 */
function acceptConfig(res: Response, body: string): EnrollResult {
  const contentType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  const serial = res.headers.get('cocoon-serial') ?? undefined;
  const result = (): EnrollResult => (serial ? { body, contentType, serial } : { body, contentType });
  if (contentType === 'application/json' || contentType === 'application/vnd.coreos.ignition+json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new EnrollError('refused', `server answered ${res.status} with ${contentType} that is not valid JSON`);
    }
    const version = (parsed as { ignition?: { version?: unknown } } | null)?.ignition?.version;
    if (typeof version !== 'string') throw new EnrollError('refused', `server answered ${res.status} with JSON that is not an Ignition config (no ignition.version)`);
    return result();
  }
  if (['text/cloud-config', 'application/yaml', 'text/yaml', 'application/x-yaml', 'text/x-yaml'].includes(contentType)) {
    if (!body.startsWith('#cloud-config')) throw new EnrollError('refused', `server answered ${res.status} with ${contentType} that does not start with #cloud-config`);
    return result();
  }
  throw new EnrollError('refused', `server answered ${res.status} with unexpected content type "${contentType || 'none'}"`);
}

/** One line: problem+json's detail/title when present, else the start of the body. */
function describeError(res: Response, body: string): string {
  if ((res.headers.get('content-type') ?? '').includes('json')) {
    try {
      const p = JSON.parse(body) as { detail?: unknown; title?: unknown; error?: unknown };
      const text = [p.title, p.detail, p.error].filter((v) => typeof v === 'string' && v).join(': ');
      if (text) return oneLine(text);
    } catch {
      // fall through to the raw body
    }
  }
  return oneLine(body) || res.statusText;
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat;
}

function networkReason(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
    if (cause?.code) return cause.code;
    if (err.name === 'TimeoutError') return 'timed out';
    return cause?.message ?? err.message;
  }
  return String(err);
}
