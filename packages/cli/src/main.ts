#!/usr/bin/env node
import { hideBin } from 'yargs/helpers';
import { run } from './cli.js';

// `cocoonctl list | head` closes stdout early; that is not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

// exitCode rather than exit(): pending stdout writes to a pipe must drain first.
process.exitCode = await run(hideBin(process.argv));
