import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** e2e/ (this file is e2e/dist/harness/paths.js once compiled). */
export const E2E_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const REPO_DIR = path.resolve(E2E_DIR, '..');
export const CACHE_DIR = process.env.E2E_CACHE ?? path.join(E2E_DIR, '.cache');
export const SERVER_MAIN = path.join(REPO_DIR, 'packages', 'server', 'dist', 'main.js');
export const CLI_MAIN = path.join(REPO_DIR, 'packages', 'cli', 'dist', 'main.js');
export const FORWARDER = path.join(E2E_DIR, 'dist', 'harness', 'unix-forward.js');
