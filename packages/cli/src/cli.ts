import yargs, { type Argv } from 'yargs';
import { bootCompleteCommand } from './commands/boot-complete.js';
import { addCommand, decommissionCommand, overrideCommand, reinstallCommand, rescueCommand, setCommand } from './commands/change.js';
import { configCommand } from './commands/config.js';
import { imagesCommand } from './commands/images.js';
import { historyCommand, renderCommand } from './commands/inspect.js';
import { logsCommand } from './commands/logs.js';
import { listCommand, statusCommand } from './commands/machines.js';
import { versionCommand } from './commands/version.js';
import type { GlobalArgs } from './context.js';
import { ApiError, CommandFailed, exitCodeOf, oneLine, ReachError, UsageError } from './errors.js';

const PROGRAM = 'cocoonctl';

export function buildParser(args: string[]): Argv<GlobalArgs> {
  return yargs(args)
    .scriptName(PROGRAM)
    .usage('$0 <command> [options]\n\nManage the machines of a Cocoon provisioner through its REST API.')
    .option('endpoint', { type: 'string', requiresArg: true, describe: 'API URL (env COCOON_ENDPOINT; default http://127.0.0.1:4080)' })
    .option('token', { type: 'string', requiresArg: true, describe: 'API bearer token (env COCOON_TOKEN, or token in the settings file)' })
    .option('ca', { type: 'string', requiresArg: true, describe: 'PEM file of the CA that signed the API certificate (env COCOON_CA)' })
    .option('insecure', { type: 'boolean', describe: 'Do not verify the API certificate' })
    .option('json', { type: 'boolean', default: false, describe: 'Machine-readable JSON output' })
    .option('debug', { type: 'boolean', default: false, describe: 'Show stack traces of failures' })
    .group(['endpoint', 'token', 'ca', 'insecure', 'json', 'debug', 'help'], 'Global options:')
    .command(listCommand)
    .command(statusCommand)
    .command(setCommand)
    .command(overrideCommand)
    .command(reinstallCommand)
    .command(rescueCommand)
    .command(addCommand)
    .command(decommissionCommand)
    .command(historyCommand)
    .command(renderCommand)
    .command(logsCommand)
    .command(bootCompleteCommand)
    .command(configCommand)
    .command(imagesCommand)
    .command(versionCommand)
    .completion('completion', 'Print a bash/zsh completion script')
    .epilog('Settings file: $XDG_CONFIG_HOME/cocoon/cli.yaml (endpoint, token, ca, insecure).\nExit codes: 0 ok, 1 request failed, 2 usage error.')
    .demandCommand(1, 'name a command (cocoonctl --help lists them)')
    .recommendCommands()
    .strict()
    .version(false)
    .help('help')
    .alias('help', 'h')
    .wrap(Math.min(120, process.stdout.columns || 120))
    .showHelpOnFail(false)
    .exitProcess(false)
    .fail((msg, err) => {
      // Validation failures come as a message; errors from checks come as err; keep failures of
      // the command itself (API, network) as they are.
      if (err && (err instanceof ApiError || err instanceof ReachError || err instanceof CommandFailed || err instanceof UsageError)) throw err;
      if (err && err.name !== 'YError' && !msg) throw err;
      const text = msg || err?.message || 'invalid command line';
      // recommendCommands() words an unknown command as a bare suggestion; name the command too.
      throw new UsageError(text.startsWith('Did you mean') ? `unknown command ${JSON.stringify(firstWord(args))}. ${text}` : text);
    }) as unknown as Argv<GlobalArgs>;
}

/** Run cocoonctl with these arguments; resolves to the exit code. Never throws. */
export async function run(args: string[]): Promise<number> {
  const debug = args.includes('--debug');
  try {
    await buildParser(args).parseAsync();
    return 0;
  } catch (err) {
    report(err, debug);
    return exitCodeOf(err);
  }
}

function report(err: unknown, debug: boolean): void {
  if (debug && err instanceof Error && err.stack) {
    process.stderr.write(`${err.stack}\n`);
    if (err.cause) process.stderr.write(`cause: ${err.cause instanceof Error ? (err.cause.stack ?? err.cause.message) : String(err.cause)}\n`);
  }
  if (err instanceof UsageError) {
    process.stderr.write(`${PROGRAM}: ${err.message}\nRun "${PROGRAM} --help" (or "${PROGRAM} <command> --help") for usage.\n`);
  } else if (err instanceof ApiError) {
    process.stderr.write(`${PROGRAM}: ${err.message}${hint(err)}\n`);
  } else if (err instanceof ReachError) {
    process.stderr.write(`${PROGRAM}: ${err.message}\n`);
  } else if (err instanceof CommandFailed) {
    process.stderr.write(`${err.message}\n`);
  } else if (err instanceof Error) {
    process.stderr.write(`${PROGRAM}: ${oneLine(err.message)}${debug ? '' : ' (--debug shows details)'}\n`);
  } else {
    process.stderr.write(`${PROGRAM}: ${String(err)}\n`);
  }
}

const COMMAND_GROUPS = new Set(['config', 'images']);

/** The word yargs could not match: the first positional, or the one after a command group. */
function firstWord(args: string[]): string {
  const words = args.filter((a) => !a.startsWith('-'));
  return (COMMAND_GROUPS.has(words[0] ?? '') ? words[1] : words[0]) ?? '';
}

function hint(err: ApiError): string {
  if (err.status === 401) return ' (set --token, COCOON_TOKEN or token in the settings file)';
  return '';
}
