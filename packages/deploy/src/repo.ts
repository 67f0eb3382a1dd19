import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { parseDockerfile, type Dockerfile } from './dockerfile.js';

/** The repository root (this file is packages/deploy/dist/repo.js once compiled). */
export const repoRoot = path.resolve(fileURLToPath(import.meta.url), '../../../..');

export function repoFile(rel: string): string {
  return path.join(repoRoot, rel);
}

export function readRepoFile(rel: string): string {
  return readFileSync(repoFile(rel), 'utf8');
}

export function repoDockerfile(): Dockerfile {
  return parseDockerfile(readRepoFile('Dockerfile'));
}

/** The final stage: what `docker build` produces and compose runs. */
export function runtimeStage(df: Dockerfile = repoDockerfile()) {
  const stage = df.stages.at(-1);
  if (!stage) throw new Error('the Dockerfile has no stage');
  return stage;
}

/**
 * Whether a command-line tool is there. CI installs every tool these checks need
 * (scripts/install-system-deps.sh), so there a missing tool is a failure, not a skip.
 */
export function toolAvailable(cmd: string): boolean {
  const found = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
  if (!found && process.env.CI) throw new Error(`${cmd} is missing in CI: add its Debian package to scripts/install-system-deps.sh`);
  return found;
}

export { existsSync };
