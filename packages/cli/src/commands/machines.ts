import type { Argv, CommandModule } from 'yargs';
import { MACHINE_STATES, type MachineState } from '@cocoon/server/lifecycle/states';
import { withClient, type GlobalArgs } from '../context.js';
import type { ApiClient, Query } from '../http-client.js';
import { asEventList, formatEventLine } from '../events.js';
import { summarizeHardware } from '../hardware.js';
import { COLUMNS, COLUMN_NAMES, compareMachines, machinePath, parseFields, type Machine } from '../machine-fields.js';
import { cell, formatFields, formatTable, formatTime, printJson, stdout } from '../output.js';

interface MachinePage {
  total: number;
  offset: number;
  limit: number;
  machines: Machine[];
}

const PAGE_SIZE = 1000;

/** Every machine matching the filter, page by page (the route answers at most 10 000 at a time). */
async function fetchMachines(client: ApiClient, filter: Query): Promise<Machine[]> {
  const out: Machine[] = [];
  for (let offset = 0; ; ) {
    const page = await client.json<MachinePage>('GET', '/api/v1/machines', { query: { ...filter, offset, limit: PAGE_SIZE } });
    const machines = Array.isArray(page?.machines) ? page.machines : [];
    out.push(...machines);
    offset += machines.length;
    if (machines.length === 0 || offset >= (page.total ?? 0)) return out;
  }
}

interface ListArgs extends GlobalArgs {
  fields?: string[];
  state?: MachineState;
  profile?: string;
  mac?: string;
}

export const listCommand: CommandModule<GlobalArgs, ListArgs> = {
  command: 'list',
  aliases: ['ls'],
  describe: 'List machines (sorted by IP)',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('fields', { type: 'string', array: true, describe: `Columns, comma-separated: ${COLUMN_NAMES.join(', ')}` })
      .option('state', { type: 'string', choices: MACHINE_STATES, describe: 'Only machines in this state' })
      .option('profile', { type: 'string', describe: 'Only machines of this profile' })
      .option('mac', { type: 'string', describe: 'Only the machine with this MAC address' })
      .example('$0 list --state failed --fields ip,serial,reason', '') as Argv<ListArgs>,
  handler: async (argv) => {
    const fields = parseFields(argv.fields);
    const machines = await withClient(argv, (c) => fetchMachines(c, { state: argv.state, profile: argv.profile, mac: argv.mac }));
    machines.sort(compareMachines);
    if (argv.json) return printJson(machines);
    if (!machines.length) {
      if (stdout.isTTY) process.stderr.write('no machines\n');
      return;
    }
    stdout.write(formatTable(fields.map((f) => COLUMNS[f].header), machines.map((m) => fields.map((f) => COLUMNS[f].value(m)))));
  },
};

interface StatusArgs extends GlobalArgs {
  serial?: string;
  events: number;
}

interface ServerStatus {
  version?: string;
  node?: string;
  startedAt?: string;
  uptimeSeconds?: number;
  machines?: { total?: number; byState?: Record<string, number> };
  git?: boolean;
  dnsmasq?: Record<string, unknown>;
  bootUrl?: string;
}

export const statusCommand: CommandModule<GlobalArgs, StatusArgs> = {
  command: 'status [serial]',
  aliases: ['show'],
  describe: 'Everything about one machine (or, without a serial, the server)',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional('serial', { type: 'string', describe: 'Machine serial' })
      .option('events', { type: 'number', default: 10, describe: 'How many recent timeline events to show (0: none)' })
      .check((a) => {
        if (!Number.isInteger(a.events) || a.events < 0) throw new Error('--events: a whole number >= 0');
        return true;
      }) as Argv<StatusArgs>,
  handler: async (argv) => {
    if (argv.serial === undefined) return serverStatus(argv);
    const serial = String(argv.serial);
    const { machine, timeline } = await withClient(argv, async (c) => {
      const machine = await c.json<Machine>('GET', machinePath(serial));
      const timeline = argv.events > 0 ? asEventList(await c.json<unknown>('GET', machinePath(serial, '/timeline'), { query: { limit: argv.events } })).slice(-argv.events) : [];
      return { machine, timeline };
    });
    if (argv.json) return printJson({ machine, timeline });
    stdout.write(formatMachine(machine));
    const hw = summarizeHardware(machine.Hardware);
    if (hw.length) stdout.write(`\nHardware\n${indent(formatFields(hw))}`);
    if (argv.events > 0) {
      stdout.write(`\nRecent events\n`);
      stdout.write(timeline.length ? indent(timeline.map(formatEventLine).join('\n') + '\n') : '  (none)\n');
    }
  },
};

