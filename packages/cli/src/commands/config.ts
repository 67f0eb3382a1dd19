import type { Argv, CommandModule } from 'yargs';
import type { GlobalArgs } from '../context.js';
import { CommandFailed } from '../errors.js';
import { printJson, stdout } from '../output.js';

interface ValidateArgs extends GlobalArgs {
  file: string;
}

const validateCommand: CommandModule<GlobalArgs, ValidateArgs> = {
  command: 'validate <file>',
  describe: 'Check a server configuration file offline (same schema and checks as the server)',
  builder: (y: Argv<GlobalArgs>) => y.positional('file', { type: 'string', demandOption: true, describe: 'config.yaml' }) as Argv<ValidateArgs>,
  handler: async (argv) => {
    // Loaded on demand: ajv and the schema are only needed here, not on every cocoonctl start.
    const { readConfigFile, ConfigError } = await import('@cocoon/server/config');
    try {
      const cfg = readConfigFile(argv.file);
      const summary = { valid: true, source: cfg.source, profiles: cfg.profiles.map((p) => p.name), declaredMachines: cfg.machines.length };
      if (argv.json) return printJson(summary);
      stdout.write(`configuration ${cfg.source} is valid (profiles: ${summary.profiles.join(', ')}; declared machines: ${summary.declaredMachines})\n`);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      if (argv.json) printJson({ valid: false, source: err.source, problems: err.problems });
      throw new CommandFailed(err.message);
    }
  },
};

export const configCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'config <command>',
  describe: 'Server configuration tools',
  builder: (y: Argv<GlobalArgs>) => y.command(validateCommand).demandCommand(1, 'name a config subcommand: validate'),
  handler: () => undefined,
};
