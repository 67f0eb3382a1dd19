import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import type { FetchProgress } from '@cocoon/server/images';
import type { GlobalArgs } from '../context.js';
import { CommandFailed, UsageError } from '../errors.js';
import { formatBytes, formatTable, formatTime, printJson, stdout } from '../output.js';

/**
 * OS images are files on the provisioner host, so these commands work there, offline, on the
 * images directory (the same code the server uses to serve them), not through the API.
 */
interface ImagesArgs extends GlobalArgs {
  imagesDir?: string;
  config?: string;
}

async function imagesDir(argv: ImagesArgs): Promise<string> {
  if (argv.imagesDir) return path.resolve(argv.imagesDir);
  const file = argv.config ?? process.env.COCOON_CONFIG;
  if (!file) throw new UsageError('say where the images are: --images-dir DIR, or --config FILE (the server configuration; env COCOON_CONFIG)');
  const { readConfigFile, ConfigError } = await import('@cocoon/server/config');
  try {
    return readConfigFile(file).paths.images_dir;
  } catch (err) {
    if (err instanceof ConfigError) throw new CommandFailed(err.message);
    throw err;
  }
}

/** The image library reports CocoonErrors with a clear message: show it, exit 1. */
async function library<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof Error && err.name === 'CocoonError') throw new CommandFailed(`cocoonctl: ${err.message}`);
    throw err;
  }
}

const listCommand: CommandModule<ImagesArgs, ImagesArgs> = {
  command: 'list',
  describe: 'OS image versions in the images directory',
  handler: async (argv) => {
    const { listImages } = await import('@cocoon/server/images');
    const images = await library(async () => listImages(await imagesDir(argv)));
    if (argv.json) return printJson(images);
    if (!images.length) {
      process.stderr.write('no images\n');
      return;
    }
    stdout.write(
      formatTable(
        ['OS', 'VERSION', 'CHANNEL', 'LAYOUT', 'FILES', 'SIZE', 'ADDED', 'NOTE'],
        images.map((i) => [i.os, i.version, i.channel ?? '-', i.layout, String(i.files), formatBytes(i.bytes), formatTime(i.createdAt), i.problem ?? '']),
      ),
    );
  },
};

interface VerifyArgs extends ImagesArgs {
  os: string;
  version: string;
}

const verifyCommand: CommandModule<ImagesArgs, VerifyArgs> = {
  command: 'verify <os> <version>',
  describe: 'Re-hash every file of an image version against its manifest',
  builder: (y) => y.positional('os', { type: 'string', demandOption: true }).positional('version', { type: 'string', demandOption: true }) as Argv<VerifyArgs>,
  handler: async (argv) => {
    const { verifyImage } = await import('@cocoon/server/images');
    const result = await library(async () => verifyImage(await imagesDir(argv), argv.os, String(argv.version)));
    if (argv.json) printJson({ os: argv.os, version: String(argv.version), ...result });
    if (!result.ok) throw new CommandFailed(`cocoonctl: image ${argv.os} ${argv.version} is damaged:\n${result.problems.map((p) => `  - ${p}`).join('\n')}`);
    if (!argv.json) stdout.write(`image ${argv.os} ${argv.version}: ${result.checked} files match the manifest\n`);
  },
};

interface FetchArgs extends ImagesArgs {
  os: string;
  channel: string;
  version: string;
  baseUrl?: string;
  gpgKeyring?: string;
}

const fetchCommand: CommandModule<ImagesArgs, FetchArgs> = {
  command: 'fetch <os>',
  describe: 'Download an OS release (flatcar) and check it against the published digests',
  builder: (y) =>
    y
      .positional('os', { type: 'string', choices: ['flatcar'], demandOption: true })
      .option('channel', { type: 'string', default: 'stable', describe: 'Release channel' })
      .option('version', { type: 'string', default: 'current', describe: 'Release version (or "current")' })
      .option('base-url', { type: 'string', describe: 'Mirror to download from (default: the channel\'s release server)' })
      .option('gpg-keyring', { type: 'string', describe: 'Check the .sig files with gpgv against this keyring' }) as unknown as Argv<FetchArgs>,
  handler: async (argv) => {
    const { fetchFlatcar } = await import('@cocoon/server/images');
    const dest = await imagesDir(argv);
    const progress = new FetchProgressView(stdout.isTTY && !argv.json);
    const result = await library(() =>
      fetchFlatcar({
        channel: argv.channel,
        version: String(argv.version),
        dest,
        ...(argv.baseUrl ? { baseUrl: argv.baseUrl } : {}),
        ...(argv.gpgKeyring ? { gpgKeyring: argv.gpgKeyring } : {}),
        onProgress: (p) => progress.update(p),
      }),
    ).finally(() => progress.end());
    if (argv.json) return printJson(result);
    stdout.write(`flatcar ${result.manifest.version} (${argv.channel}) is in ${result.dir}; signatures ${result.signatures}\n`);
  },
};

