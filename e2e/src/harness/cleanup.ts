import { spawnSync } from 'node:child_process';

/**
 * Last-resort cleanup: synchronous actions (kill a PID, delete a namespace) that run when the
 * process exits in any way Node can observe — normal exit, uncaught error, SIGINT, SIGTERM, SIGHUP —
 * so a failing or interrupted test never leaves a namespace with a DHCP server behind.
 * The normal, graceful teardown happens earlier and unregisters its actions.
 */
type Action = () => void;

const actions = new Map<number, Action>();
let nextId = 1;
let installed = false;
let graceful: (() => Promise<void>) | undefined;
let stopping = false;

function runAll(): void {
  // Newest first: processes before the namespace they live in.
  const ids = [...actions.keys()].sort((a, b) => b - a);
  for (const id of ids) {
    const action = actions.get(id);
    actions.delete(id);
    try {
      action?.();
    } catch {
      // keep going: the remaining actions matter more than one that failed
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.on(signal, () => {
      // First signal: the orderly teardown if one is set; a second one, or none set: at once.
      if (graceful && !stopping) {
        stopping = true;
        void graceful().finally(() => {
          runAll();
          process.exit(code);
        });
        return;
      }
      runAll();
      process.exit(code);
    });
  }
}

/** An orderly teardown to run on SIGINT/SIGTERM/SIGHUP before the emergency actions (the lab). */
export function onSignal(teardown: () => Promise<void>): void {
  install();
  graceful = teardown;
}

/** Registers a synchronous emergency action; returns the function that unregisters it. */
export function onEmergency(action: Action): () => void {
  install();
  const id = nextId++;
  actions.set(id, action);
  return () => {
    actions.delete(id);
  };
}

/** Emergency kill of one PID (SIGKILL; the process may already be gone). */
export function killNow(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Emergency removal of a network namespace and every process still in it. */
export function deleteNetnsNow(name: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout ?? '';
  for (const p of pids.split(/\s+/).filter(Boolean)) killNow(Number(p));
  spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
}
