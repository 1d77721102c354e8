// TokenSource against a token endpoint that misbehaves on demand (support/token-server.mjs, 127.0.0.1): rate limits,
// failures and backoff, stalls, answers without a token or a lifetime, the current token serving while a refresh
// fails, the form sent for each option, options refused at construction, and secrets that never show.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import util from 'node:util';
import { createTokenSource, TokenSource } from '../index.js';
import { startTokenServer } from './support/token-server.mjs';
import { sendJson } from './support/jwks-server.mjs';
import { generateKey } from './support/keys.mjs';
import { rejectsWith, throwsWith, testClock, advanceClock, clockMs } from './support/expect.mjs';
import { waitFor, many } from './support/cache-harness.mjs';
import { runNode } from './support/run-node.mjs';

const SECRET = 'fault-suite-secret-0123456789';
const cleanups = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A token server and a `make(options)` building sources for it (on the test clock), all closed after the suite. */
async function setup(mode) {
  const server = await startTokenServer();
  if (mode) server.setMode(mode);
  cleanups.push(() => server.close());
  const make = (options = {}, factory = createTokenSource) => {
    const s = factory({ tokenUrl: server.url, clientId: 'pipeline', clientSecret: SECRET, testClock, ...options });
    cleanups.push(() => s.close());
    return s;
  };
  return { server, make };
}

test('429 with Retry-After: ERR_TOKEN_RATE_LIMITED, no request before Retry-After has passed', async () => {
  const { server, make } = await setup({ type: 'status', status: 429, headers: { 'retry-after': '7' }, body: { message: 'slow down' } });
  const s = make();
  await rejectsWith(s.getToken(), 'ERR_TOKEN_RATE_LIMITED', {
    status: 429,
    retryAfter: 7,
    message: /answered 429: rate limited, retry after 7 s/,
  });
  advanceClock(3_000);
  await rejectsWith(s.getToken(), 'ERR_TOKEN_RATE_LIMITED', { retryAfter: 4 });
  assert.equal(server.count, 1, 'failed fast while Retry-After runs');
  server.setMode({ type: 'ok' });
  advanceClock(4_000);
  assert.equal((await s.getToken()).accessToken, server.issued[0]);
  assert.equal(server.count, 2);
});

test("Genesys' inin-ratelimit-reset counts as Retry-After; 503 with Retry-After is rate limited too", async () => {
  const { server, make } = await setup({
    type: 'status',
    status: 429,
    headers: { 'inin-ratelimit-reset': '5', 'inin-ratelimit-count': '300', 'inin-ratelimit-allowed': '300' },
  });
  await rejectsWith(make().getToken(), 'ERR_TOKEN_RATE_LIMITED', { retryAfter: 5 });
  server.setMode({ type: 'status', status: 503, headers: { 'retry-after': '2' } });
  await rejectsWith(make().getToken(), 'ERR_TOKEN_RATE_LIMITED', { status: 503, retryAfter: 2 });
  server.setMode({ type: 'status', status: 503 });
  await rejectsWith(make().getToken(), 'ERR_TOKEN_REQUEST_FAILED', { status: 503, retryAfter: undefined });
});

test('500: ERR_TOKEN_REQUEST_FAILED with status, and a backoff (10 quick calls make at most 2 requests)', async () => {
  const { server, make } = await setup({ type: 'status', status: 500, body: 'oops' });
  const s = make();
  const results = await Promise.allSettled(many(10, () => s.getToken()));
  for (const r of results) assert.equal(r.reason?.code, 'ERR_TOKEN_REQUEST_FAILED');
  for (let i = 0; i < 10; i++) await rejectsWith(s.getToken(), 'ERR_TOKEN_REQUEST_FAILED', { status: 500 });
  assert.ok(server.count <= 2, `requests: ${server.count}`);
  advanceClock(1_000);
  await rejectsWith(s.getToken(), 'ERR_TOKEN_REQUEST_FAILED', { status: 500 });
  advanceClock(1_000);
  await rejectsWith(s.getToken(), 'ERR_TOKEN_REQUEST_FAILED', { retryAfter: (r) => r >= 1 });
  assert.ok(server.count <= 3, `after the first 1 s backoff, one more request; the next waits 2 s (${server.count})`);
});