interface AddArgs extends ImagesArgs {
  os: string;
  version: string;
  files: string[];
  channel?: string;
  install?: string;
  kernel?: string;
  initrd?: string;
}

const addCommand: CommandModule<ImagesArgs, AddArgs> = {
  command: 'add <os> <version> <files..>',
  describe: 'Add an image version from local files (hashes them and writes the manifest)',
  builder: (y) =>
    y
      .positional('os', { type: 'string', demandOption: true })
      .positional('version', { type: 'string', demandOption: true })
      .positional('files', { type: 'string', array: true, demandOption: true })
      .option('channel', { type: 'string' })
      .option('install', { type: 'string', describe: 'Which file is the disk image the first stage writes' })
      .option('kernel', { type: 'string', describe: 'Which file is the PXE kernel' })
      .option('initrd', { type: 'string', describe: 'Which file is the PXE initrd' }) as Argv<AddArgs>,
  handler: async (argv) => {
    const { addImage } = await import('@cocoon/server/images');
    const files = argv.files.map(String);
    const names = files.map((f) => path.basename(f));
    for (const role of ['install', 'kernel', 'initrd'] as const) {
      const name = argv[role];
      if (name !== undefined && !names.includes(name)) throw new UsageError(`--${role}: ${JSON.stringify(name)} is not one of the files given (${names.join(', ')})`);
    }
    const dir = await imagesDir(argv);
    const manifest = await library(() =>
      addImage({
        imagesDir: dir,
        os: argv.os,
        version: String(argv.version),
        files,
        ...(argv.channel ? { channel: argv.channel } : {}),
        ...(argv.install ? { install: argv.install } : {}),
        ...(argv.kernel ? { kernel: argv.kernel } : {}),
        ...(argv.initrd ? { initrd: argv.initrd } : {}),
      }),
    );
    if (argv.json) return printJson(manifest);
    stdout.write(`image ${manifest.os} ${manifest.version} added (${Object.keys(manifest.files).length} files)\n`);
  },
};

export const imagesCommand: CommandModule<GlobalArgs, ImagesArgs> = {
  command: 'images <command>',
  describe: 'OS images on this provisioner host (offline)',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('images-dir', { type: 'string', requiresArg: true, describe: 'The images directory' })
      .option('config', { type: 'string', requiresArg: true, describe: 'Server configuration to take paths.images_dir from (env COCOON_CONFIG)' })
      .command(listCommand)
      .command(verifyCommand)
      .command(fetchCommand)
      .command(addCommand)
      .demandCommand(1, 'name an images subcommand: list, verify, fetch, add') as unknown as Argv<ImagesArgs>,
  handler: () => undefined,
};

/** Download progress: a redrawn line on a terminal, one line per finished file otherwise. */
class FetchProgressView {
  constructor(private readonly live: boolean) {}

  update(p: FetchProgress): void {
    if (this.live) {
      const amount = p.total ? `${formatBytes(p.bytes)} / ${formatBytes(p.total)} (${Math.floor((p.bytes / p.total) * 100)}%)` : formatBytes(p.bytes);
      process.stdout.write(`\r\x1b[2K${p.phase === 'verify' ? `verifying ${p.file}` : `${p.file}: ${amount}`}`);
      if (p.phase === 'done') process.stdout.write(`\r\x1b[2K${p.file}: verified\n`);
    } else if (p.phase === 'done') {
      process.stderr.write(`${p.file}: downloaded and verified\n`);
    }
  }

  end(): void {
    if (this.live) process.stdout.write('\r\x1b[2K');
  }
}
