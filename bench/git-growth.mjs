#!/usr/bin/env node
// How much the git audit trail grows per change: a seeded fleet, then single operator changes
// (PATCH ProviderId, one commit each) through the API; prints the growth of .git/objects in KB
// per change and in files per change. Every commit carries a new root tree (about 39 bytes per
// machine), so the figure grows with the fleet.
//   node bench/git-growth.mjs [machines=10000] [changes=100]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { client, seedFleet, startServer, writeConfig } from './lib.mjs';

const N = Number(process.argv[2] ?? 10_000);
const CHANGES = Number(process.argv[3] ?? 100);

const dir = mkdtempSync(path.join(tmpdir(), 'cocoon-git-growth-'));
try {
  const serials = seedFleet(path.join(dir, 'cluster'), N);
  const objects = path.join(dir, 'cluster', '.git', 'objects');
  const usage = () => ({
    kb: Number(execFileSync('du', ['-sk', objects]).toString().split('\t')[0]),
    files: Number(execFileSync('sh', ['-c', `find "${objects}" -type f | wc -l`]).toString().trim()),
  });
  const server = await startServer(writeConfig(dir, { git: true }));
  try {
    const request = client(1);
    // One change first: the adoption commit of the seeded files is done by then.
    await request(server.apiPort, 'PATCH', `/api/v1/machines/${serials[0]}`, { ProviderId: 'warm-up', reason: 'bench' });
    const before = usage();
    for (let i = 0; i < CHANGES; i++) {
      const r = await request(server.apiPort, 'PATCH', `/api/v1/machines/${serials[i % N]}`, { ProviderId: `p-${i}`, reason: 'bench' });
      if (r.status !== 200) throw new Error(`PATCH answered ${r.status}: ${r.text}`);
    }
    const after = usage();
    console.log(
      `git growth: ${N} machines, ${CHANGES} changes: ${((after.kb - before.kb) / CHANGES).toFixed(1)} KB and ${((after.files - before.files) / CHANGES).toFixed(1)} files per change in .git/objects`,
    );
  } finally {
    await server.stop();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
