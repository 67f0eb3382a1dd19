import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Profile } from '../config/types.js';
import { CocoonError } from '../util/errors.js';
import { ProfileQuota } from './profile-quota.js';

const P = (name: string, quantity?: number): Profile => ({ name, quantity, tags: [], boot: 'install', template: 'default', config_format: 'ignition', templates_env: {} });

test('profiles fill in config order, then default; profiles without a quantity are explicit only', () => {
  const q = new ProfileQuota([P('cp', 2), P('special'), P('storage', 1), P('default')]);
  const got = ['a', 'b', 'c', 'd', 'e'].map((s) => q.choose(s));
  assert.deepEqual(got, ['cp', 'cp', 'storage', 'default', 'default']);
  assert.equal(q.choose('a'), 'cp', 'a machine keeps its profile');
  q.release('a');
  assert.equal(q.choose('f'), 'cp', 'a freed place is taken again');
  assert.throws(() => q.assign('g', 'cp', true), (err: CocoonError) => err.kind === 'exhausted' && /2 of 2/.test(err.message));
  q.assign('g', 'special', true);
  assert.equal(q.count('special'), 1);
  assert.throws(() => q.assign('h', 'nope', true), (err: CocoonError) => err.kind === 'invalid' && /"nope" does not exist/.test(err.message));
});
