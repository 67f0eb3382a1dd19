import { test } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import { Authenticator } from './auth.js';
import { problemHandler, type Problem } from './problem.js';
import { openApiDocument } from './openapi.js';
import { mountRoutes, notFoundHandler, route } from './routes.js';
import { listenLoopback, rawRequest } from './testing.js';
import type { CocoonConfig } from '../config/types.js';

const ADMIN = 'admin-token-0123456789';
const READER = 'read-token-0123456789';
const silent = { warn: () => undefined, error: () => undefined };

function auth(mode: 'tokens' | 'none' = 'tokens'): CocoonConfig['auth'] {
  return {
    mode,
    compat_admin: 'open',
    tokens: [
      { name: 'alice', token: ADMIN, scope: 'admin' },
      { name: 'bob', token: READER, scope: 'read' },
    ],
  };
}

interface Thing {
  name: string;
  size?: number;
}

function table() {
  return [
    route({
      method: 'get',
      path: '/things/:serial',
      operationId: 'getThing',
      summary: 'read a thing',
      tag: 'test',
      auth: 'read',
      params: { serial: { kind: 'serial' } },
      query: { limit: { description: 'n', schema: { type: 'integer', minimum: 1, maximum: 10 } } },
      responses: { '200': { description: 'ok', content: { 'application/json': {} } } },
      handler: ({ res, params, query, principal }) => {
        res.json({ serial: params['serial'], limit: query['limit'] ?? null, who: principal?.name });
      },
    }),
    route<Thing>({
      method: 'put',
      path: '/things/:serial',
      operationId: 'putThing',
      summary: 'write a thing',
      tag: 'test',
      auth: 'admin',
      params: { serial: { kind: 'serial' } },
      body: {
        schema: {
          type: 'object',
          additionalProperties: false,
          required: ['name'],
          properties: { name: { type: 'string', enum: ['a', 'b'] }, size: { type: 'integer' } },
        },
      },
      responses: { '200': { description: 'ok' } },
      handler: ({ res, body, principal }) => {
        res.json({ name: body.name, who: principal?.name });
      },
    }),
    route({
      method: 'get',
      path: '/boom',
      operationId: 'boom',
      summary: 'throws',
      tag: 'test',
      auth: 'public',
      responses: {},
      handler: () => {
        throw new Error('secret internal detail at /etc/x');
      },
    }),
  ];
}

async function start(mode: 'tokens' | 'none' = 'tokens') {
  const app = express();
  const router = express.Router();
  mountRoutes(router, table(), { auth: new Authenticator(auth(mode)), maxBody: '1kb' });
  app.use(router);
  app.use(notFoundHandler());
  app.use(problemHandler(silent));
  return listenLoopback(app);
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

test('tokens: missing, malformed, unknown, read scope on admin route, admin ok; operator is the token name', async (t) => {
  const srv = await start();
  t.after(() => srv.close());
  const p = srv.port;
  let r = await rawRequest(p, 'GET', '/things/abc');
  assert.equal(r.status, 401);
  assert.equal(r.headers['content-type'], 'application/problem+json; charset=utf-8');
  assert.match(String(r.headers['www-authenticate']), /^Bearer/);
  r = await rawRequest(p, 'GET', '/things/abc', { headers: { authorization: 'Basic Zm9vOmJhcg==' } });
  assert.equal(r.status, 401);
  r = await rawRequest(p, 'GET', '/things/abc', { headers: bearer('nope-nope-nope-nope') });
  assert.equal(r.status, 401);
  assert.equal(r.json<Problem>().detail, 'the bearer token is not valid');
  r = await rawRequest(p, 'GET', '/things/abc', { headers: bearer(READER) });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json(), { serial: 'abc', limit: null, who: 'bob' });
  r = await rawRequest(p, 'PUT', '/things/abc', { headers: { ...bearer(READER), 'content-type': 'application/json' }, body: '{"name":"a"}' });
  assert.equal(r.status, 403);
  assert.match(r.json<Problem>().detail, /scope "admin"/);
  r = await rawRequest(p, 'PUT', '/things/abc', { headers: { ...bearer(ADMIN), 'content-type': 'application/json' }, body: '{"name":"a"}' });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json(), { name: 'a', who: 'alice' });
});

test('auth mode none admits everyone as "anonymous"', async (t) => {
  const srv = await start('none');
  t.after(() => srv.close());
  const r = await rawRequest(srv.port, 'PUT', '/things/abc', { headers: { 'content-type': 'application/json' }, body: '{"name":"b"}' });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json(), { name: 'b', who: 'anonymous' });
});