async function serverStatus(argv: StatusArgs): Promise<void> {
  const s = await withClient(argv, (c) => c.json<ServerStatus>('GET', '/api/v1/status'));
  if (argv.json) return printJson(s);
  const byState = Object.entries(s.machines?.byState ?? {})
    .map(([state, n]) => `${n} ${state}`)
    .join(', ');
  const d = s.dnsmasq ?? {};
  let dnsmasq: string;
  if (d.enabled === false) dnsmasq = 'disabled (HTTP only)';
  else {
    const state = typeof d.state === 'string' ? d.state : 'stopped';
    const parts = [d.running ? `running${typeof d.pid === 'number' ? ` (pid ${d.pid})` : ''}` : `DOWN (${state})`];
    if (typeof d.restarts === 'number' && d.restarts > 0) parts.push(`${d.restarts} restart${d.restarts === 1 ? '' : 's'}`);
    if (typeof d.leases === 'number') parts.push(`${d.leases} lease${d.leases === 1 ? '' : 's'}`);
    if (typeof d.lastError === 'string' && d.lastError) parts.push(`last exit: ${d.lastError}`);
    dnsmasq = parts.join(', ');
  }
  stdout.write(
    formatFields([
      ['Server', s.version ? `cocoon ${s.version}${s.node ? ` (node ${s.node.replace(/^v/, '')})` : ''}` : undefined],
      ['Started', s.startedAt ? `${formatTime(s.startedAt)}${s.uptimeSeconds !== undefined ? ` (up ${formatDuration(s.uptimeSeconds)})` : ''}` : undefined],
      ['Machines', s.machines ? `${s.machines.total ?? 0}${byState ? ` (${byState})` : ''}` : undefined],
      ['Git audit', s.git === undefined ? undefined : s.git ? 'on' : 'off'],
      ['dnsmasq', dnsmasq],
      ['Boot URL', s.bootUrl],
    ]),
  );
}

function formatDuration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${seconds % 60}s` : `${seconds}s`;
}

function indent(text: string): string {
  return text.replace(/^(?=.)/gm, '  ');
}

/** What boot-complete reported besides the OS: mayu's *Version fields and the Versions map. */
function reportedVersions(m: Machine): string | undefined {
  const out: string[] = [];
  for (const [k, v] of Object.entries(m)) {
    if (k !== 'CoreOSVersion' && k !== 'OSVersion' && /^[A-Za-z0-9]+Version$/.test(k) && typeof v === 'string' && v) out.push(`${k.replace(/Version$/, '').toLowerCase()} ${v}`);
  }
  const more = m.Versions;
  if (more && typeof more === 'object') for (const [k, v] of Object.entries(more)) if (typeof v === 'string') out.push(`${k} ${v}`);
  return out.length ? out.join(', ') : undefined;
}

function formatMachine(m: Machine): string {
  const os = [m.OSName, m.OSVersion].filter(Boolean).join(' ');
  const overrides = Object.entries(m.Overrides ?? {}).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return formatFields([
    ['Serial', m.Serial],
    ['Hostname', m.Hostname],
    ['State', m.StateReason ? `${m.State} (${m.StateReason})` : m.State],
    ['Profile', m.Profile],
    ['IP', m.InternalAddr],
    ['MACs', cell(m.MacAddresses)],
    ['Connected NIC', m.ConnectedNIC],
    ['IPMI', m.IPMIAddr],
    ['Provider ID', m.ProviderId],
    ['Cabinet', m.Cabinet || m.MachineOnCabinet ? `${m.Cabinet}, position ${m.MachineOnCabinet}` : undefined],
    ['Etcd token', m.EtcdClusterToken],
    ['Metadata', cell(m.FleetMetadata)],
    ['Machine ID', m.MachineID],
    ['Identity from', m.IdentitySource],
    ['OS (chosen)', os || undefined],
    ['OS (running)', m.CoreOSVersion],
    ['Reported', reportedVersions(m)],
    ['Overrides', overrides.join(', ')],
    ['First seen', formatTime(m.FirstSeen)],
    ['Installed at', formatTime(m.InstalledAt)],
    ['Last boot', formatTime(m.LastBoot)],
    ['Boot count', m.BootCount === undefined ? undefined : String(m.BootCount)],
    ...(m.RescuePending ? ([['Rescue', 'pending (next boot)']] as [string, string][]) : []),
  ]);
}
