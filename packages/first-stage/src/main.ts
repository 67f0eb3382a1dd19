#!/usr/bin/env node
// cocoon-agent: collects hardware facts, enrolls the machine, writes the final config.
// Exit codes: 0 ok, 1 internal error, 2 usage, 3 server unreachable, 4 server refused.
import { rename, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { collectFacts } from './collect/index.js';
import { EnrollError, enroll } from './enroll.js';

const USAGE = `usage: cocoon-agent --server URL [--serial-hint SERIAL] [--out FILE] [--info FILE]
                    [--root DIR] [--timeout SECONDS] [--no-ipmi] [--dry-run]
  --server URL        boot server base URL (POSTs facts to URL/enroll)
  --serial-hint S     the serial the first-stage script was rendered for
  --out FILE          write the final config here (default: stdout)
  --info FILE         write shell assignments (COCOON_SERIAL=...) for the first-stage script
  --root DIR          read sysfs/procfs below DIR (default /)
  --timeout SECONDS   give up after this long while the server is unreachable (default 300)
  --no-ipmi           do not run ipmitool
  --dry-run           print the facts as JSON and exit without contacting the server
exit codes: 0 ok, 1 internal error, 2 usage, 3 server unreachable, 4 server refused`;

function fail(code: number, message: string): never {
  process.stderr.write(`cocoon-agent: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        server: { type: 'string' },
        'serial-hint': { type: 'string' },
        out: { type: 'string' },
        info: { type: 'string' },
        root: { type: 'string', default: '/' },
        timeout: { type: 'string', default: '300' },
        'no-ipmi': { type: 'boolean', default: false },
        'dry-run': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    fail(2, `${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const timeout = Number(values.timeout);
  if (!Number.isFinite(timeout) || timeout < 0) fail(2, `--timeout must be a number of seconds, got "${values.timeout}"`);
  if (!values['dry-run']) {
    if (!values.server) fail(2, '--server URL is required');
    try {
      const u = new URL(values.server);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http');
    } catch {
      fail(2, `--server must be an http(s) URL, got "${values.server}"`);
    }
  }

  const facts = await collectFacts({
    root: values.root,
    ipmitool: values['no-ipmi'] ? false : 'ipmitool',
    ...(values['serial-hint'] ? { serialHint: values['serial-hint'] } : {}),
  });
  if (values['dry-run']) {
    process.stdout.write(`${JSON.stringify(facts, null, 2)}\n`);
    return;
  }

  try {
    const result = await enroll({
      server: values.server!,
      facts,
      deadlineMs: timeout * 1000,
      onRetry: (attempt, delayMs, reason) =>
        process.stderr.write(`cocoon-agent: attempt ${attempt} failed (${reason}); retrying in ${Math.round(delayMs / 100) / 10}s\n`),
    });
    if (values.out) await writeAtomic(values.out, result.body);
    else process.stdout.write(result.body);
    if (values.info) {
      const serial = result.serial ?? values['serial-hint'] ?? '';
      await writeAtomic(values.info, `COCOON_SERIAL=${shellQuote(serial)}\nCOCOON_CONFIG_TYPE=${shellQuote(result.contentType)}\n`);
    }
  } catch (err) {
    if (err instanceof EnrollError) fail(err.kind === 'unreachable' ? 3 : 4, err.message);
    throw err;
  }
}

/** The config appears complete or not at all: a half-written file must never be installed. */
async function writeAtomic(file: string, body: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, body);
  await rename(tmp, file);
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

main().catch((err: unknown) => fail(1, `internal error: ${err instanceof Error ? err.message : String(err)}`));
