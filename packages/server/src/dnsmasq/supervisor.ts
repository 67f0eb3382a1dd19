import { accessSync, constants, readFileSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import type { Logger } from '../util/logger.js';
import { isRunning } from '../util/process.js';
import { LineSplitter } from './line-splitter.js';

export interface SupervisorOptions {
  binary: string;
  confFile: string;
  pidFile: string;
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string;
  logger?: Logger;
  /** Every line dnsmasq writes (stderr and stdout), in order. */
  onLine?: (line: string) => void;
  /** After each exit that the supervisor did not ask for (before the restart is scheduled). */
  onExit?: (exit: ExitInfo) => void;
  /** After each successful spawn. */
  onStart?: (pid: number) => void;
  backoff?: { initialMs?: number; maxMs?: number; resetAfterMs?: number };
  /** SIGTERM, then SIGKILL after this long. */
  stopGraceMs?: number;
}

export interface ExitInfo {
  at: string;
  pid?: number;
  code?: number;
  signal?: string;
  /** Human reason: dnsmasq's last complaint (bad interface, port in use …) or how it ended. */
  reason: string;
  /** How long it ran, in milliseconds. */
  ranMs: number;
}

export type SupervisorState = 'stopped' | 'running' | 'backoff' | 'stopping';

export interface SupervisorStatus {
  state: SupervisorState;
  running: boolean;
  pid?: number;
  startedAt?: string;
  /** Restarts after unexpected exits. */
  restarts: number;
  /** Restarts asked for (configuration changes). */
  reloads: number;
  /** SIGHUPs sent (host entry removals). */
  sighups: number;
  lastExit?: ExitInfo;
  nextRestartAt?: string;
}

/** PIDs of every dnsmasq this process started and has not seen exit: killed if node exits. */
const liveChildren = new Set<number>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pid of liveChildren) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

