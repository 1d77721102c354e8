// The one classification of error codes behind every entry point's answers and the CLI's exit codes
// (lib/http-answers.js), through the public `failureAnswer` of jwks-verify/express and the CLI's `isUnavailable`; and
// the addon's `errorCodes()` against the `ErrorCode` union of index.d.ts. Pure functions: no server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { errorCodes } from 'jwks-verify';
import { failureAnswer } from 'jwks-verify/express';

const { isUnavailable } = createRequire(import.meta.url)('../lib/http-answers.js');

const INVALID_TOKEN = [
  'ERR_JWS_INVALID',
  'ERR_JWT_INVALID',
  'ERR_JOSE_ALG_NOT_ALLOWED',
  'ERR_JOSE_NOT_SUPPORTED',
  'ERR_JWKS_NO_MATCHING_KEY',
  'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
  'ERR_JWT_EXPIRED',
  'ERR_JWT_CLAIM_VALIDATION_FAILED',
  'ERR_TOKEN_INACTIVE',
];
const UNAVAILABLE = ['ERR_JWKS_FETCH_FAILED', 'ERR_JWKS_TIMEOUT', 'ERR_JWKS_RATE_LIMITED', 'ERR_JWKS_INVALID', 'ERR_REVALIDATION_FAILED'];
// Not about the token or the provider: the framework's error handling answers (500). ERR_JWT_REVOKED: nothing produces it.
// ERR_TOKEN_*: a TokenSource's own outbound calls failed, nothing the caller of our API did.
const SERVER_ERROR = [
  'ERR_INVALID_OPTIONS',
  'ERR_JWKS_NOT_LOADED',
  'ERR_VERIFIER_CLOSED',
  'ERR_REVALIDATION_PENDING',
  'ERR_TOKEN_REQUEST_FAILED',
  'ERR_TOKEN_RATE_LIMITED',
  'ERR_JWT_REVOKED',
  'ERR_SOMETHING_NEW',
];

const failure = (code, fields = {}) => Object.assign(new Error(`${code}: why`), { code, ...fields });

/** The codes of the `ErrorCode` union, read from the text of index.d.ts. */
function errorCodeUnion() {
  const union = /export type ErrorCode =([^;]*?)\n\n/.exec(readFileSync(new URL('../index.d.ts', import.meta.url), 'utf8'));
  const codes = [...union[1].matchAll(/'(ERR_[A-Z_]+)'/g)].map((m) => m[1]);
  assert.ok(codes.length > 10, `codes: ${codes}`);
  return codes;
}

test("the addon's errorCodes() are the ErrorCode union of index.d.ts", () => {
  const codes = errorCodes();
  assert.equal(new Set(codes).size, codes.length, `no duplicates: ${codes}`);
  assert.deepEqual(new Set(codes), new Set(errorCodeUnion()));
});

test('every ErrorCode (index.d.ts and errorCodes()) has its answer: 401, 503 or a server error', () => {
  for (const code of new Set([...errorCodeUnion(), ...errorCodes()])) {
    let status = 'unclassified';
    if (INVALID_TOKEN.includes(code)) status = 401;
    else if (UNAVAILABLE.includes(code)) status = 503;
    else if (SERVER_ERROR.includes(code)) status = null;
    assert.notEqual(status, 'unclassified', `${code} is classified by this test`);
    assert.equal(failureAnswer(failure(code))?.status ?? null, status, `${code}: failureAnswer`);
    assert.equal(isUnavailable(code), status === 503, `${code}: isUnavailable (the CLI's exit 3)`);
  }
});

test('token refused: 401 invalid_token with a generic description per code, never the detailed message', () => {
  for (const code of INVALID_TOKEN) {
    const answer = failureAnswer(failure(code), { realm: 'api' });
    assert.equal(answer?.status, 401, code);
    const description = answer.body.error_description;
    assert.ok(description && !description.includes('why'), `${code}: ${description}`);
    assert.equal(answer.headers['www-authenticate'], `Bearer realm="api", error="invalid_token", error_description="${description}"`, code);
    assert.deepEqual(answer.body, { error: 'invalid_token', error_description: description, code }, code);
  }
  // An unknown iss: the message lists the accepted issuers, the answer does not.
  const iss = Object.assign(new Error('unexpected "iss" claim value "https://evil" (accepted: https://secret-tenant.example)'), {
    code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
    claim: 'iss',
  });
  const answer = failureAnswer(iss);
  assert.equal(answer.body.error_description, 'the token\'s "iss" claim is not accepted');
  assert.ok(!JSON.stringify(answer).includes('secret-tenant'));
});

test("provider unavailable: 503 temporarily_unavailable with the error's Retry-After, else the default", () => {
  for (const code of UNAVAILABLE) {
    const answer = failureAnswer(failure(code, { retryAfter: 6.2 }));
    assert.equal(answer?.status, 503, code);
    assert.deepEqual(answer.headers, { 'retry-after': '7', 'cache-control': 'no-store' }, code);
    assert.equal(answer.body.error, 'temporarily_unavailable', code);
    assert.equal(answer.body.code, code);
    assert.equal(failureAnswer(failure(code)).headers['retry-after'], '5', `${code}: default`);
    assert.equal(failureAnswer(failure(code), { retryAfter: 30 }).headers['retry-after'], '30', `${code}: option`);
  }
  assert.match(failureAnswer(failure('ERR_JWKS_TIMEOUT')).body.error_description, /signing keys/);
  assert.match(failureAnswer(failure('ERR_REVALIDATION_FAILED')).body.error_description, /still active/);
});

test('any other error: null (the caller answers 500)', () => {
  for (const code of SERVER_ERROR) assert.equal(failureAnswer(failure(code)), null, code);
  assert.equal(failureAnswer(new Error('a bug')), null);
  assert.equal(failureAnswer(null), null);
  assert.equal(failureAnswer(failure('toString')), null, 'a code named like an Object member');
});
