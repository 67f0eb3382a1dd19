import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseDockerfile, instructions, execForm, stageEnv, last, substitute, DockerfileError } from './dockerfile.js';
import { parseDockerignore, isIgnored } from './dockerignore.js';
import { readRepoFile, repoDockerfile, repoFile, runtimeStage, existsSync, repoRoot } from './repo.js';

describe('Dockerfile reader', () => {
  test('joins continuation lines, drops comments, keeps the keyword line', () => {
    const ins = instructions('# c\nFROM a AS b\nRUN one \\\n  # inside\n  && two\n\nCMD ["x", "y"]\n');
    assert.deepEqual(
      ins.map((i) => [i.keyword, i.args, i.line]),
      [
        ['FROM', 'a AS b', 2],
        ['RUN', 'one && two', 3],
        ['CMD', '["x", "y"]', 7],
      ],
    );
  });

  test('refuses a file that ends inside a continued instruction', () => {
    assert.throws(() => instructions('FROM a\nRUN x \\'), DockerfileError);
  });

  test('substitutes global ARG defaults into FROM and splits stages', () => {
    const df = parseDockerfile('ARG IMG=node:20-bookworm-slim\nFROM ${IMG} AS build\nRUN a\nFROM $IMG\nUSER x\n');
    assert.equal(df.stages.length, 2);
    assert.equal(df.stages[0]?.image, 'node:20-bookworm-slim');
    assert.equal(df.stages[0]?.name, 'build');
    assert.equal(df.stages[1]?.image, 'node:20-bookworm-slim');
    assert.equal(last(df.stages[1]!, 'USER')?.args, 'x');
    assert.equal(substitute('${A:-d}/${B}', { B: 'b' }), 'd/b');
  });

  test('reads exec form and both ENV forms', () => {
    assert.deepEqual(execForm('["/usr/bin/tini", "--"]'), ['/usr/bin/tini', '--']);
    assert.equal(execForm('node x.js'), undefined);
    assert.throws(() => execForm('[1, 2]'));
    const df = parseDockerfile('FROM a\nENV A=1 \\\n    B="two words"\nENV C 3\n');
    assert.deepEqual(stageEnv(df.stages[0]!), { A: '1', B: 'two words', C: '3' });
  });
});

describe('.dockerignore matching', () => {
  const rules = parseDockerignore('**/node_modules\n.git\n*.log\ndata\n!keep.log\n');
  test('folders and their contents at any depth', () => {
    assert.equal(isIgnored(rules, 'node_modules/x/y.js'), true);
    assert.equal(isIgnored(rules, 'packages/server/node_modules/a'), true);
    assert.equal(isIgnored(rules, '.git/HEAD'), true);
    assert.equal(isIgnored(rules, 'packages/server/src/a.ts'), false);
  });
  test('single-level globs and re-inclusion', () => {
    assert.equal(isIgnored(rules, 'x.log'), true);
    assert.equal(isIgnored(rules, 'keep.log'), false);
    assert.equal(isIgnored(rules, 'sub/x.log'), false);
  });
});

