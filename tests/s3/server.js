#!/usr/bin/env node
// server.js - test S3 endpoint for Scribe: the s3rver emulator behind a
// proxy that checks every request's AWS SigV4 signature (header or
// presigned query) by recomputing it with the independent npm `aws4`
// signer, and answers 403 SignatureDoesNotMatch on any difference.
// Emulators accept anything; with the proxy a wrong signature fails a test.
//
//   node server.js --dir DIR      listens on 127.0.0.1 (ephemeral ports),
//                                 writes DIR/endpoint.env and DIR/server.pid,
//                                 runs until SIGTERM/SIGINT.
//
// The proxy also:
//   - checks x-amz-date skew (15 min), x-amz-content-sha256 against the body,
//     that host and every x-amz-* header are signed, presigned URL expiry;
//   - implements AbortMultipartUpload (s3rver lacks it) and rejects parts
//     or completion of an aborted upload with 404 NoSuchUpload;
//   - answers 416 for a ranged GET of an empty object as S3 does (s3rver
//     promises a byte it never sends);
//   - maps virtual-host requests (<bucket>.localhost) to path style;
//   - test hooks (unsigned, 127.0.0.1 only): GET /__stats[?match=STR]
//     (counters as "name value" lines; with match, only requests whose path
//     contains STR, so concurrent tests using their own key prefixes do not
//     see each other), POST /__fail?count=N&status=S[&match=STR] (answer the
//     next N signed requests, whose path contains STR, with status S),
//     POST /__reset (zero everything).
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');
const aws4 = require('aws4');
const S3rver = require('s3rver');

const BUCKET = 'scribe-test';
const REGION = 'us-east-1';
const KEYS = {
  SCRIBETESTKEY: { secret: 'scribe/test+secret=key', token: null },
  SCRIBETOKENKEY: { secret: 'token/secret+key', token: 'session-token/with+chars==' },
};
const MAX_BODY = 64 * 1024 * 1024;
const SKEW_MS = 15 * 60 * 1000;

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}

const dir = arg('--dir', null);
if (!dir) {
  console.error('usage: server.js --dir DIR');
  process.exit(2);
}
fs.mkdirSync(dir, { recursive: true });

const stats = {};
const recent = []; // [pathname, counter name], for /__stats?match=
function count(name, pathname) {
  stats[name] = (stats[name] || 0) + 1;
  if (pathname) {
    recent.push([pathname, name]);
    if (recent.length > 200000) recent.splice(0, 100000);
  }
}
let failNext = 0, failStatus = 503, failMatch = '';
const aborted = new Set();

function xmlError(res, status, code, message) {
  count('rejected_' + code);
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
    `<Message>${message}</Message></Error>`;
  res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function parseAmzDate(d) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(d || '');
  if (!m) return NaN;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
}

function sha256hex(buf) { return crypto.createHash('sha256').update(buf).digest('hex'); }

