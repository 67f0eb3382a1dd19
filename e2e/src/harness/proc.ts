import { openSync, closeSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { onEmergency, killNow } from './cleanup.js';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process whose output goes to files and which is always stopped by its own PID. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<Exit>;
  /** The exit once it happened, else undefined. */
  exit(): Exit | undefined;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it is gone. */
  stop(graceMs?: number): Promise<Exit>;
}

export interface SpawnOptions {
  /** Run inside this network namespace (`ip netns exec` execs the command: same PID). */
  netns?: string;
  stdoutFile: string;
  stderrFile?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export function spawnManaged(name: string, command: string, args: string[], opts: SpawnOptions): ManagedProcess {
  const argv = opts.netns ? ['ip', 'netns', 'exec', opts.netns, command, ...args] : [command, ...args];
  const out = openSync(opts.stdoutFile, 'a');
  const err = opts.stderrFile ? openSync(opts.stderrFile, 'a') : out;
  const child = spawn(argv[0]!, argv.slice(1), {
    stdio: ['ignore', out, err],
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  });
  closeSync(out);
  if (err !== out) closeSync(err);
  if (child.pid === undefined) throw new Error(`cannot start ${name}: ${argv.join(' ')}`);
  const pid = child.pid;
  const unregister = onEmergency(() => killNow(pid));
  let result: Exit | undefined;
  const exited = new Promise<Exit>((resolve) => {
    child.on('exit', (code, signal) => {
      result = { code, signal };
      unregister();
      resolve(result);
    });
    child.on('error', () => {
      result = { code: null, signal: null };
      unregister();
      resolve(result);
    });
  });
  return {
    name,
    pid,
    exited,
    exit: () => result,
    async stop(graceMs = 5000) {
      if (result) return result;
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
      const timer = setTimeout(() => killNow(pid), graceMs);
      const r = await exited;
      clearTimeout(timer);
      return r;
    },
  };
}

export function describeExit(e: Exit): string {
  return e.signal ? `killed by ${e.signal}` : `exit status ${e.code}`;
}
