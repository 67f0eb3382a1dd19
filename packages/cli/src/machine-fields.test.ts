import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from './errors.js';
import { compareMachines, parseFields, SET_FIELDS, type Machine } from './machine-fields.js';
import { formatTable } from './output.js';

const m = (Serial: string, InternalAddr: string): Machine => ({ Serial, InternalAddr }) as Machine;

test('machines sort by IP numerically, addressless last, then by serial', () => {
  const sorted = [m('d', ''), m('c', '10.0.0.10'), m('b', '10.0.0.9'), m('a', '10.0.0.10'), m('e', '9.255.255.255')].sort(compareMachines);
  assert.deepEqual(sorted.map((x) => x.Serial), ['e', 'b', 'a', 'c', 'd']);
});

test('--fields accepts lists and repeats, refuses unknown names with the allowed set', () => {
  assert.deepEqual(parseFields(['ip,serial', 'state']), ['ip', 'serial', 'state']);
  assert.throws(() => parseFields('ip,colour'), (e: unknown) => e instanceof UsageError && /allowed: ip, serial/.test(e.message));
});

test('set values are checked locally and turned into the API request', () => {
  assert.deepEqual(SET_FIELDS.metadata?.parse('role=worker,zone=a'), { kind: 'patch', patch: { FleetMetadata: ['role=worker', 'zone=a'] } });
  assert.deepEqual(SET_FIELDS.cabinet?.parse('12'), { kind: 'patch', patch: { Cabinet: 12 } });
  assert.deepEqual(SET_FIELDS.state?.parse('configured'), { kind: 'state', state: 'configured' });
  for (const [field, bad] of [['state', 'done'], ['cabinet', '-1'], ['ipmiaddr', '10.0.0'], ['metadata', 'novalue'], ['profile', 'Big One']] as const) {
    assert.throws(() => SET_FIELDS[field]?.parse(bad), UsageError, `${field}=${bad}`);
  }
});

test('tables align columns to the widest cell', () => {
  assert.equal(formatTable(['IP', 'SERIAL'], [['10.0.0.10', 'a'], ['10.0.0.9', 'bbbb']]), 'IP         SERIAL\n10.0.0.10  a\n10.0.0.9   bbbb\n');
});
