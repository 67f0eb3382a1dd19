#!/usr/bin/env node
import { readConfigFile, ConfigError } from './config/index.js';

// Placeholder entry point: validates the config. The composition root (server.ts) replaces it.
const idx = process.argv.indexOf('--config');
const file = idx >= 0 ? process.argv[idx + 1] : undefined;
if (!file) {
  console.error('usage: cocoon-server --config FILE');
  process.exit(2);
}
try {
  const cfg = readConfigFile(file);
  console.log(`configuration ${cfg.source} is valid`);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}
