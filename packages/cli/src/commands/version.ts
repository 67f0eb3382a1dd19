import { readFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { withClient, type GlobalArgs } from '../context.js';
import { printJson, stdout } from '../output.js';

export function clientVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

interface ServerStatus {
  version?: string;
  [more: string]: unknown;
}

export const versionCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'version',
  describe: 'Client and server versions',
  builder: (y: Argv<GlobalArgs>) => y,
  handler: async (argv) => {
    const client = clientVersion();
    // The client line comes first so it is there even when the server cannot be asked.
    if (!argv.json) stdout.write(`client: cocoonctl ${client} (node ${process.versions.node})\n`);
    const status = await withClient(argv, (c) => c.json<ServerStatus>('GET', '/api/v1/status'));
    const server = typeof status?.version === 'string' ? status.version : 'unknown';
    if (argv.json) return printJson({ client, server, node: process.versions.node });
    stdout.write(`server: cocoon ${server}\n`);
  },
};