function safeEqual(a, b) {
  const x = Buffer.from(String(a)), y = Buffer.from(String(b));
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

// Checks the signature of a header-signed request; returns null when good or
// [status, code, message].
function checkHeaderAuth(req, body) {
  const auth = req.headers.authorization;
  const m = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return [400, 'AuthorizationHeaderMalformed', 'malformed Authorization header'];
  const [, ak, date8, region, service, signedList] = m;
  const key = KEYS[ak];
  if (!key) return [403, 'InvalidAccessKeyId', 'unknown access key'];
  if (region !== REGION || service !== 's3')
    return [400, 'AuthorizationHeaderMalformed', 'wrong region or service'];
  const amzDate = req.headers['x-amz-date'];
  const t = parseAmzDate(amzDate);
  if (isNaN(t) || amzDate.slice(0, 8) !== date8)
    return [403, 'AccessDenied', 'bad x-amz-date'];
  if (Math.abs(Date.now() - t) > SKEW_MS) return [403, 'RequestTimeTooSkewed', 'clock skew'];
  const signed = signedList.split(';');
  if (!signed.includes('host')) return [403, 'AccessDenied', 'host not signed'];
  for (const h of Object.keys(req.headers))
    if (h.startsWith('x-amz-') && !signed.includes(h))
      return [403, 'AccessDenied', `${h} not signed`];
  const payload = req.headers['x-amz-content-sha256'];
  if (!payload) return [400, 'InvalidRequest', 'missing x-amz-content-sha256'];
  if (payload !== 'UNSIGNED-PAYLOAD' && payload !== sha256hex(body))
    return [400, 'XAmzContentSHA256Mismatch', 'body does not match x-amz-content-sha256'];
  if (key.token && req.headers['x-amz-security-token'] !== key.token)
    return [403, 'InvalidToken', 'bad session token'];
  const headers = {};
  const include = {};
  for (const h of signed) {
    if (req.headers[h] === undefined) return [403, 'AccessDenied', `signed header ${h} missing`];
    headers[h] = req.headers[h];
    include[h] = true;
  }
  const want = aws4.sign({
    method: req.method, host: req.headers.host, path: req.url, service: 's3', region: REGION,
    headers, extraHeadersToInclude: include,
  }, { accessKeyId: ak, secretAccessKey: key.secret }).headers.Authorization;
  if (!safeEqual(want.replace(/, /g, ','), auth.replace(/, /g, ',')))
    return [403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.'];
  return null;
}

// Checks a presigned (query-signed) request.
function checkQueryAuth(req, url) {
  const q = url.searchParams;
  if (q.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256')
    return [400, 'AuthorizationQueryParametersError', 'bad algorithm'];
  const cred = /^([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request$/.exec(q.get('X-Amz-Credential') || '');
  if (!cred) return [400, 'AuthorizationQueryParametersError', 'bad credential'];
  const [, ak, date8, region, service] = cred;
  const key = KEYS[ak];
  if (!key) return [403, 'InvalidAccessKeyId', 'unknown access key'];
  if (region !== REGION || service !== 's3')
    return [400, 'AuthorizationQueryParametersError', 'wrong region or service'];
  const amzDate = q.get('X-Amz-Date');
  const t = parseAmzDate(amzDate);
  const expires = Number(q.get('X-Amz-Expires'));
  if (isNaN(t) || amzDate.slice(0, 8) !== date8 || !(expires >= 1 && expires <= 604800))
    return [400, 'AuthorizationQueryParametersError', 'bad date or expiry'];
  if (t - SKEW_MS > Date.now()) return [403, 'AccessDenied', 'request not yet valid'];
  if (Date.now() > t + expires * 1000) return [403, 'AccessDenied', 'Request has expired'];
  if (key.token && q.get('X-Amz-Security-Token') !== key.token)
    return [403, 'InvalidToken', 'bad session token'];
  const signed = (q.get('X-Amz-SignedHeaders') || '').split(';');
  if (!signed.includes('host')) return [403, 'AccessDenied', 'host not signed'];
  const headers = {}, include = {};
  for (const h of signed) {
    if (req.headers[h] === undefined) return [403, 'AccessDenied', `signed header ${h} missing`];
    headers[h] = req.headers[h];
    include[h] = true;
  }
  const got = q.get('X-Amz-Signature') || '';
  // The URL as sent, minus the signature itself.
  const raw = req.url;
  const qi = raw.indexOf('?');
  const kept = raw.slice(qi + 1).split('&').filter(p => !p.startsWith('X-Amz-Signature='));
  const signedReq = aws4.sign({
    method: req.method, host: req.headers.host, path: raw.slice(0, qi) + '?' + kept.join('&'),
    service: 's3', region: REGION, signQuery: true, headers, extraHeadersToInclude: include,
  }, { accessKeyId: ak, secretAccessKey: key.secret, sessionToken: key.token || undefined });
  const want = /[?&]X-Amz-Signature=([0-9a-f]+)/.exec(signedReq.path);
  if (!want || !safeEqual(want[1], got))
    return [403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.'];
  return null;
}

const AUTH_QUERY = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires',
  'X-Amz-SignedHeaders', 'X-Amz-Signature', 'X-Amz-Security-Token'];

function startProxy(s3port) {
  return new Promise(resolve => {
    const server = http.createServer((req, res) => {
      const chunks = [];
      let size = 0, tooBig = false;
      req.on('data', c => {
        size += c.length;
        if (size > MAX_BODY) tooBig = true;
        else chunks.push(c);
      });
      req.on('end', () => {
        if (tooBig) return xmlError(res, 400, 'EntityTooLarge', 'test proxy body limit');
        handle(req, res, Buffer.concat(chunks), s3port);
      });
    });
    server.keepAliveTimeout = 30000;
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function handle(req, res, body, s3port) {
  const url = new URL(req.url, 'http://placeholder');
  // Test hooks.
  if (url.pathname === '/__stats') {
    const match = url.searchParams.get('match');
    let counts = stats;
    if (match) {
      counts = {};
      for (const [p, name] of recent)
        if (p.includes(match)) counts[name] = (counts[name] || 0) + 1;
    }
    const text = Object.keys(counts).sort().map(k => `${k} ${counts[k]}`).join('\n') + '\n';
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    return res.end(text);
  }
  if (url.pathname === '/__fail' && req.method === 'POST') {
    failNext = Number(url.searchParams.get('count') || 1);
    failStatus = Number(url.searchParams.get('status') || 503);
    failMatch = url.searchParams.get('match') || '';
    res.writeHead(204);
    return res.end();
  }
  if (url.pathname === '/__reset' && req.method === 'POST') {
    for (const k of Object.keys(stats)) delete stats[k];
    recent.length = 0;
    failNext = 0;
    res.writeHead(204);
    return res.end();
  }

  // Virtual-host style: <bucket>.localhost[:port] -> path style.
  let pathname = url.pathname;
  const hostname = (req.headers.host || '').replace(/:\d+$/, '');
  const vhost = hostname.endsWith('.localhost');
  if (vhost) pathname = '/' + hostname.slice(0, -'.localhost'.length) + pathname;
  const c = name => count(name, pathname);

  c('requests');
  let err;
  if (req.headers.authorization) err = checkHeaderAuth(req, body);
  else if (url.searchParams.has('X-Amz-Algorithm')) { err = checkQueryAuth(req, url); c('presigned'); }
  else err = [403, 'AccessDenied', 'anonymous access is not allowed'];
  if (err) {
    c('rejected');
    return xmlError(res, err[0], err[1], err[2]);
  }
  if (failNext > 0 && pathname.includes(failMatch)) {
    failNext--;
    c('injected_failures');
    return xmlError(res, failStatus, failStatus === 503 ? 'SlowDown' : 'InternalError', 'injected');
  }

  c(vhost ? 'vhost' : 'pathstyle');
  for (const k of AUTH_QUERY) url.searchParams.delete(k);
  const uploadId = url.searchParams.get('uploadId');
  if (req.method === 'POST' && url.searchParams.has('uploads')) c('multipart_create');
  if (uploadId !== null) {
    if (aborted.has(uploadId)) return xmlError(res, 404, 'NoSuchUpload', 'upload aborted');
    if (req.method === 'DELETE') {
      aborted.add(uploadId);
      c('multipart_abort');
      res.writeHead(204);
      return res.end();
    }
    if (req.method === 'PUT') c('multipart_part');
    if (req.method === 'POST') c('multipart_complete');
  } else if (req.method === 'PUT') {
    c('put');
  }
  c('method_' + req.method);
  const search = url.searchParams.toString();
  const headers = Object.assign({}, req.headers);
  delete headers.authorization;
  delete headers['x-amz-security-token'];
  headers.host = `127.0.0.1:${s3port}`;
  headers['content-length'] = String(body.length);
  delete headers['transfer-encoding'];
  const up = http.request({
    host: '127.0.0.1', port: s3port, method: req.method,
    path: pathname + (search ? '?' + search : ''), headers,
  }, upres => {
    // s3rver answers a ranged GET of an empty object with 206 "bytes 0-0/0"
    // and a promised byte it never sends; S3 answers 416 InvalidRange.
    if (upres.statusCode === 206 && /\/0$/.test(upres.headers['content-range'] || '')) {
      upres.destroy();
      c('empty_range');
      return xmlError(res, 416, 'InvalidRange', 'The requested range is not satisfiable');
    }
    res.writeHead(upres.statusCode, upres.headers);
    upres.pipe(res);
  });
  up.on('error', e => xmlError(res, 502, 'BadGateway', String(e.message)));
  up.end(body);
}

async function main() {
  const s3 = new S3rver({
    address: '127.0.0.1', port: 0, silent: true, directory: path.join(dir, 'data'),
    configureBuckets: [{ name: BUCKET }], vhostBuckets: false, resetOnClose: true,
  });
  const addr = await s3.run();
  const proxy = await startProxy(addr.port);
  const port = proxy.address().port;
  const env = [
    `SCRIBE_TEST_S3_ENDPOINT=http://127.0.0.1:${port}`,
    `SCRIBE_TEST_S3_VHOST_ENDPOINT=http://localhost:${port}`,
    `SCRIBE_TEST_S3_BUCKET=${BUCKET}`,
    `SCRIBE_TEST_S3_REGION=${REGION}`,
    `SCRIBE_TEST_S3_ACCESS_KEY=SCRIBETESTKEY`,
    `SCRIBE_TEST_S3_SECRET_KEY=${KEYS.SCRIBETESTKEY.secret}`,
    `SCRIBE_TEST_S3_TOKEN_ACCESS_KEY=SCRIBETOKENKEY`,
    `SCRIBE_TEST_S3_TOKEN_SECRET_KEY=${KEYS.SCRIBETOKENKEY.secret}`,
    `SCRIBE_TEST_S3_SESSION_TOKEN=${KEYS.SCRIBETOKENKEY.token}`,
    '',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'server.pid'), String(process.pid));
  fs.writeFileSync(path.join(dir, 'endpoint.env.tmp'), env);
  fs.renameSync(path.join(dir, 'endpoint.env.tmp'), path.join(dir, 'endpoint.env'));
  const stop = async () => {
    proxy.close();
    try { await s3.close(); } catch (e) { /* already closed */ }
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch(e => {
  console.error('s3 test server failed:', e);
  process.exit(1);
});
