import type { TestContext } from 'node:test';
import { Lab, labPrerequisites, type LabOptions } from './lab.js';

/**
 * Runs a scenario body against a fresh lab: on failure the diagnostics (consoles, events,
 * server log) are printed before the error propagates; the lab is torn down on every path.
 */
export function withLab(opts: LabOptions, body: (lab: Lab, t: TestContext) => Promise<void>): (t: TestContext) => Promise<void> {
  return async (t) => {
    const missing = labPrerequisites();
    if (missing) {
      t.skip(missing);
      return;
    }
    const started = Date.now();
    const lab = await Lab.start({ ...opts, progress: (l) => t.diagnostic(l) });
    let ok = false;
    try {
      await body(lab, t);
      ok = true;
    } catch (err) {
      console.error(await lab.diagnostics());
      throw err;
    } finally {
      await lab.stop({ removeRunDir: ok });
      t.diagnostic(`${opts.purpose}: ${((Date.now() - started) / 1000).toFixed(1)} s with accel ${lab.accel}${ok ? '' : `; artefacts kept in ${lab.dir}`}`);
    }
  };
}
