import { test } from 'node:test';
import assert from 'node:assert/strict';
import { yamlLineOf } from './yaml-lines.js';

const DOC = `# comment
ignition:
  version: 3.4.0
passwd:
  users:
    - name: core
      sshAuthorizedKeys: ["k1"]
storage:
  files:
    - path: /etc/hostname
      mode: 0644
      contents:
        source: "data:,x"
    - path: /etc/motd
      contents: { source: "data:,y" }
      mode: 420
systemd:
  units:
  - name: a.service
    contents: |
      [Unit]
      name: not a key
      mode: not a key either
  - name: b.service
    enabled: true
"quoted key": 1
`;

test('yamlLineOf follows mappings and sequences to the line of a value', () => {
  const at = (...p: string[]): number | undefined => yamlLineOf(DOC, p)?.line;
  assert.equal(at('ignition', 'version'), 3);
  assert.equal(at('passwd', 'users', '0'), 6);
  assert.equal(at('passwd', 'users', '0', 'sshAuthorizedKeys'), 7);
  assert.equal(at('storage', 'files', '0', 'mode'), 11);
  assert.equal(at('storage', 'files', '0', 'contents', 'source'), 13);
  assert.equal(at('storage', 'files', '1', 'path'), 14);
  assert.equal(at('storage', 'files', '1', 'mode'), 16);
  // A sequence whose markers sit at its key's column, and keys inside a literal block ignored.
  assert.equal(at('systemd', 'units', '1', 'name'), 24);
  assert.equal(at('systemd', 'units', '1', 'enabled'), 25);
  assert.equal(at('systemd', 'units', '0', 'contents'), 20);
  assert.equal(at('quoted key'), 26);
});

test('yamlLineOf: an unknown tail gives the deepest line found, flagged as not exact', () => {
  assert.deepEqual(yamlLineOf(DOC, ['storage', 'files', '1', 'contents', 'source']), { line: 15, exact: false });
  assert.deepEqual(yamlLineOf(DOC, ['storage', 'files', '7']), { line: 9, exact: false });
  assert.deepEqual(yamlLineOf(DOC, ['storage', 'files', '0', 'mode']), { line: 11, exact: true });
  assert.equal(yamlLineOf(DOC, ['nope']), undefined);
  assert.equal(yamlLineOf('', ['a']), undefined);
});