function onPath(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const p = path.join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

const COMPLAINT = /unknown interface|address already in use|failed|cannot|bad |illegal|permission denied|not permitted|no such|error/i;

function classify(line: string): string {
  const text = line.replace(/^dnsmasq(?:-\w+)?(?:\[\d+\])?: /, '');
  if (/unknown interface/i.test(text)) return `bad interface: ${text}`;
  if (/address already in use/i.test(text)) return `port in use: ${text}`;
  if (/permission denied|not permitted/i.test(text)) return `permission denied: ${text}`;
  return text;
}

/**
 * Runs dnsmasq in the foreground (its own PID, logging to stderr), restarts it with exponential
 * back-off when it exits unasked, stops it with SIGTERM then SIGKILL. It cannot outlive the
 * server: it gets SIGKILL as parent-death signal (setpriv), on node's 'exit', and a leftover from
 * a crashed server (pid file) is stopped before a new one starts.
 */
export class DnsmasqSupervisor {
  private child: ResultPromise | undefined;
  private childPid: number | undefined;
  private startedAt: number | undefined;
  private exited: Promise<void> | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private nextRestartAt: number | undefined;
  private state: SupervisorState = 'stopped';
  private restarts = 0;
  private reloads = 0;
  private sighups = 0;
  private failures = 0;
  private lastExit: ExitInfo | undefined;
  private readonly recentLines: string[] = [];
  private readonly setpriv = onPath('setpriv');

  constructor(private readonly opts: SupervisorOptions) {
    this.opts = { ...opts };
    installExitHook();
  }

  /** Spawn dnsmasq (after stopping a leftover from an earlier run). Resolves once it has a PID. */
  async start(): Promise<void> {
    if (this.state === 'running' || this.state === 'backoff') return;
    await this.killLeftover();
    this.state = 'running';
    this.spawn();
  }

  /** Stop and do not restart. Resolves when the process is gone. */
  async stop(): Promise<void> {
    this.state = 'stopping';
    this.clearRestartTimer();
    await this.terminate();
    this.state = 'stopped';
    await unlink(this.opts.pidFile).catch(() => undefined);
  }

  /** Stop and start again (a new main configuration). */
  async restart(): Promise<void> {
    this.state = 'stopping';
    this.clearRestartTimer();
    await this.terminate();
    this.reloads++;
    this.failures = 0;
    this.state = 'running';
    this.spawn();
  }

  /** Binary and namespace for the next spawn (a configuration reload restarts it). */
  configure(opts: { binary: string; netns?: string }): void {
    this.opts.binary = opts.binary;
    this.opts.netns = opts.netns;
  }

  /** Ask dnsmasq to re-read its hosts files (never the main configuration). */
  sighup(): boolean {
    if (this.childPid === undefined || this.state !== 'running') return false;
    try {
      process.kill(this.childPid, 'SIGHUP');
      this.sighups++;
      return true;
    } catch {
      return false;
    }
  }

  get pid(): number | undefined {
    return this.childPid;
  }

  status(): SupervisorStatus {
    const running = this.childPid !== undefined && this.state === 'running';
    return {
      state: this.state,
      running,
      ...(this.childPid !== undefined && { pid: this.childPid }),
      ...(this.startedAt !== undefined && running && { startedAt: new Date(this.startedAt).toISOString() }),
      restarts: this.restarts,
      reloads: this.reloads,
      sighups: this.sighups,
      ...(this.lastExit && { lastExit: this.lastExit }),
      ...(this.nextRestartAt !== undefined && { nextRestartAt: new Date(this.nextRestartAt).toISOString() }),
    };
  }

  private command(): { file: string; args: string[] } {
    // --user/--group root: dnsmasq then changes no credentials, which would clear the
    // parent-death signal (and it needs root for DHCP on raw sockets anyway).
    const dnsmasqArgs = ['--keep-in-foreground', '--log-facility=-', '--user=root', '--group=root', `--conf-file=${this.opts.confFile}`, `--pid-file=${this.opts.pidFile}`];
    let argv = [this.opts.binary, ...dnsmasqArgs];
    // Both wrappers exec() their command, so the PID we get is dnsmasq's own.
    if (this.opts.netns) argv = ['ip', 'netns', 'exec', this.opts.netns, ...argv];
    if (this.setpriv) argv = [this.setpriv, '--pdeathsig', 'KILL', '--', ...argv];
    return { file: argv[0]!, args: argv.slice(1) };
  }

  private spawn(): void {
    const { file, args } = this.command();
    this.recentLines.length = 0;
    const child = execa(file, args, { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', buffer: false, reject: false, cleanup: true, forceKillAfterDelay: false });
    this.child = child;
    this.childPid = child.pid;
    this.startedAt = Date.now();
    const pid = child.pid;
    if (pid !== undefined) {
      liveChildren.add(pid);
      this.opts.logger?.info('dnsmasq started', { pid, command: [file, ...args].join(' ') });
      this.opts.onStart?.(pid);
    }
    const take = (line: string): void => {
      this.recentLines.push(line);
      if (this.recentLines.length > 8) this.recentLines.shift();
      try {
        this.opts.onLine?.(line);
      } catch (err) {
        this.opts.logger?.error('dnsmasq log line handler failed', { err: String(err) });
      }
    };
    const errLines = new LineSplitter(take);
    const outLines = new LineSplitter(take);
    child.stderr?.on('data', (c: Buffer) => errLines.push(c));
    child.stdout?.on('data', (c: Buffer) => outLines.push(c));
    this.exited = child.then((result) => {
      errLines.end();
      outLines.end();
      if (pid !== undefined) liveChildren.delete(pid);
      if (this.child !== child) return;
      this.child = undefined;
      this.childPid = undefined;
      const ranMs = Date.now() - (this.startedAt ?? Date.now());
      const complaint = [...this.recentLines].reverse().find((l) => COMPLAINT.test(l) && !/exiting on receipt/.test(l));
      const how = result.signal ? `killed by ${result.signal}` : result.exitCode !== undefined ? `exit code ${result.exitCode}` : String(result.shortMessage ?? 'failed to start');
      const exit: ExitInfo = {
        at: new Date().toISOString(),
        ...(pid !== undefined && { pid }),
        ...(result.exitCode !== undefined && { code: result.exitCode }),
        ...(result.signal !== undefined && { signal: result.signal }),
        reason: complaint ? `${classify(complaint)} (${how})` : how,
        ranMs,
      };
      this.lastExit = exit;
      if (this.state !== 'running') return;
      this.opts.logger?.warn('dnsmasq exited', { ...exit });
      this.opts.onExit?.(exit);
      this.scheduleRestart(ranMs);
    });
  }

  private scheduleRestart(ranMs: number): void {
    const b = this.opts.backoff ?? {};
    const initial = b.initialMs ?? 200;
    const max = b.maxMs ?? 30_000;
    if (ranMs >= (b.resetAfterMs ?? 10_000)) this.failures = 0;
    const delay = Math.min(max, initial * 2 ** this.failures);
    this.failures++;
    this.state = 'backoff';
    this.nextRestartAt = Date.now() + delay;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.nextRestartAt = undefined;
      if (this.state !== 'backoff') return;
      this.restarts++;
      this.state = 'running';
      this.spawn();
    }, delay);
  }

  private clearRestartTimer(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.nextRestartAt = undefined;
  }

  private async terminate(): Promise<void> {
    const child = this.child;
    const exited = this.exited;
    if (!child || !exited) return;
    child.kill('SIGTERM');
    const grace = this.opts.stopGraceMs ?? 3000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), grace);
      }),
    ]);
    if (timer) clearTimeout(timer);
    if (timedOut) {
      this.opts.logger?.warn('dnsmasq did not stop on SIGTERM; sending SIGKILL', { pid: this.childPid, graceMs: grace });
      child.kill('SIGKILL');
      await exited;
    }
    this.child = undefined;
    this.childPid = undefined;
  }

  /** A dnsmasq of ours still running from before (server crash): stop it so the ports are free. */
  private async killLeftover(): Promise<void> {
    let pid: number;
    try {
      pid = Number(readFileSync(this.opts.pidFile, 'utf8').trim());
    } catch {
      return;
    }
    if (!Number.isInteger(pid) || pid <= 1 || pid === this.childPid) return;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      return;
    }
    if (!cmdline.includes(`--conf-file=${this.opts.confFile}`)) return;
    this.opts.logger?.warn('stopping a dnsmasq left over from an earlier run', { pid });
    const gone = async (ms: number): Promise<boolean> => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        if (!isRunning(pid)) return true;
        await new Promise((r) => setTimeout(r, 50));
      }
      return false;
    };
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return;
    }
    if (!(await gone(this.opts.stopGraceMs ?? 3000))) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        return;
      }
      await gone(2000);
    }
  }
}
