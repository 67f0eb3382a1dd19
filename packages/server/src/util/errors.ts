/** Service-level error: the HTTP layer maps `kind` to a status and shows `message` to the user. */
export type ErrorKind = 'not-found' | 'invalid' | 'conflict' | 'exhausted' | 'forbidden' | 'unavailable' | 'internal';

export class CocoonError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    /** The input field at fault, e.g. "State" or "network.ip_range". */
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CocoonError';
  }
}

export function notFound(what: string, id: string): CocoonError {
  return new CocoonError('not-found', `${what} ${JSON.stringify(id)} does not exist`);
}

export function invalid(field: string, message: string): CocoonError {
  return new CocoonError('invalid', `${field}: ${message}`, field);
}
