import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CocoonError } from '../util/errors.js';
import { IpAllocator } from './ip-allocator.js';

test('skips network, broadcast, gateway and provisioner addresses; respects the range end', () => {
  const a = new IpAllocator({ range: { start: '10.0.0.0', end: '10.0.0.255' }, prefix: 24, reserved: ['10.0.0.1', '10.0.0.2'] });
  const got: string[] = [];
  for (let i = 0; i < 252; i++) got.push(a.allocate(`m${i}`));
  assert.equal(got[0], '10.0.0.3');
  assert.equal(got.at(-1), '10.0.0.254');
  assert.ok(!got.includes('10.0.0.0') && !got.includes('10.0.0.255') && !got.includes('10.0.0.1') && !got.includes('10.0.0.2'));
  assert.throws(() => a.allocate('one-too-many'), (err: CocoonError) => err.kind === 'exhausted' && err.field === 'network.ip_range' && /one-too-many/.test(err.message));
  // asking again for a machine that has an address returns the same one
  assert.equal(a.allocate('m0'), '10.0.0.3');
});

test('addresses in use are skipped; released addresses are reused; never wraps around', () => {
  const a = new IpAllocator({ range: { start: '192.168.5.10', end: '192.168.5.14' }, prefix: 24 });
  a.sync('old1', '192.168.5.10');
  a.sync('old2', '192.168.5.12');
  assert.equal(a.allocate('n1'), '192.168.5.11');
  assert.equal(a.allocate('n2'), '192.168.5.13');
  assert.equal(a.allocate('n3'), '192.168.5.14');
  assert.throws(() => a.allocate('n4'), /no free address/);
  a.release('old2');
  assert.equal(a.allocate('n4'), '192.168.5.12');
  assert.throws(() => a.allocate('n5'), /no free address/);
});

test('explicit assignment checks conflicts and reserved addresses', () => {
  const a = new IpAllocator({ range: { start: '10.1.0.10', end: '10.1.0.20' }, prefix: 24, reserved: ['10.1.0.1'] });
  a.assign('x', '10.1.0.15');
  assert.equal(a.ownerOf('10.1.0.15'), 'x');
  assert.throws(() => a.assign('y', '10.1.0.15'), (err: CocoonError) => err.kind === 'conflict' && /"x"/.test(err.message));
  assert.throws(() => a.assign('y', '10.1.0.1'), (err: CocoonError) => err.kind === 'invalid');
  assert.throws(() => a.assign('y', '10.1.0.256'), (err: CocoonError) => err.kind === 'invalid');
  a.assign('x', '10.1.0.16'); // moving frees the old one
  assert.equal(a.ownerOf('10.1.0.15'), undefined);
  const got = Array.from({ length: 10 }, (_, i) => a.allocate(`z${i}`));
  assert.ok(got.includes('10.1.0.15') && !got.includes('10.1.0.16'));
});

test('10 000 allocations in a /18 walk the range once', () => {
  const a = new IpAllocator({ range: { start: '10.2.0.1', end: '10.2.63.254' }, prefix: 18, reserved: ['10.2.0.1'] });
  for (let i = 0; i < 10_000; i++) a.sync(`pre${i}`, undefined);
  const seen = new Set<string>();
  for (let i = 0; i < 10_000; i++) seen.add(a.allocate(`m${i}`));
  assert.equal(seen.size, 10_000);
  assert.equal(a.used, 10_000);
});