describe('the repository Dockerfile', () => {
  const df = repoDockerfile();
  const runtime = runtimeStage(df);
  const build = df.stages.find((s) => s.name === 'build');
  const runs = (stage: typeof runtime) => stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);

  test('two stages on the same pinned Debian 12 Node 20 image', () => {
    assert.ok(build, 'a stage named build');
    assert.equal(df.stages.length, 2);
    for (const s of df.stages) {
      assert.match(s.image, /^node:20-bookworm(-slim)?$/, `stage ${s.name ?? '(final)'} uses ${s.image}: Node 20 on Debian 12 (bookworm), as CI`);
    }
  });

  test('build stage: pnpm as pinned in package.json and .ci/run, fetch then offline frozen install, tsc -b, assemble', () => {
    const pkg = JSON.parse(readRepoFile('package.json')) as { packageManager: string };
    const pinned = pkg.packageManager.replace(/^pnpm@/, '');
    const steps = runs(build!).join('\n');
    assert.match(steps, new RegExp(`npm install -g pnpm@${pinned.replace(/\./g, '\\.')}\\b`), `Dockerfile installs pnpm@${pinned}`);
    assert.match(readRepoFile('.ci/run'), new RegExp(`pnpm@${pinned.replace(/\./g, '\\.')}\\b`), `.ci/run installs pnpm@${pinned}`);
    const order = ['pnpm fetch', 'pnpm install --offline --frozen-lockfile', 'pnpm build', 'sh scripts/assemble-release.sh /opt/cocoon'];
    let at = -1;
    for (const step of order) {
      const i = steps.indexOf(step);
      assert.ok(i > at, `build stage runs "${step}" after the previous step`);
      at = i;
    }
    assert.match(readRepoFile('package.json'), /"build": "tsc -b/, 'pnpm build is tsc -b');
  });

  test('runtime stage: Debian packages also installed for CI, apt hygiene, no downloads', () => {
    const apt = runs(runtime).find((r) => r.includes('apt-get install'));
    assert.ok(apt, 'runtime installs Debian packages');
    assert.match(apt, /--no-install-recommends/);
    assert.match(apt, /rm -rf \/var\/lib\/apt\/lists\/\*/, 'apt lists removed in the same layer');
    for (const p of ['dnsmasq-base', 'ipxe', 'tini']) assert.match(apt, new RegExp(`\\b${p}\\b`), `installs ${p}`);
    const ci = readRepoFile('scripts/install-system-deps.sh');
    for (const p of ['dnsmasq-base', 'ipxe']) assert.match(ci, new RegExp(`\\b${p}\\b`), `CI installs ${p} too, so tests run against what the image ships`);
    for (const ins of [...runtime.instructions, ...build!.instructions]) {
      assert.notEqual(ins.keyword, 'ADD', `line ${ins.line}: use COPY, not ADD`);
      assert.doesNotMatch(ins.args, /\b(curl|wget)\b/, `line ${ins.line}: no downloads outside the package managers`);
    }
  });

  test('runtime stage: unprivileged user, dnsmasq with exactly the three capabilities', () => {
    const user = last(runtime, 'USER');
    assert.ok(user, 'USER is set');
    assert.doesNotMatch(user.args, /^(root|0)(:|$)/, 'not root');
    const setcap = runs(runtime).join('\n').match(/setcap (\S+) \/usr\/sbin\/dnsmasq/);
    assert.ok(setcap?.[1], 'dnsmasq gets file capabilities');
    const caps = setcap[1].replace(/\+ep$/, '').split(',').sort();
    assert.deepEqual(caps, ['cap_net_admin', 'cap_net_bind_service', 'cap_net_raw']);
  });

  test('entrypoint: tini, then the shared start script; HEALTHCHECK with node on /healthz', () => {
    const entry = execForm(last(runtime, 'ENTRYPOINT')?.args ?? '');
    assert.deepEqual(entry, ['/usr/bin/tini', '--', '/opt/cocoon/scripts/cocoon-start.sh']);
    assert.deepEqual(execForm(last(runtime, 'CMD')?.args ?? ''), [], 'no default arguments: the config decides');
    const hc = last(runtime, 'HEALTHCHECK');
    assert.ok(hc, 'HEALTHCHECK');
    const cmd = execForm(hc.args.replace(/^.*?\bCMD\s+/, ''));
    assert.deepEqual(cmd, ['node', '/opt/cocoon/scripts/healthcheck.mjs']);
    assert.match(stageEnv(runtime).COCOON_HEALTH_URL ?? '', /^http:\/\/127\.0\.0\.1:4080\/healthz$/);
  });

  test('every file the build copies from the context exists and is not excluded by .dockerignore', () => {
    const rules = parseDockerignore(readRepoFile('.dockerignore'));
    for (const s of df.stages) {
      for (const ins of s.instructions) {
        if (ins.keyword !== 'COPY' || /--from=/.test(ins.args)) continue;
        const words = ins.args.split(/\s+/).filter((w) => !w.startsWith('--'));
        for (const src of words.slice(0, -1)) {
          if (src === '.') continue;
          assert.ok(existsSync(repoFile(src)), `line ${ins.line}: ${src} exists`);
          assert.equal(isIgnored(rules, src), false, `line ${ins.line}: ${src} is not in .dockerignore`);
        }
      }
    }
  });

  test('.dockerignore keeps every source the build needs and drops build output and state', () => {
    const rules = parseDockerignore(readRepoFile('.dockerignore'));
    const needed: string[] = ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', 'tsconfig.json', 'tsconfig.base.json', 'scripts/assemble-release.sh', 'scripts/cocoon-start.sh', 'scripts/healthcheck.mjs'];
    for (const pkg of readdirSync(repoFile('packages'))) {
      needed.push(`packages/${pkg}/package.json`, `packages/${pkg}/tsconfig.json`);
      const walk = (rel: string) => {
        for (const name of readdirSync(repoFile(rel))) {
          const child = `${rel}/${name}`;
          if (statSync(repoFile(child)).isDirectory()) walk(child);
          else needed.push(child);
        }
      };
      if (existsSync(repoFile(`packages/${pkg}/src`))) walk(`packages/${pkg}/src`);
    }
    for (const dir of ['templates', 'dnsmasq']) if (existsSync(repoFile(dir))) needed.push(`${dir}/x`);
    for (const f of needed) assert.equal(isIgnored(rules, f), false, `${f} reaches the build context`);
    for (const f of ['node_modules/x', 'packages/server/node_modules/x', 'packages/server/dist/main.js', '.git/HEAD', '.lab/cluster/x', '.env']) {
      assert.equal(isIgnored(rules, f), true, `${f} stays out of the build context`);
    }
    assert.ok(path.isAbsolute(repoRoot));
  });
});
