import http from 'node:http';

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly body: string,
    readonly request: string,
  ) {
    super(`${request} -> HTTP ${status}: ${body.slice(0, 500)}`);
  }
}

export interface ApiResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * A small HTTP client of one Cocoon port inside a lab namespace, through the unix socket of
 * the namespace's forwarder (see unix-forward.ts).
 */
export class NetnsHttp {
  constructor(
    private readonly socketPath: string,
    /** Host header and base of error messages, e.g. http://10.77.0.1:4080 */
    readonly baseUrl: string,
    private readonly token?: string,
  ) {}

  request(method: string, urlPath: string, body?: unknown, timeoutMs = 10_000): Promise<ApiResponse> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { host: new URL(this.baseUrl).host, accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    return new Promise((resolve, reject) => {
      const req = http.request({ socketPath: this.socketPath, method, path: urlPath, headers, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${this.baseUrl}${urlPath}: no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** JSON request that must succeed (2xx); the error carries status and body. */
  async json<T>(method: string, urlPath: string, body?: unknown): Promise<T> {
    const res = await this.request(method, urlPath, body);
    if (res.status < 200 || res.status >= 300) throw new ApiError(res.status, res.body, `${method} ${this.baseUrl}${urlPath}`);
    return (res.body ? JSON.parse(res.body) : undefined) as T;
  }
}
