import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { resolveConnection } from './settings.js';

function warnings(fn: () => void): string {
  const original = process.stderr.write.bind(process.stderr);
  let text = '';
  process.stderr.write = ((chunk: string | Uint8Array) => {
    text += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    fn();
  } finally {
    process.stderr.write = original;
  }
  return text;
}

test('a token sent over plain HTTP to another host draws a warning; loopback and HTTPS do not', () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'cocoonctl-settings-unit-'));
  try {
    const env = { XDG_CONFIG_HOME: home };
    assert.match(warnings(() => resolveConnection({ endpoint: 'http://10.1.2.3:4080', token: 'tok' }, env)), /token goes to http:\/\/10\.1\.2\.3:4080 unencrypted/);
    assert.equal(warnings(() => resolveConnection({ endpoint: 'http://127.0.0.1:4080', token: 'tok' }, env)), '');
    assert.equal(warnings(() => resolveConnection({ endpoint: 'http://localhost:4080', token: 'tok' }, env)), '');
    assert.equal(warnings(() => resolveConnection({ endpoint: 'https://10.1.2.3:4080', token: 'tok' }, env)), '');
    assert.equal(warnings(() => resolveConnection({ endpoint: 'http://10.1.2.3:4080' }, env)), '');
    assert.equal(resolveConnection({}, { ...env, COCOON_ENDPOINT: 'https://prov:4080/' }).endpoint, 'https://prov:4080');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
