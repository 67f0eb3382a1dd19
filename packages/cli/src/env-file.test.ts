import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEnvText } from './env-file.js';
import { UsageError } from './errors.js';

test('reads os-release style files: quotes, escapes, comments, export', () => {
  const env = parseEnvText(
    ['# Flatcar', 'NAME="Flatcar Container Linux by Kinvolk"', "ID=flatcar", 'VERSION_ID=3815.2.0', "PRETTY_NAME='Flatcar 3815.2.0'", 'export COCOON_SERIAL=abc-123', 'QUOTED="a \\"b\\" c"', ''].join('\n'),
    'os-release',
  );
  assert.deepEqual(env, {
    NAME: 'Flatcar Container Linux by Kinvolk',
    ID: 'flatcar',
    VERSION_ID: '3815.2.0',
    PRETTY_NAME: 'Flatcar 3815.2.0',
    COCOON_SERIAL: 'abc-123',
    QUOTED: 'a "b" c',
  });
});

test('a malformed line is an error naming the file and line', () => {
  assert.throws(() => parseEnvText('ID=x\nthis is not an assignment\n', '/etc/os-release'), (e: unknown) => e instanceof UsageError && /\/etc\/os-release line 2/.test(e.message));
  assert.throws(() => parseEnvText('A="open\n', 'f'), /unterminated double quote/);
});
