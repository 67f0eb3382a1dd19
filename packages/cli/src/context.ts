import { ApiClient } from './http-client.js';
import { resolveConnection } from './settings.js';

/** Options every command accepts (see cli.ts). */
export interface GlobalArgs {
  endpoint?: string;
  token?: string;
  ca?: string;
  insecure?: boolean;
  json: boolean;
  debug: boolean;
}

/** Build the API client from the global options, run `fn`, and always release the sockets. */
export async function withClient<T>(argv: GlobalArgs, fn: (client: ApiClient) => Promise<T>): Promise<T> {
  const client = new ApiClient(resolveConnection({ endpoint: argv.endpoint, token: argv.token, ca: argv.ca, insecure: argv.insecure }));
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}
