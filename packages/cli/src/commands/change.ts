import { createInterface } from 'node:readline/promises';
import type { Argv, CommandModule } from 'yargs';
import { withClient, type GlobalArgs } from '../context.js';
import { CommandFailed, UsageError } from '../errors.js';
import { machinePath, SET_FIELD_NAMES, SET_FIELDS, type Machine } from '../machine-fields.js';
import { printJson, stdout } from '../output.js';

const reasonOption = { type: 'string', describe: 'Why (recorded in the git history)', requiresArg: true } as const;

function checkReason(reason: string | undefined, required: string | undefined): string | undefined {
  const r = reason?.trim();
  if (required && !r) throw new UsageError(`${required} needs --reason "<why>" (it goes into the machine's history)`);
  return r || undefined;
}

interface SetArgs extends GlobalArgs {
  serial: string;
  field: string;
  value: string;
  reason?: string;
}

export const setCommand: CommandModule<GlobalArgs, SetArgs> = {
  command: 'set <serial> <field> <value>',
  describe: 'Set one field of a machine',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional('serial', { type: 'string', demandOption: true })
      .positional('field', { type: 'string', demandOption: true, choices: SET_FIELD_NAMES, describe: 'Field name' })
      .positional('value', { type: 'string', demandOption: true, describe: 'New value ("" clears text fields)' })
      .option('reason', reasonOption)
      .epilog(`Fields:\n${SET_FIELD_NAMES.map((f) => `  ${f.padEnd(17)} ${SET_FIELDS[f]?.describe}; allowed: ${SET_FIELDS[f]?.allowed}`).join('\n')}`) as Argv<SetArgs>,
  handler: async (argv) => {
    const field = SET_FIELDS[argv.field];
    if (!field) throw new UsageError(`unknown field ${JSON.stringify(argv.field)}; allowed: ${SET_FIELD_NAMES.join(', ')}`);
    // yargs turns numeric-looking positionals into numbers; the value is text until the field parses it.
    const req = field.parse(String(argv.value));
    const reason = checkReason(argv.reason, req.kind === 'state' ? 'set state' : undefined);
    const machine = await withClient(argv, (c) =>
      req.kind === 'state'
        ? c.json<Machine>('PUT', machinePath(argv.serial, '/state'), { body: { state: req.state, reason } })
        : c.json<Machine>('PATCH', machinePath(argv.serial), { body: { ...req.patch, ...(reason ? { reason } : {}) } }),
    );
    if (argv.json) return printJson(machine);
    stdout.write(`${argv.serial}: ${argv.field} set to ${JSON.stringify(String(argv.value))}${machine?.State ? ` (state ${machine.State})` : ''}\n`);
  },
};

interface OverrideArgs extends GlobalArgs {
  serial: string;
  key: string;
  value?: string;
  unset: boolean;
  jsonValue: boolean;
  reason?: string;
}

const OVERRIDE_KEY = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;

export const overrideCommand: CommandModule<GlobalArgs, OverrideArgs> = {
  command: 'override <serial> <key> [value]',
  describe: 'Set or --unset a per-machine template override',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional('serial', { type: 'string', demandOption: true })
      .positional('key', { type: 'string', demandOption: true, describe: 'Template variable name' })
      .positional('value', { type: 'string', describe: 'Value (text unless --json-value)' })
      .option('unset', { type: 'boolean', default: false, describe: 'Remove the override instead of setting it' })
      .option('json-value', { type: 'boolean', default: false, describe: 'Parse the value as JSON (numbers, lists, objects)' })
      .option('reason', reasonOption)
      .check((a) => {
        if (a.unset && a.value !== undefined) throw new Error('--unset takes no value: override --unset <serial> <key>');
        if (!a.unset && a.value === undefined) throw new Error('missing value: override <serial> <key> <value> (or --unset <serial> <key>)');
        if (!OVERRIDE_KEY.test(String(a.key))) throw new Error(`override key ${JSON.stringify(a.key)} is not allowed; allowed: a letter or _ then letters, digits, _ . - (at most 128)`);
        return true;
      }) as unknown as Argv<OverrideArgs>,
  handler: async (argv) => {
    const reason = checkReason(argv.reason, undefined);
    let value: unknown = argv.value === undefined ? undefined : String(argv.value);
    if (argv.jsonValue && typeof value === 'string') {
      try {
        value = JSON.parse(value);
      } catch {
        throw new UsageError(`--json-value: ${JSON.stringify(argv.value)} is not JSON`);
      }
    }
    const path = machinePath(argv.serial, `/overrides/${encodeURIComponent(argv.key)}`);
    const machine = await withClient(argv, (c) =>
      argv.unset
        ? c.json<Machine>('DELETE', path, { query: { reason } })
        : c.json<Machine>('PUT', path, { body: { value, ...(reason ? { reason } : {}) } }),
    );
    if (argv.json) return printJson(machine);
    stdout.write(argv.unset ? `${argv.serial}: override ${argv.key} removed\n` : `${argv.serial}: override ${argv.key} = ${JSON.stringify(value)}\n`);
  },
};

interface ReinstallArgs extends GlobalArgs {
  serial: string;
  reason?: string;
}

export const reinstallCommand: CommandModule<GlobalArgs, ReinstallArgs> = {
  command: 'reinstall <serial>',
  describe: 'Reinstall on the next PXE boot (keeps IP, profile, machine-id)',
  builder: (y: Argv<GlobalArgs>) =>
    y.positional('serial', { type: 'string', demandOption: true }).option('reason', { ...reasonOption, demandOption: true }) as Argv<ReinstallArgs>,
  handler: async (argv) => {
    const reason = checkReason(argv.reason, 'reinstall');
    const machine = await withClient(argv, (c) => c.json<Machine>('PUT', machinePath(argv.serial, '/state'), { body: { state: 'configured', reason } }));
    if (argv.json) return printJson(machine);
    stdout.write(`${argv.serial}: will reinstall on its next PXE boot (state ${machine?.State ?? 'configured'})\n`);
  },
};

interface DecommissionArgs extends GlobalArgs {
  serial: string;
  reason?: string;
  yes: boolean;
}

export const decommissionCommand: CommandModule<GlobalArgs, DecommissionArgs> = {
  command: 'decommission <serial>',
  describe: 'Remove a machine (its history stays in git)',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional('serial', { type: 'string', demandOption: true })
      .option('reason', { ...reasonOption, demandOption: true })
      .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'Do not ask for confirmation' }) as Argv<DecommissionArgs>,
  handler: async (argv) => {
    const reason = checkReason(argv.reason, 'decommission');
    if (!argv.yes) await confirm(argv.serial);
    await withClient(argv, (c) => c.json<unknown>('DELETE', machinePath(argv.serial), { query: { reason } }));
    if (argv.json) return printJson({ serial: argv.serial, decommissioned: true });
    stdout.write(`${argv.serial}: decommissioned\n`);
  },
};

/** Only a person at a terminal can confirm; scripts must say --yes. */
async function confirm(serial: string): Promise<void> {
  if (!process.stdin.isTTY) throw new UsageError('decommission asks for confirmation, but stdin is not a terminal: add --yes');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`Decommission ${serial}? Its record is removed (history stays in git). Type the serial to confirm: `);
    if (answer.trim() !== serial) throw new CommandFailed('not confirmed; nothing changed');
  } finally {
    rl.close();
  }
}
