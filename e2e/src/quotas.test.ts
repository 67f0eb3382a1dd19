// Scenario 4: four machines against a profile of quantity 3.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { labSuite } from './harness/scenario.js';
import { PENDING } from './pending.js';

describe('profile quotas', () => {
  const suite = labSuite({ purpose: 'quotas', profiles: [{ name: 'control-plane', quantity: 3 }, { name: 'default' }] });

  test('4: four machines, quantity 3 -> three control-plane, one default, no IP twice', { skip: suite.skip, todo: PENDING.quotas, timeout: 900_000 }, suite.step(async (lab) => {
    // Light guests, all booting at once: enrollment is the point here, not the install.
    const machines = await Promise.all([1, 2, 3, 4].map(() => lab.addMachine({ firmware: 'bios', memoryMiB: 512 })));
    for (const m of machines) m.powerOn();
    const records = await Promise.all(
      machines.map(async (m) => {
        const r = await lab.waitForState(m, 'installing', 720_000);
        await m.powerOff();
        return r;
      }),
    );
    const profiles = records.map((r) => r.Profile).sort();
    assert.deepEqual(profiles, ['control-plane', 'control-plane', 'control-plane', 'default']);
    const ips = records.map((r) => r.InternalAddr);
    assert.equal(new Set(ips).size, 4, `four distinct addresses: ${ips.join(', ')}`);
    const listed = await lab.list();
    assert.equal(listed.filter((r) => r.Profile === 'control-plane').length, 3, 'the API agrees');
  }));
});
