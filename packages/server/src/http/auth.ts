import { createHash } from 'node:crypto';
import type { Request } from 'express';
import type { CocoonConfig, TokenConfig } from '../config/types.js';
import { HttpError } from './problem.js';

/** What a route needs: nothing, a read or admin token, or whatever auth.compat_admin says. */
export type RouteAuth = 'public' | 'read' | 'admin' | 'compat-admin';

export interface Principal {
  /** Recorded as the operator in audit commits. */
  name: string;
  scope: 'read' | 'admin';
}

/** The operator recorded when nobody authenticated (auth.mode none, or open mayu admin routes). */
export const ANONYMOUS_OPERATOR = 'anonymous';
export const MAYU_COMPAT_OPERATOR = 'mayu-compat';

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="cocoon"' };

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Bearer-token authentication. Tokens are looked up by their SHA-256 digest, so the comparison
 * never works character by character on the secret itself (no timing side channel).
 */
export class Authenticator {
  private readonly byDigest = new Map<string, TokenConfig>();

  constructor(private readonly auth: CocoonConfig['auth']) {
    for (const t of auth.tokens) this.byDigest.set(digest(t.token), t);
  }

  /** compat_admin: off means the mayu admin routes do not exist at all. */
  get compatAdminEnabled(): boolean {
    return this.auth.compat_admin !== 'off';
  }

  /** Throws a 401/403 HttpError, or returns who is asking. */
  authorize(req: Request, need: RouteAuth): Principal | undefined {
    if (need === 'public') return undefined;
    if (need === 'compat-admin' && this.auth.compat_admin === 'open') return { name: MAYU_COMPAT_OPERATOR, scope: 'admin' };
    if (this.auth.mode === 'none') return { name: ANONYMOUS_OPERATOR, scope: 'admin' };

    const header = req.headers.authorization;
    if (!header) throw new HttpError(401, 'a bearer token is required (Authorization: Bearer <token>)', 'Authorization', CHALLENGE);
    const m = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
    if (!m?.[1]) throw new HttpError(401, 'the Authorization header must be "Bearer <token>"', 'Authorization', CHALLENGE);
    const token = this.byDigest.get(digest(m[1]));
    if (!token) throw new HttpError(401, 'the bearer token is not valid', 'Authorization', CHALLENGE);
    const wanted = need === 'read' ? 'read' : 'admin';
    if (wanted === 'admin' && token.scope !== 'admin') {
      throw new HttpError(403, `token ${JSON.stringify(token.name)} has scope "read"; this operation needs scope "admin"`);
    }
    return { name: token.name, scope: token.scope };
  }
}
