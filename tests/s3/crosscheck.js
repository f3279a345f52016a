#!/usr/bin/env node
// crosscheck.js - recomputes the SigV4 vectors of tests/storage/test_sigv4.c
// with the independent npm `aws4` signer, so the expected values in the C
// test do not rest on one implementation.  Exit 0 when all agree.
'use strict';
const aws4 = require('aws4');

const SUITE = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const S3DOC = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const STS = 'AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==';
const UNRES = '-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

// [name, method, path(+query), extra headers, body, expected signature]
const suite = [
  ['get-vanilla', 'GET', '/', {}, null, '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'],
  ['get-vanilla-empty-query-key', 'GET', '/?Param1=value1', {}, null, 'a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb'],
  ['get-vanilla-query-order-key-case', 'GET', '/?Param2=value2&Param1=value1', {}, null, 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500'],
  ['get-vanilla-query-order-key', 'GET', '/?Param1=value2&Param1=Value1', {}, null, 'eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1'],
  ['get-vanilla-query-order-value', 'GET', '/?Param1=value2&Param1=value1', {}, null, '5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694'],
  ['get-vanilla-query-unreserved', 'GET', '/?' + UNRES + '=' + UNRES, {}, null, '9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197'],
  ['get-vanilla-utf8-query', 'GET', '/?\u1234=bar', {}, null, '2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04'],
  ['get-space', 'GET', '/example space/', {}, null, '652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741'],
  ['get-slash', 'GET', '//', {}, null, '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'],
  ['get-slash-dot-slash', 'GET', '/./', {}, null, '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'],
  ['get-slash-pointless-dot', 'GET', '/./example', {}, null, 'ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5'],
  ['get-slashes', 'GET', '//example//', {}, null, '9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84'],
  ['get-relative', 'GET', '/example/..', {}, null, '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'],
  ['get-relative-relative', 'GET', '/example1/example2/../..', {}, null, '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'],
  ['get-unreserved', 'GET', '/' + UNRES, {}, null, '07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f'],
  ['get-utf8', 'GET', '/\u1234', {}, null, '8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85'],
  ['get-header-key-duplicate', 'GET', '/', { 'My-Header1': ['value2', 'value2', 'value1'] }, null, 'c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea'],
  ['get-header-value-order', 'GET', '/', { 'My-Header1': ['value4', 'value1', 'value3', 'value2'] }, null, '08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01'],
  ['get-header-value-trim', 'GET', '/', { 'My-Header1': ' value1', 'My-Header2': ' "a   b   c"' }, null, 'acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736'],
  ['post-vanilla', 'POST', '/', {}, null, '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b'],
  ['post-vanilla-query', 'POST', '/?Param1=value1', {}, null, '28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11'],
  ['post-header-key-sort', 'POST', '/', { 'My-Header1': 'value1' }, null, 'c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c'],
  ['post-header-value-case', 'POST', '/', { 'My-Header1': 'VALUE1' }, null, 'cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d'],
  ['post-x-www-form-urlencoded', 'POST', '/', { 'Content-Type': 'application/x-www-form-urlencoded' }, 'Param1=value1', 'ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a'],
  ['post-x-www-form-urlencoded-parameters', 'POST', '/', { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf8' }, 'Param1=value1', '1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe'],
  ['post-sts-header-before', 'POST', '/', { 'X-Amz-Security-Token': STS }, null, '85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead'],
];

let failed = 0, passed = 0;
function expect(name, got, want) {
  if (got === want) { passed++; return; }
  failed++;
  console.log(`MISMATCH ${name}: aws4 ${got} expected ${want}`);
}
function sigOf(auth) { return /Signature=([0-9a-f]{64})/.exec(auth)[1]; }

for (const [name, method, path, headers, body, want] of suite) {
  const req = {
    host: 'example.amazonaws.com', method, path, service: 'service', region: 'us-east-1',
    headers: Object.assign({ 'X-Amz-Date': '20150830T123600Z' }, headers),
    doNotEncodePath: true, extraHeadersToIgnore: { 'content-length': true },
  };
  if (body) req.body = body;
  expect(name, sigOf(aws4.sign(req, SUITE).headers.Authorization), want);
}

const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const s3 = [
  ['s3-get-object', 'GET', '/test.txt', { Range: 'bytes=0-9', 'X-Amz-Content-Sha256': EMPTY }, null, 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41'],
  ['s3-put-object', 'PUT', '/test$file.text', { Date: 'Fri, 24 May 2013 00:00:00 GMT', 'x-amz-storage-class': 'REDUCED_REDUNDANCY' }, 'Welcome to Amazon S3.', '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd'],
  ['s3-get-lifecycle', 'GET', '/?lifecycle', {}, null, 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543'],
  ['s3-list-objects', 'GET', '/?max-keys=2&prefix=J', {}, null, '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7'],
];
for (const [name, method, path, headers, body, want] of s3) {
  const req = {
    host: 'examplebucket.s3.amazonaws.com', method, path, service: 's3', region: 'us-east-1',
    headers: Object.assign({ 'X-Amz-Date': '20130524T000000Z' }, headers),
    extraHeadersToInclude: { range: true }, extraHeadersToIgnore: { 'content-length': true, 'content-type': true },
  };
  if (body) req.body = body;
  expect(name, sigOf(aws4.sign(req, S3DOC).headers.Authorization), want);
}

const pre = aws4.sign({
  host: 'examplebucket.s3.amazonaws.com', method: 'GET', service: 's3', region: 'us-east-1',
  path: '/test.txt?X-Amz-Expires=86400&X-Amz-Date=20130524T000000Z', signQuery: true,
}, S3DOC);
expect('s3-presign', /X-Amz-Signature=([0-9a-f]+)/.exec(pre.path)[1],
  'aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404');

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