test('a token endpoint that stalls past http.timeout: ERR_TOKEN_REQUEST_FAILED', async () => {
  const { make } = await setup({ type: 'stall' });
  await rejectsWith(make({ http: { timeout: '300ms' } }).getToken(), 'ERR_TOKEN_REQUEST_FAILED', { message: /timed out after 300 ms/ });
});

test('a 200 without access_token, or with garbage: ERR_TOKEN_REQUEST_FAILED', async () => {
  const { server, make } = await setup({ type: 'ok', omit: ['access_token'] });
  await rejectsWith(make().getToken(), 'ERR_TOKEN_REQUEST_FAILED', { status: 200, message: /without "access_token"/ });
  server.setMode({ type: 'body', body: '<html>login</html>', contentType: 'text/html' });
  await rejectsWith(make().getToken(), 'ERR_TOKEN_REQUEST_FAILED', { message: /not a JSON object/ });
  server.setMode({ type: 'status', status: 302, headers: { location: 'https://elsewhere.example/token' } });
  await rejectsWith(make().getToken(), 'ERR_TOKEN_REQUEST_FAILED', { status: 302 });
  assert.equal(server.requests.length, 3, 'a redirect is not followed with the credentials');
});

test('a 200 without expires_in: the token lives 5 minutes, with a warning event', async () => {
  const { server, make } = await setup({ type: 'ok', omit: ['expires_in'] });
  const events = [];
  const s = make({ onEvent: (e) => events.push(e) });
  const before = clockMs();
  const token = await s.getToken();
  assert.ok(token.expiresAt >= before + 300_000 && token.expiresAt <= clockMs() + 300_000, `expiresAt ${token.expiresAt - before}`);
  await waitFor(() => events.length === 2, 'warning and token events', 10_000);
  assert.equal(events[0].type, 'warning');
  assert.match(events[0].message, /without "expires_in": the token is taken to live 300 s/);
  assert.equal(events[1].type, 'token');
  advanceClock(240_001);
  await s.getToken();
  await waitFor(() => server.count === 2, 'the refresh 60 s before the assumed expiry', 10_000);
});

test('a failing refresh: the current token keeps serving until it expires, never after', async () => {
  const { server, make } = await setup({ type: 'ok', expiresIn: 120 });
  const s = make();
  const first = await s.getToken();
  server.setMode({ type: 'status', status: 500 });
  advanceClock(61_000); // past expiresAt - refreshBefore (60 s)
  assert.equal((await s.getToken()).accessToken, first.accessToken);
  await waitFor(() => server.count === 2, 'the background refresh', 10_000);
  for (let i = 0; i < 10; i++) assert.equal((await s.getToken()).accessToken, first.accessToken, 'still serving');
  assert.equal(server.count, 2, 'backing off: no request per call');
  advanceClock(59_000); // expired now
  await rejectsWith(s.getToken(), 'ERR_TOKEN_REQUEST_FAILED', { status: 500 });
  server.setMode({ type: 'ok', expiresIn: 120 });
  advanceClock(30_000);
  assert.equal((await s.getToken()).accessToken, server.issued[1]);
});

test('close() while a request runs: its callers get ERR_VERIFIER_CLOSED, not the token', async () => {
  const { server, make } = await setup({ type: 'slow', delayMs: 200 });
  const s = make();
  const pending = [s.getToken(), s.authorizationHeader()];
  await waitFor(() => server.count === 1, 'the request', 10_000);
  s.close();
  for (const p of pending) await rejectsWith(p, 'ERR_VERIFIER_CLOSED');
  await rejectsWith(s.getToken(), 'ERR_VERIFIER_CLOSED');
});

test('a source makes no request by itself while nobody calls it', async () => {
  const { server, make } = await setup({ type: 'ok', expiresIn: 120 });
  const s = make();
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(server.count, 0, 'nothing at construction');
  await s.getToken();
  advanceClock(100_000);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(server.count, 1, 'no timer refreshes it');
});

test('no timer keeps the process alive: a script with a cached token exits by itself', async (t) => {
  const { server } = await setup({ type: 'ok' });
  const script = `
    const { TokenSource } = require('./index.js')
    const s = new TokenSource({ tokenUrl: ${JSON.stringify(server.url)}, clientId: 'c', clientSecret: 'x' })
    s.getToken().then((t) => console.log(t.tokenType))`;
  const r = await runNode(['-e', script], { killAfterMs: 15_000 });
  assert.equal(r.signal, null, 'exited without being killed');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'Bearer');
});

