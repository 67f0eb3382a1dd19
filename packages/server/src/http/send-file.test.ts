import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import express from 'express';
import { problemHandler } from './problem.js';
import { parseRange, sendFile } from './send-file.js';
import { listenLoopback, rawRequest } from './testing.js';
import { tempDir } from '../testing/temp-dir.js';

test('parseRange: single ranges, suffixes, open ends; everything else unsatisfiable', () => {
  assert.deepEqual(parseRange('bytes=0-9', 100), { start: 0, end: 9 });
  assert.deepEqual(parseRange('bytes=90-', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-10', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-1000', 100), { start: 0, end: 99 });
  assert.deepEqual(parseRange('bytes=50-5000', 100), { start: 50, end: 99 });
  for (const bad of ['bytes=100-', 'bytes=5-1', 'bytes=0-1,5-6', 'items=0-1', 'bytes=-', 'bytes=-0', 'bytes=a-b', '']) {
    assert.equal(parseRange(bad, 100), 'unsatisfiable', bad);
  }
});

test('sendFile over a real socket: length, ranges, HEAD, ETag/304, If-Range, 416, missing file', async (t) => {
  const dir = tempDir('cocoon-sendfile-');
  const file = path.join(dir, 'blob.bin');
  const data = Buffer.alloc(300_000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 255;
  writeFileSync(file, data);
  const app = express();
  app.get('/f', (req, res) => sendFile(req, res, file));
  app.get('/missing', (req, res) => sendFile(req, res, path.join(dir, 'nope')));
  app.get('/dir', (req, res) => sendFile(req, res, dir));
  app.use(problemHandler({ warn: () => undefined, error: () => undefined }));
  const srv = await listenLoopback(app);
  t.after(() => srv.close());

  let r = await rawRequest(srv.port, 'GET', '/f');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-length'], String(data.length));
  assert.equal(r.headers['accept-ranges'], 'bytes');
  assert.ok(r.body.equals(data));
  const etag = String(r.headers['etag']);
  assert.ok(etag.length > 4);

  r = await rawRequest(srv.port, 'HEAD', '/f');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-length'], String(data.length));
  assert.equal(r.body.length, 0);

  r = await rawRequest(srv.port, 'GET', '/f', { headers: { range: 'bytes=1000-1999' } });
  assert.equal(r.status, 206);
  assert.equal(r.headers['content-range'], `bytes 1000-1999/${data.length}`);
  assert.equal(r.headers['content-length'], '1000');
  assert.ok(r.body.equals(data.subarray(1000, 2000)));

  r = await rawRequest(srv.port, 'GET', '/f', { headers: { range: 'bytes=-5' } });
  assert.equal(r.status, 206);
  assert.ok(r.body.equals(data.subarray(data.length - 5)));

  r = await rawRequest(srv.port, 'GET', '/f', { headers: { range: `bytes=${data.length}-` } });
  assert.equal(r.status, 416);
  assert.equal(r.headers['content-range'], `bytes */${data.length}`);
  assert.equal(r.headers['content-type'], 'application/problem+json; charset=utf-8');

  r = await rawRequest(srv.port, 'GET', '/f', { headers: { 'if-none-match': etag } });
  assert.equal(r.status, 304);
  assert.equal(r.body.length, 0);

  r = await rawRequest(srv.port, 'GET', '/f', { headers: { range: 'bytes=0-0', 'if-range': '"stale"' } });
  assert.equal(r.status, 200);
  assert.equal(r.body.length, data.length);

  r = await rawRequest(srv.port, 'GET', '/f', { headers: { range: 'bytes=0-0', 'if-range': etag } });
  assert.equal(r.status, 206);
  assert.equal(r.body.length, 1);

  r = await rawRequest(srv.port, 'GET', '/missing');
  assert.equal(r.status, 404);
  r = await rawRequest(srv.port, 'GET', '/dir');
  assert.equal(r.status, 404);
});
