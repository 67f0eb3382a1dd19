import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { MACHINE_STATES, ALLOWED_TRANSITIONS } from '@cocoon/server/lifecycle/states';
import { readRepoFile, repoFile, repoRoot, existsSync } from './repo.js';

interface SchemaNode {
  type?: string;
  $ref?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  definitions?: Record<string, SchemaNode>;
  [k: string]: unknown;
}

const schema = JSON.parse(readRepoFile('packages/server/schema/config.schema.json')) as SchemaNode;
const deref = (n: SchemaNode): SchemaNode => (n.$ref ? { ...deref(schema.definitions?.[n.$ref.split('/').pop() as string] as SchemaNode), ...n, $ref: undefined } : n);

/** Every key path of the schema, walked here independently of the generator. */
function keyPaths(node: SchemaNode, prefix: string, out: string[] = []): string[] {
  node = deref(node);
  for (const [k, child] of Object.entries(node.properties ?? {})) {
    const name = prefix ? `${prefix}.${k}` : k;
    out.push(name);
    const c = deref(child);
    keyPaths(c, name, out);
    if (c.type === 'array' && c.items) keyPaths(c.items, `${name}[]`, out);
  }
  return out;
}

function run(script: string, ...args: string[]) {
  return spawnSync(process.execPath, [repoFile(script), ...args], { cwd: repoRoot, encoding: 'utf8' });
}

describe('docs/configuration.md (generated from the JSON Schema)', () => {
  test('is up to date with the schema', () => {
    const r = run('scripts/gen-config-docs.mjs', '--check');
    assert.equal(r.status, 0, r.stderr);
  });

  test('documents every key of the schema', () => {
    const doc = readRepoFile('docs/configuration.md');
    const top = Object.keys(schema.properties ?? {});
    for (const key of keyPaths(schema, '')) {
      if (top.includes(key)) assert.match(doc, new RegExp(`^## ${key}$`, 'm'), `section ${key}`);
      else assert.ok(doc.includes(`| \`${key}\` |`), `row for ${key}`);
    }
  });

  test('follows a schema change: a new key gets a row', async () => {
    const mod = (await import(pathToFileURL(repoFile('scripts/gen-config-docs.mjs')).href)) as { renderConfigDoc(s: unknown): string };
    const changed = structuredClone(schema);
    const log = changed.properties?.log as SchemaNode;
    log.properties = { ...log.properties, file: { type: 'string', description: 'A new key for this test.' } };
    const doc = mod.renderConfigDoc(changed);
    assert.ok(doc.includes('| `log.file` | string |  | A new key for this test. |'));
    assert.notEqual(doc, readRepoFile('docs/configuration.md'));
  });
});


describe('docs/state-machine.md (generated block from lifecycle/states.ts)', () => {
  const doc = readRepoFile('docs/state-machine.md');

  test('is up to date with the transition table', () => {
    const r = run('scripts/gen-state-docs.mjs', '--check');
    assert.equal(r.status, 0, r.stderr);
  });

  test('shows every allowed transition and describes every state', () => {
    for (const from of MACHINE_STATES) {
      assert.match(doc, new RegExp(`^### \`${from}\`$`, 'm'), `a section describes ${from}`);
      for (const to of ALLOWED_TRANSITIONS[from]) assert.ok(doc.includes(`    ${from} --> ${to}\n`), `diagram has ${from} --> ${to}`);
    }
  });
});

describe('documentation links', () => {
  const docs = readdirSync(repoFile('docs')).filter((f) => f.endsWith('.md'));
  const files = ['README.md', ...docs.map((d) => `docs/${d}`), 'deploy/templates/README.md'];

  test('every relative link points at a file of the repository', () => {
    for (const f of files) {
      // Code spans and blocks hold regular expressions and shell, not links.
      const text = readRepoFile(f).replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = (m[1] as string).split('#')[0] as string;
        if (target === '' || /^[a-z]+:/.test(target)) continue;
        const abs = path.resolve(path.dirname(repoFile(f)), target);
        assert.ok(existsSync(abs), `${f}: link ${m[1]} points at a missing file`);
      }
    }
  });

  test('the README links every operator document', () => {
    const readme = readRepoFile('README.md');
    for (const d of docs) assert.ok(readme.includes(`](docs/${d})`), `README links docs/${d}`);
  });
});
