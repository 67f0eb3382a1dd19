#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ConfigError, applyConfigOverrides, readConfigFile, type CocoonConfig } from './config/index.js';
import { runServer } from './server.js';

// Thin command line: flags -> config -> composition root. Everything else lives in server.ts.
const argv = yargs(hideBin(process.argv))
  .scriptName('cocoon-server')
  .usage('$0 --config FILE [options]\n\nRuns the Cocoon provisioner: dnsmasq supervision, the boot port and the API port.')
  .option('config', { alias: 'c', type: 'string', demandOption: true, describe: 'configuration file (YAML)' })
  .option('cluster-dir', { type: 'string', describe: 'machine store directory (overrides paths.cluster_dir)' })
  .option('git', { type: 'boolean', describe: 'git audit of the cluster directory (--no-git turns it off)' })
  .option('dnsmasq', { type: 'boolean', describe: 'run and supervise dnsmasq (--no-dnsmasq: HTTP only)' })
  .option('boot-listen', { type: 'string', describe: 'boot port listen address' })
  .option('boot-port', { type: 'number', describe: 'boot port number' })
  .option('api-listen', { type: 'string', describe: 'API port listen address' })
  .option('api-port', { type: 'number', describe: 'API port number' })
  .option('log-level', { type: 'string', choices: ['error', 'warn', 'info', 'debug'], describe: 'log level' })
  .strict()
  .help()
  .parseSync();

const loadConfig = (): CocoonConfig =>
  readConfigFile(argv.config, (doc) =>
    applyConfigOverrides(doc, {
      clusterDir: argv['cluster-dir'],
      git: argv.git,
      dnsmasq: argv.dnsmasq,
      bootListen: argv['boot-listen'],
      bootPort: argv['boot-port'],
      apiListen: argv['api-listen'],
      apiPort: argv['api-port'],
      logLevel: argv['log-level'],
    }),
  );

let config: CocoonConfig;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  throw err;
}

runServer(config, { reloadConfig: loadConfig }).catch((err: unknown) => {
  process.stderr.write(`cocoon-server: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
