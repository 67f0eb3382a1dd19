import type { Argv, CommandModule } from 'yargs';
import type { HistoryEntry } from '@cocoon/server/store/types';
import { withClient, type GlobalArgs } from '../context.js';
import { machinePath } from '../machine-fields.js';
import { formatTime, printJson, stdout } from '../output.js';

interface HistoryArgs extends GlobalArgs {
  serial: string;
  patch: boolean;
  limit?: number;
}

function asHistory(doc: unknown): HistoryEntry[] {
  const list = Array.isArray(doc) ? doc : (doc as { history?: unknown; entries?: unknown } | null)?.history ?? (doc as { entries?: unknown } | null)?.entries;
  return Array.isArray(list) ? (list as HistoryEntry[]) : [];
}

export const historyCommand: CommandModule<GlobalArgs, HistoryArgs> = {
  command: 'history <serial>',
  aliases: ['log'],
  describe: "A machine's git history, newest first",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional('serial', { type: 'string', demandOption: true })
      .option('patch', { alias: 'p', type: 'boolean', default: false, describe: 'Show the diff of each change' })
      .option('limit', { alias: 'n', type: 'number', describe: 'At most this many entries' })
      .check((a) => {
        if (a.limit !== undefined && (!Number.isInteger(a.limit) || a.limit < 1)) throw new Error('--limit: a whole number >= 1');
        return true;
      }) as Argv<HistoryArgs>,
  handler: async (argv) => {
    const doc = await withClient(argv, (c) => c.json<unknown>('GET', machinePath(argv.serial, '/history'), { query: { patch: argv.patch ? 1 : undefined, limit: argv.limit } }));
    const entries = asHistory(doc);
    if (argv.json) return printJson(entries);
    const blocks = entries.map((e) => {
      const head = `commit ${e.commit}\nAuthor: ${e.author}\nDate:   ${formatTime(e.date)}\n\n${e.message.trimEnd().replace(/^/gm, '    ')}\n`;
      return e.patch ? `${head}\n${e.patch.trimEnd()}\n` : head;
    });
    stdout.write(blocks.join('\n'));
  },
};

export const RENDER_KINDS = ['ipxe', 'first-stage', 'ignition', 'config'] as const;

interface RenderArgs extends GlobalArgs {
  serial: string;
  kind: (typeof RENDER_KINDS)[number];
}

export const renderCommand: CommandModule<GlobalArgs, RenderArgs> = {
  command: 'render <serial> <kind>',
  describe: 'Preview what a machine would be served',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional('serial', { type: 'string', demandOption: true })
      .positional('kind', { type: 'string', choices: RENDER_KINDS, demandOption: true, describe: 'config = the final config in the profile\'s format' }) as Argv<RenderArgs>,
  handler: async (argv) => {
    const answer = await withClient(argv, (c) => c.text(machinePath(argv.serial, `/render/${argv.kind}`)));
    if (argv.json) return printJson({ serial: argv.serial, kind: argv.kind, contentType: answer.contentType, body: answer.body });
    stdout.write(answer.body.endsWith('\n') ? answer.body : `${answer.body}\n`);
  },
};
