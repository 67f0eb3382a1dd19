import { createInterface } from 'node:readline/promises';
import type { Argv, CommandModule } from 'yargs';
import { isIPv4 } from '@cocoon/server/util/ipv4';
import { withClient, type GlobalArgs } from '../context.js';
import { CommandFailed, UsageError } from '../errors.js';
import { machinePath, PROFILE_NAME, SET_FIELD_NAMES, SET_FIELDS, type Machine } from '../machine-fields.js';
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
    if (answer.trim() !== serial) throw new CommandFailed('cocoonctl: not confirmed; nothing changed');
  } finally {
    rl.close();
  }
}

interface RescueArgs extends GlobalArgs {
  serial: string;
  reason?: string;
}

export const rescueCommand: CommandModule<GlobalArgs, RescueArgs> = {
  command: 'rescue <serial>',
  describe: 'Boot the rescue image once, on the next PXE boot',
  builder: (y: Argv<GlobalArgs>) => y.positional('serial', { type: 'string', demandOption: true }).option('reason', { ...reasonOption, demandOption: true }) as Argv<RescueArgs>,
  handler: async (argv) => {
    const reason = checkReason(argv.reason, 'rescue');
    const machine = await withClient(argv, (c) => c.json<Machine>('POST', machinePath(argv.serial, '/rescue'), { body: { reason } }));
    if (argv.json) return printJson(machine);
    stdout.write(`${argv.serial}: boots the rescue image on its next PXE boot, once\n`);
  },
};

interface AddArgs extends GlobalArgs {
  mac: string;
  serial?: string;
  hostname?: string;
  ip?: string;
  profile?: string;
  reason?: string;
}

const MAC = /^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$/;
const HOSTNAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export const addCommand: CommandModule<GlobalArgs, AddArgs> = {
  command: 'add',
  aliases: ['declare'],
  describe: 'Declare a machine before its first boot (by MAC)',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('mac', { type: 'string', demandOption: true, requiresArg: true, describe: 'Its boot NIC, e.g. 52:54:00:12:34:56' })
      .option('serial', { type: 'string', requiresArg: true, describe: 'Serial to file it under (default: found at enrollment)' })
      .option('hostname', { type: 'string', requiresArg: true })
      .option('ip', { type: 'string', requiresArg: true, describe: 'Address from network.ip_range (a static DHCP lease)' })
      .option('profile', { type: 'string', requiresArg: true })
      .option('reason', reasonOption)
      .check((a) => {
        if (!MAC.test(String(a.mac))) throw new Error(`--mac: ${JSON.stringify(a.mac)} is not a MAC address; allowed: six hex pairs separated by : or -`);
        if (a.hostname !== undefined && !HOSTNAME.test(String(a.hostname))) throw new Error(`--hostname: ${JSON.stringify(a.hostname)} is not allowed; allowed: lower-case letters, digits and - (at most 63)`);
        if (a.ip !== undefined && !isIPv4(String(a.ip))) throw new Error(`--ip: ${JSON.stringify(a.ip)} is not an IPv4 address`);
        if (a.profile !== undefined && !PROFILE_NAME.test(String(a.profile))) throw new Error(`--profile: ${JSON.stringify(a.profile)} is not a profile name; allowed: lower-case letters, digits, - and _`);
        return true;
      }) as Argv<AddArgs>,
  handler: async (argv) => {
    const reason = checkReason(argv.reason, undefined);
    const body = {
      mac: argv.mac,
      ...(argv.serial !== undefined ? { serial: String(argv.serial) } : {}),
      ...(argv.hostname !== undefined ? { hostname: argv.hostname } : {}),
      ...(argv.ip !== undefined ? { ip: argv.ip } : {}),
      ...(argv.profile !== undefined ? { profile: argv.profile } : {}),
      ...(reason ? { reason } : {}),
    };
    const machine = await withClient(argv, (c) => c.json<Machine>('POST', '/api/v1/machines', { body }));
    if (argv.json) return printJson(machine);
    stdout.write(`${machine.Serial}: declared (MAC ${argv.mac}${machine.InternalAddr ? `, IP ${machine.InternalAddr}` : ''}${machine.Profile ? `, profile ${machine.Profile}` : ''})\n`);
  },
};