test('the form: grant_type, scope (array joined), audience, one resource each, params; Basic auth form-encoded', async () => {
  const { server, make } = await setup({ type: 'ok' });
  await make({
    clientId: 'svc:one',
    clientSecret: 'p@ss:w0rd+/ x',
    scope: ['read:a', 'write:b'],
    audience: 'https://api.example.com',
    resource: ['https://r1.example.com', 'https://r2.example.com'],
    params: { organization: 'org_1' },
  }).getToken();
  const basic = server.requests[0];
  assert.equal(basic.method, 'POST');
  assert.equal(basic.headers['content-type'], 'application/x-www-form-urlencoded');
  assert.deepEqual(basic.form, {
    grant_type: 'client_credentials',
    scope: 'read:a write:b',
    audience: 'https://api.example.com',
    resource: ['https://r1.example.com', 'https://r2.example.com'],
    organization: 'org_1',
  });
  const encoded = `${encodeURIComponent('svc:one')}:${new URLSearchParams({ s: 'p@ss:w0rd+/ x' }).toString().slice(2)}`;
  assert.equal(basic.headers.authorization, `Basic ${Buffer.from(encoded).toString('base64')}`);

  await make({ authMethod: 'client_secret_post', scope: 'x' }).getToken();
  const post = server.requests[1];
  assert.equal(post.headers.authorization, undefined);
  assert.deepEqual(post.form, { grant_type: 'client_credentials', scope: 'x', client_id: 'pipeline', client_secret: SECRET });

  const key = generateKey('ES256', { kid: 'k1' });
  const before = Math.floor(clockMs() / 1000);
  await make({ clientSecret: undefined, privateKey: { ...key.privateKey.export({ format: 'jwk' }), kid: 'k1' } }).getToken();
  const jwt = server.requests[2].form;
  assert.equal(jwt.client_id, 'pipeline');
  assert.equal(jwt.client_assertion_type, 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
  const [header, claims] = jwt.client_assertion
    .split('.')
    .slice(0, 2)
    .map((p) => JSON.parse(Buffer.from(p, 'base64url')));
  assert.deepEqual(header, { typ: 'JWT', alg: 'ES256', kid: 'k1' });
  assert.equal(claims.iss, 'pipeline');
  assert.equal(claims.sub, 'pipeline');
  assert.equal(claims.aud, server.url);
  assert.ok(claims.iat >= before && claims.exp === claims.iat + 60, JSON.stringify(claims));
  assert.equal(typeof claims.jti, 'string');
});

test('issuer: token_endpoint from discovery; a document without one, or naming another issuer, is a request failure', async () => {
  const { server, make } = await setup({ type: 'ok' });
  let doc = { issuer: server.origin, jwks_uri: `${server.origin}/jwks.json`, token_endpoint: server.url };
  server.route('/.well-known/openid-configuration', (_req, res) => sendJson(res, doc));
  assert.equal((await make({ tokenUrl: undefined, issuer: server.origin }).getToken()).accessToken, server.issued[0]);
  const other = await setup();
  doc = { issuer: other.server.origin, jwks_uri: `${other.server.origin}/jwks.json` };
  other.server.route('/.well-known/openid-configuration', (_req, res) => sendJson(res, doc));
  await rejectsWith(other.make({ tokenUrl: undefined, issuer: other.server.origin }).getToken(), 'ERR_TOKEN_REQUEST_FAILED', {
    message: /names no usable "token_endpoint"/,
  });
  const third = await setup();
  third.server.route('/.well-known/openid-configuration', (_req, res) =>
    sendJson(res, { issuer: 'https://evil.example', jwks_uri: 'https://evil.example/jwks', token_endpoint: third.server.url }),
  );
  await rejectsWith(third.make({ tokenUrl: undefined, issuer: third.server.origin }).getToken(), 'ERR_TOKEN_REQUEST_FAILED', {
    message: /names issuer "https:\/\/evil.example"/,
  });
  assert.equal(third.server.count, 0, 'no token request to an endpoint of a foreign document');
});

test('wrong options: ERR_INVALID_OPTIONS at construction, naming the option', () => {
  const base = { tokenUrl: 'https://login.mypurecloud.com/oauth/token', clientId: 'c', clientSecret: SECRET };
  const cases = [
    [{ ...base, clientSecrett: 'x' }, /unknown option "clientSecrett" \(did you mean "clientSecret"\?\)/],
    [{ ...base, clientId: undefined }, /"clientId" is required/],
    [{ ...base, tokenUrl: 'http://login.example.com/token' }, /"tokenUrl" must use https/],
    [{ ...base, issuer: 'https://login.example.com' }, /"issuer" cannot be combined with "tokenUrl"/],
    [
      { ...base, privateKey: generateKey('ES256').privateKey.export({ format: 'jwk' }) },
      /"clientSecret" cannot be combined with "privateKey"/,
    ],
    [{ ...base, clientSecret: undefined, privateKey: generateKey('ES256').jwk }, /a private key \(with "d"\) is needed/],
    [{ ...base, clientSecret: undefined, privateKey: 'not a key' }, /"privateKey" is a string without a PEM block/],
    [{ ...base, authMethod: 'client_secret_jwt' }, /"authMethod" must be/],
    [{ ...base, scope: 5 }, /"scope" must be a string or an array of strings/],
    [{ ...base, resource: 'not a uri' }, /"resource" must be absolute URIs/],
    [{ ...base, params: { client_secret: 'x' } }, /"params.client_secret" is set by the token source/],
    [{ ...base, refreshBefore: '-1s' }, /"refreshBefore"/],
    [{ ...base, http: { timeout: 0 } }, /"http.timeout" must be greater than 0/],
    [{ ...base, audience: null }, /"audience" must not be null/],
    [{ ...base, onEvent: 'log' }, /"onEvent" must be a function/],
    [{ ...base, secret: new Uint8Array(32) }, /unknown option "secret"/],
    [{ ...base, testClock: {} }, /"testClock" must be a TestClock/],
    ['https://login.example.com', /options must be an object/],
  ];
  for (const [options, message] of cases) {
    throwsWith(() => new TokenSource(options), 'ERR_INVALID_OPTIONS', { message });
    throwsWith(() => createTokenSource(options), 'ERR_INVALID_OPTIONS', { message });
  }
  assert.throws(() => new TokenSource(), /options must be an object/);
});

test('secrets stay secret: not in messages, String(err), inspect, JSON, events; nor the token or the private key', async () => {
  const { server, make } = await setup({
    type: 'status',
    status: 400,
    body: { error: 'invalid_request', error_description: `client_secret ${SECRET} does not match` },
  });
  const events = [];
  const s = make({ onEvent: (e) => events.push(e) });
  let err;
  await s.getToken().catch((e) => (err = e));
  assert.equal(err?.code, 'ERR_TOKEN_REQUEST_FAILED');
  assert.equal(err.errorDescription, 'client_secret [redacted] does not match', 'the echoed secret is redacted');
  await waitFor(() => events.length === 1, 'the error event', 10_000);
  const shown = (x) => [String(x), x?.message, util.inspect(x, { depth: 5, showHidden: true }), JSON.stringify(x)].join('\n');
  for (const [what, value] of [
    ['error', err],
    ['event', events[0]],
    ['source', s],
  ]) {
    assert.ok(!shown(value).includes(SECRET), `${what} shows the secret: ${shown(value)}`);
  }

  server.setMode({ type: 'ok' });
  advanceClock(1_000);
  const { accessToken } = await s.getToken();
  await waitFor(() => events.length === 2, 'the token event', 10_000);
  for (const [what, value] of [
    ['source', s],
    ['events', events],
  ]) {
    assert.ok(!shown(value).includes(accessToken), `${what} shows the token`);
    assert.ok(!shown(value).includes(SECRET), `${what} shows the secret`);
  }

  const key = generateKey('EdDSA', { kid: 'ed-1' });
  const jwk = key.privateKey.export({ format: 'jwk' });
  const keyed = make({ clientSecret: undefined, privateKey: { ...jwk, kid: 'ed-1' } });
  await keyed.getToken();
  for (const value of [keyed, server.requests.at(-1).form.client_assertion])
    assert.ok(!shown(value).includes(jwk.d), 'the private key shows');
  let refused;
  try {
    new TokenSource({ tokenUrl: server.url, clientId: 'c', privateKey: { ...jwk, x: generateKey('EdDSA').jwk.x } });
  } catch (e) {
    refused = e;
  }
  assert.equal(refused?.code, 'ERR_INVALID_OPTIONS');
  assert.ok(!shown(refused).includes(jwk.d), `a refused key is not quoted: ${refused.message}`);
});
