import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built cocoonctl entry point (dist/main.js), run as a real child process like a user would. */
export const CTL_MAIN = fileURLToPath(new URL('../main.js', import.meta.url));

export interface CtlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CtlOptions {
  env?: Record<string, string | undefined>;
  input?: string;
  /** Kill the child after this long (a hung command fails its test instead of the suite). */
  timeoutMs?: number;
}

/**
 * Run cocoonctl asynchronously (the server under test may live in this very process, so the event
 * loop must keep running). The environment is clean: no COCOON_* from the caller, and a private
 * XDG_CONFIG_HOME unless the test sets one.
 */
export function runCtl(args: string[], opts: CtlOptions = {}): Promise<CtlResult> {
  return runWith(process.execPath, [CTL_MAIN, ...args], opts);
}

function runWith(file: string, argv: string[], opts: CtlOptions): Promise<CtlResult> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('COCOON_') && k !== 'XDG_CONFIG_HOME') base[k] = v;
  const env: Record<string, string> = { ...base, XDG_CONFIG_HOME: emptyConfigHome() };
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

let configHome: string | undefined;
function emptyConfigHome(): string {
  if (!configHome) {
    configHome = mkdtempSync(path.join(os.tmpdir(), 'cocoonctl-home-'));
    const dir = configHome;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return configHome;
}

/** Parse stdout as JSON, failing the test with what was printed when it is not. */
export function parseJson<T>(r: CtlResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${r.code}):\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Run cocoonctl on a pseudo-terminal (util-linux `script`), typing `input`: for what only happens
 * at a terminal, such as the decommission confirmation. stdout and stderr arrive mixed.
 */
export function runCtlOnTty(args: string[], input: string, opts: CtlOptions = {}): Promise<CtlResult> {
  const command = [process.execPath, CTL_MAIN, ...args].map(shellQuote).join(' ');
  return runWith('script', ['-qec', command, '/dev/null'], { ...opts, input });
}
