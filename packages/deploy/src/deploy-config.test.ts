import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readConfigFile } from '@cocoon/server/config';
import { readRepoFile, repoFile, runtimeStage } from './repo.js';
import { execForm, stageEnv } from './dockerfile.js';

describe('deploy/config.yaml and the image agree on paths', () => {
  const cfg = readConfigFile(repoFile('deploy/config.yaml'));
  const runtime = runtimeStage();
  const env = stageEnv(runtime);

  test('the example configs are valid for the server', () => {
    assert.equal(cfg.paths.cluster_dir, '/var/lib/cocoon/cluster');
    readConfigFile(repoFile('config.example.yaml'));
  });

  test('the image ships deploy/config.yaml where COCOON_CONFIG points, the start script default', () => {
    const copies = runtime.instructions.filter((i) => i.keyword === 'COPY' && !i.args.includes('--from=')).map((i) => i.args.split(/\s+/));
    assert.ok(copies.some(([src, dst]) => src === 'deploy/config.yaml' && dst === env.COCOON_CONFIG), `COPY deploy/config.yaml ${env.COCOON_CONFIG}`);
    assert.match(readRepoFile('scripts/cocoon-start.sh'), new RegExp(`COCOON_CONFIG:-${env.COCOON_CONFIG}\\}`));
  });

  test('every state folder of the config is a VOLUME of the image, and nothing else is', () => {
    const vol = runtime.instructions.find((i) => i.keyword === 'VOLUME');
    assert.ok(vol, 'VOLUME');
    const volumes = (execForm(vol.args) ?? []).sort();
    assert.deepEqual(volumes, [cfg.paths.cluster_dir, cfg.paths.images_dir, cfg.paths.state_dir].sort());
  });

  test('the TFTP root is where Debian\'s ipxe package (installed in the image) puts the binaries', () => {
    assert.equal(cfg.paths.tftp_root, '/usr/lib/ipxe');
  });
});
