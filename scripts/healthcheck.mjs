#!/usr/bin/env node
// Container HEALTHCHECK (and a handy probe for systemd hosts): GET /healthz on the API port, exit 0
// on a 2xx answer, 1 otherwise. Node only, so the image needs no curl.
//   COCOON_HEALTH_URL   default http://127.0.0.1:4080/healthz (the API port's default address)
// For an https URL the certificate is not verified: the probe talks to this same host over
// loopback, where the certificate's name (the API's public name) would not match anyway.
import http from 'node:http';
import https from 'node:https';

const url = new URL(process.env.COCOON_HEALTH_URL || 'http://127.0.0.1:4080/healthz');
const client = url.protocol === 'https:' ? https : http;
const req = client.get(url, { timeout: 4000, rejectUnauthorized: false }, (res) => {
  res.resume();
  const ok = res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300;
  if (!ok) console.error(`healthcheck: ${url.href} answered ${res.statusCode}`);
  process.exit(ok ? 0 : 1);
});
req.on('timeout', () => req.destroy(new Error('no answer within 4 s')));
req.on('error', (err) => {
  console.error(`healthcheck: ${url.href}: ${err.message}`);
  process.exit(1);
});
