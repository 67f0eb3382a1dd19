import { setTimeout as sleep } from 'node:timers/promises';

export class WaitTimeout extends Error {
  override name = 'WaitTimeout';
}

export interface WaitOptions {
  /** Hard limit; the wait fails with the last observation after it. */
  timeoutMs: number;
  /** Poll interval (default 250 ms). */
  intervalMs?: number;
  /** Checked on every round: a string aborts the wait at once (e.g. "QEMU exited with 1"). */
  abortIf?: () => string | undefined | Promise<string | undefined>;
}

/**
 * Polls `probe` until it returns a value other than undefined. Condition-based with a hard
 * time-out: never a fixed sleep standing in for "it should be done by now".
 * `describe` returns what was last seen, for the failure message.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  opts: WaitOptions,
  describe?: () => string | Promise<string>,
): Promise<T> {
  const start = Date.now();
  const interval = opts.intervalMs ?? 250;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    const abort = await opts.abortIf?.();
    if (abort) throw new Error(`gave up waiting for ${what}: ${abort}`);
    const waited = Date.now() - start;
    if (waited >= opts.timeoutMs) {
      const seen = describe ? `; last seen: ${await describe()}` : '';
      const err = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      throw new WaitTimeout(`timed out after ${(waited / 1000).toFixed(1)} s waiting for ${what}${seen}${err}`);
    }
    await sleep(Math.min(interval, opts.timeoutMs - waited));
  }
}
