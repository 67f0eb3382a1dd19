import { before, after, type TestContext } from 'node:test';
import { Lab, labPrerequisites, type LabOptions } from './lab.js';

export interface LabSuite {
  /** Why the suite cannot run here (not root …), for the tests' skip option; undefined = runs. */
  readonly skip: string | undefined;
  /**
   * Wraps a test body: it gets the suite's lab; on failure the lab's diagnostics (consoles,
   * events, server log) are printed before the error propagates.
   */
  step(body: (lab: Lab, t: TestContext) => Promise<void>): (t: TestContext) => Promise<void>;
}

/**
 * One lab shared by the tests of a describe() block, started before the first and torn down
 * after the last on every path (the run directory is kept when something failed).
 */
export function labSuite(opts: LabOptions): LabSuite {
  const skip = labPrerequisites();
  let lab: Lab | undefined;
  let startError: unknown;
  let failed = false;
  const started = Date.now();
  before(async () => {
    if (skip) return;
    try {
      lab = await Lab.start({ ...opts, progress: (l) => console.log(`# ${l}`) });
    } catch (err) {
      startError = err;
    }
  });
  after(async () => {
    if (!lab) return;
    await lab.stop({ removeRunDir: !failed });
    console.log(`# lab ${opts.purpose}: ${((Date.now() - started) / 1000).toFixed(1)} s, accel ${lab.accel}${failed ? `, artefacts kept in ${lab.dir}` : ''}`);
  });
  return {
    skip,
    step: (body) => async (t) => {
      if (!lab) {
        failed = true;
        throw startError instanceof Error ? startError : new Error(`the lab did not start: ${String(startError)}`);
      }
      try {
        await body(lab, t);
      } catch (err) {
        failed = true;
        console.error(await lab.diagnostics());
        throw err;
      }
    },
  };
}
