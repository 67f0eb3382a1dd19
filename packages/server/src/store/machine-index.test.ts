import assert from 'node:assert/strict';
import test from 'node:test';
import { MACHINE_STATES, type MachineState } from '../lifecycle/states.js';
import { MachineIndex } from './machine-index.js';
import { emptyRecord } from './record.js';
import type { MachineFilter, MachineRecord } from './types.js';

// A small deterministic generator: the same "random" fleet on every run.
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

test('filtered pages and counts match a brute-force filter of the stable order through sets, changes and removals', () => {
  const rand = rng(7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const index = new MachineIndex({ sharedMac() {}, sharedIp() {} });
  const profiles = ['', 'worker', 'cp', 'storage'];
  const states: readonly MachineState[] = MACHINE_STATES;
  const record = (i: number): MachineRecord => ({
    ...emptyRecord(`m-${i}`),
    // Few addresses, so equal addresses (ordered by serial) and empty ones are common.
    InternalAddr: rand() < 0.1 ? '' : `10.0.0.${Math.floor(rand() * 40)}`,
    MacAddresses: [`52:54:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`],
    State: pick(states),
    Profile: pick(profiles),
  });
  const alive = new Set<number>();
  for (let step = 0; step < 1500; step++) {
    const i = Math.floor(rand() * 300);
    if (alive.has(i) && rand() < 0.2) {
      index.delete(`m-${i}`);
      alive.delete(i);
    } else {
      index.set(`m-${i}`, record(i));
      alive.add(i);
    }
    if (step % 50 !== 0) continue;
    const all = [...index.records()];
    for (let q = 0; q < 20; q++) {
      const filter: MachineFilter = {};
      if (rand() < 0.7) filter.state = pick(states);
      // An empty profile means no profile filter, as in the API.
      if (rand() < 0.5) filter.profile = pick(profiles);
      const offset = Math.floor(rand() * 60);
      const limit = Math.floor(rand() * 30);
      const want = all.filter((r) => (!filter.state || r.State === filter.state) && (!filter.profile || r.Profile === filter.profile));
      const page = index.page(filter, offset, limit);
      assert.equal(page.total, want.length, JSON.stringify(filter));
      assert.equal(page.json, JSON.stringify(want.slice(offset, offset + limit)), `${JSON.stringify(filter)} offset ${offset} limit ${limit}`);
    }
    const counted = new Map<string, number>();
    for (const r of all) counted.set(`${r.State}/${r.Profile}`, (counted.get(`${r.State}/${r.Profile}`) ?? 0) + 1);
    assert.deepEqual(new Map(index.counts().map((c) => [`${c.state}/${c.profile}`, c.count])), counted);
  }
});