test('bad bodies: malformed JSON, wrong types, unknown field, enum, oversized, wrong content type', async (t) => {
  const srv = await start();
  t.after(() => srv.close());
  const put = (body: string, ct = 'application/json') =>
    rawRequest(srv.port, 'PUT', '/things/abc', { headers: { ...bearer(ADMIN), 'content-type': ct }, body });
  let r = await put('{"name":');
  assert.equal(r.status, 400);
  assert.match(r.json<Problem>().detail, /not valid JSON/);
  assert.doesNotMatch(r.text, /at .*\.js/);
  r = await put('{"name":"a","size":"big"}');
  assert.equal(r.status, 400);
  assert.equal(r.json<Problem>().field, 'size');
  assert.match(r.json<Problem>().detail, /size: must be integer \(got "big"\)/);
  r = await put('{"name":"c"}');
  assert.equal(r.status, 400);
  assert.match(r.json<Problem>().detail, /name: must be one of "a", "b" \(got "c"\)/);
  r = await put('{"name":"a","extra":1}');
  assert.equal(r.status, 400);
  assert.match(r.json<Problem>().detail, /extra: unknown key; allowed here: name, size/);
  r = await put('[1,2]');
  assert.equal(r.status, 400);
  r = await put(JSON.stringify({ name: 'a', pad: 'x'.repeat(4000) }));
  assert.equal(r.status, 413);
  assert.equal(r.headers['content-type'], 'application/problem+json; charset=utf-8');
  r = await put('name=a', 'application/x-www-form-urlencoded');
  assert.equal(r.status, 415);
  r = await rawRequest(srv.port, 'PUT', '/things/abc', { headers: bearer(ADMIN) });
  assert.equal(r.status, 400);
  assert.match(r.json<Problem>().detail, /body: must be object/);
});

test('path and query parameters are validated; traversal is rejected before the handler', async (t) => {
  const srv = await start();
  t.after(() => srv.close());
  for (const path of ['/things/..%2F..%2Fetc%2Fpasswd', '/things/%2e%2e%2fetc', '/things/%252e%252e%252f', '/things/a..b', '/things/.hidden']) {
    const r = await rawRequest(srv.port, 'GET', path, { headers: bearer(READER) });
    assert.equal(r.status, 400, path);
    assert.equal(r.json<Problem>().field, 'serial', path);
  }
  let r = await rawRequest(srv.port, 'GET', '/things/../../etc/passwd', { headers: bearer(READER) });
  assert.equal(r.status, 404);
  r = await rawRequest(srv.port, 'GET', '/things/%E0%A4%A', { headers: bearer(READER) });
  assert.equal(r.status, 400);
  r = await rawRequest(srv.port, 'GET', '/things/abc?limit=11', { headers: bearer(READER) });
  assert.equal(r.status, 400);
  assert.match(r.json<Problem>().detail, /limit: must be at most 10/);
  r = await rawRequest(srv.port, 'GET', '/things/abc?limit=2&limit=3', { headers: bearer(READER) });
  assert.equal(r.status, 400);
  r = await rawRequest(srv.port, 'GET', '/things/abc?limit=2', { headers: bearer(READER) });
  assert.deepEqual(r.json(), { serial: 'abc', limit: '2', who: 'bob' });
});

test('wrong method is a 405 with Allow; unknown path is a 404 problem; a crash is a 500 without details', async (t) => {
  const srv = await start();
  t.after(() => srv.close());
  let r = await rawRequest(srv.port, 'DELETE', '/things/abc', { headers: bearer(ADMIN) });
  assert.equal(r.status, 405);
  assert.equal(r.headers['allow'], 'GET, HEAD, PUT');
  assert.equal(r.json<Problem>().status, 405);
  r = await rawRequest(srv.port, 'GET', '/nothing/here');
  assert.equal(r.status, 404);
  assert.equal(r.json<Problem>().title, 'Not Found');
  r = await rawRequest(srv.port, 'GET', '/boom');
  assert.equal(r.status, 500);
  assert.equal(r.json<Problem>().detail, 'internal error; see the server log');
  assert.doesNotMatch(r.text, /secret|\/etc\/x|Error:/);
});

test('the OpenAPI document lists every route with parameters, body and security', () => {
  const doc = openApiDocument(table(), [], { title: 't', version: '1', apiUrl: 'http://a', bootUrl: 'http://b', components: { Problem: {} } });
  const paths = doc['paths'] as Record<string, Record<string, Record<string, unknown>>>;
  assert.deepEqual(Object.keys(paths), ['/things/{serial}', '/boom']);
  assert.deepEqual(Object.keys(paths['/things/{serial}'] ?? {}), ['get', 'put']);
  const put = paths['/things/{serial}']?.['put'];
  assert.ok(put?.['requestBody']);
  assert.deepEqual(put?.['security'], [{ bearer: [] }]);
  assert.deepEqual(paths['/boom']?.['get']?.['security'], []);
});
