import os from 'node:os';
import type { Argv, CommandModule } from 'yargs';
import type { GlobalArgs } from '../context.js';
import { readEnvFile } from '../env-file.js';
import { ApiError, ReachError, UsageError } from '../errors.js';
import { ApiClient } from '../http-client.js';
import { machinePath, type Machine } from '../machine-fields.js';
import { printJson, stdout } from '../output.js';
import { parseEndpoint } from '../settings.js';

interface BootCompleteArgs extends GlobalArgs {
  osRelease: string;
  envFile: string;
  server?: string;
  serial?: string;
  setVersion?: string[];
  retryFor: number;
}

/**
 * What the installed OS reports. The server maps `os` to mayu's CoreOSVersion and keeps other
 * names in the record's Versions map; names ending in "Version" would set record fields directly,
 * so none is derived here (OSVersion is the operator's choice, not a report).
 */
export function versionsFromOsRelease(rel: Record<string, string>): Record<string, string> {
  const versions: Record<string, string> = {};
  if (rel.VERSION_ID) versions.os = rel.VERSION_ID;
  if (rel.ID) versions['os-id'] = rel.ID;
  if (rel.BUILD_ID) versions['os-build'] = rel.BUILD_ID;
  versions.kernel = os.release();
  return versions;
}

export const bootCompleteCommand: CommandModule<GlobalArgs, BootCompleteArgs> = {
  command: 'boot-complete',
  describe: 'On an installed machine: report its boot and versions',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('os-release', { type: 'string', default: '/etc/os-release', describe: 'os-release file to read the OS version from' })
      .option('env-file', { type: 'string', default: '/etc/cocoon/machine.env', describe: 'File the installer wrote (COCOON_SERVER, COCOON_SERIAL)' })
      .option('server', { type: 'string', describe: 'Boot server URL (default: COCOON_SERVER from the env file)' })
      .option('serial', { type: 'string', describe: 'This machine\'s serial (default: COCOON_SERIAL from the env file)' })
      .option('set-version', { type: 'string', array: true, describe: 'Extra NAME=VALUE to report, e.g. docker=24.0.9 or K8sVersion=1.30.2' })
      .option('retry-for', { type: 'number', default: 120, describe: 'Keep retrying this many seconds while the server is unreachable or busy' })
      .check((a) => {
        if (!Number.isFinite(a['retry-for']) || a['retry-for'] < 0) throw new Error('--retry-for: a number of seconds >= 0');
        return true;
      }) as unknown as Argv<BootCompleteArgs>,
  handler: async (argv) => {
    const needEnv = !argv.server || !argv.serial;
    const env = needEnv ? readEnvFile(argv.envFile, 'installer env file') : {};
    const serverText = argv.server ?? env.COCOON_SERVER;
    const serial = argv.serial ?? env.COCOON_SERIAL;
    if (!serverText) throw new UsageError(`no boot server: set COCOON_SERVER in ${argv.envFile} or pass --server`);
    if (!serial) throw new UsageError(`no serial: set COCOON_SERIAL in ${argv.envFile} or pass --serial`);
    const server = parseEndpoint(serverText, argv.server ? '--server' : `${argv.envFile}: COCOON_SERVER`);

    const versions = versionsFromOsRelease(readEnvFile(argv.osRelease, 'os-release file'));
    for (const kv of argv.setVersion ?? []) {
      const m = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,63})=(.+)$/.exec(kv);
      if (!m?.[1] || !m[2]) throw new UsageError(`--set-version: ${JSON.stringify(kv)} is not NAME=VALUE`);
      versions[m[1]] = m[2];
    }

    // The boot port has no tokens (machines hold no API secret), so none is sent there.
    const client = new ApiClient({ endpoint: server, insecure: false, tokenSource: 'none' });
    const deadline = Date.now() + argv.retryFor * 1000;
    let delay = 1000;
    try {
      for (;;) {
        try {
          const path = machinePath(serial, '/boot-complete').replace(/^\/api\/v1/, '');
          const machine = await client.json<Machine | undefined>('POST', path, { body: { versions } });
          if (argv.json) return printJson(machine ?? { serial, versions });
          stdout.write(`${serial}: boot-complete reported to ${server}${machine?.State ? ` (state ${machine.State})` : ''}\n`);
          return;
        } catch (err) {
          const retriable = err instanceof ReachError || (err instanceof ApiError && (err.status >= 500 || err.status === 429));
          if (!retriable || Date.now() + delay > deadline) throw err;
          process.stderr.write(`cocoonctl: ${err instanceof Error ? err.message : String(err)}; retrying in ${delay / 1000} s\n`);
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, 15_000);
        }
      }
    } finally {
      await client.close();
    }
  },
};
