// jwks-verify/express with the real Express 5 over real HTTP on 127.0.0.1 (and plain node:http as Connect would).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import express from 'express';
import { Verifier } from 'jwks-verify';
import { advanceClock } from './support/expect.mjs';
import authenticateDefault, { authenticate, requireScope, parseAuthorization, challenge } from 'jwks-verify/express';
import { generateKey, signJwt, now } from './support/keys.mjs';
import { httpHarness, get, bearer } from './support/http-harness.mjs';

const require = createRequire(import.meta.url);
const ISSUER = 'https://issuer.test/';
const AUDIENCE = 'api://orders';

const { cleanups, startJwks, startKeys, claims, newVerifier, listen } = httpHarness({
  issuer: ISSUER,
  audience: AUDIENCE,
  claims: { scope: 'orders:read profile' },
});

let key;
let otherKey;
let jwks;
let base;

before(async () => {
  ({ key, otherKey, jwks } = await startKeys('RS256')); // otherKey: same kid, different key: a bad signature
  base = await startApp(authenticate({ verifier: newVerifier(), realm: 'orders' }));
});

/** An Express app with `mw` on /api and a few routes. */
async function startApp(mw) {
  const app = express();
  app.get('/open', (req, res) => res.json({ open: true }));
  app.use('/api', mw);
  app.get('/api/me', (req, res) => res.json({ auth: req.auth ?? null }));
  app.get('/api/orders', requireScope('orders:read'), (req, res) => res.json({ ok: true }));
  app.get('/api/admin', requireScope('admin', 'orders:write'), (req, res) => res.json({ ok: true }));
  // eslint-disable-next-line no-unused-vars
  app.use((err, req, res, next) => res.status(500).json({ handled: err.code ?? err.message }));
  return listen(app);
}

test('a valid token: next() runs with req.auth = { payload, header, issuer, token }', async () => {
  const token = signJwt(key, claims());
  const r = await get(`${base}/api/me`, bearer(token));
  assert.equal(r.status, 200);
  assert.equal(r.body.auth.payload.sub, 'alice');
  assert.equal(r.body.auth.payload.aud, AUDIENCE);
  assert.equal(r.body.auth.header.kid, key.kid);
  assert.equal(r.body.auth.header.alg, 'RS256');
  assert.equal(r.body.auth.issuer, ISSUER);
  assert.equal(r.body.auth.token, token);
  // the scheme is case-insensitive (RFC 7235)
  assert.equal((await get(`${base}/api/me`, { authorization: `bearer ${token}` })).status, 200);
});

test('an expired token: 401 invalid_token with an escaped error_description', async () => {
  const t = now();
  const r = await get(`${base}/api/me`, bearer(signJwt(key, claims({ iat: t - 600, exp: t - 200 }))));
  assert.equal(r.status, 401);
  const www = r.headers.get('www-authenticate');
  assert.match(www, /^Bearer realm="orders", error="invalid_token", error_description="(?:[^"\\]|\\.)*"$/);
  assert.equal(r.body.error, 'invalid_token');
  assert.equal(r.body.code, 'ERR_JWT_EXPIRED');
  assert.equal(r.body.error_description, 'the token has expired');
  // the description in the header is the same text, with " and \ escaped as quoted-pairs
  const quoted = www.match(/error_description="((?:[^"\\]|\\.)*)"$/)[1];
  assert.equal(quoted.replace(/\\(.)/g, '$1'), r.body.error_description);
  assert.equal(r.headers.get('retry-after'), null);
});

test('a bad signature: 401 invalid_token', async () => {
  const r = await get(`${base}/api/me`, bearer(signJwt(otherKey, claims())));
  assert.equal(r.status, 401);
  assert.equal(r.body.code, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
  assert.match(r.headers.get('www-authenticate'), /error="invalid_token"/);
});

test('other refused tokens: wrong audience, unknown kid, garbage', async () => {
  let r = await get(`${base}/api/me`, bearer(signJwt(key, claims({ aud: 'someone-else' }))));
  assert.equal(r.status, 401);
  assert.equal(r.body.code, 'ERR_JWT_CLAIM_VALIDATION_FAILED');
  r = await get(`${base}/api/me`, bearer('not.a-jwt.at-all'));
  assert.equal(r.status, 401);
  assert.equal(r.body.code, 'ERR_JWS_INVALID');
  assert.match(r.headers.get('www-authenticate'), /error="invalid_token"/);
});

test('no Authorization header: 401 with a bare Bearer challenge (no error code)', async () => {
  const r = await get(`${base}/api/me`);
  assert.equal(r.status, 401);
  assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="orders"');
  assert.equal((await get(`${base}/open`)).status, 200);
});

test('a malformed Authorization header: 400 invalid_request', async () => {
  const token = signJwt(key, claims());
  for (const value of ['Basic dXNlcjpwYXNz', `Bearer ${token} ${token}`, 'Bearer', 'Bearer    ', `Token ${token}`, '']) {
    const r = await get(`${base}/api/me`, { authorization: value });
    assert.equal(r.status, 400, `Authorization: ${JSON.stringify(value)}`);
    assert.match(r.headers.get('www-authenticate'), /^Bearer realm="orders", error="invalid_request", error_description="[^"]+"$/, value);
    assert.equal(r.body.error, 'invalid_request');
  }
});

test('a CORS preflight for an Authorization header passes without a token; other OPTIONS requests do not', async () => {
  const preflight = (requestHeaders) =>
    fetch(`${base}/api/me`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.test',
        'access-control-request-method': 'GET',
        ...(requestHeaders ? { 'access-control-request-headers': requestHeaders } : {}),
      },
    });
  const pre = await preflight('Content-Type, Authorization');
  assert.notEqual(pre.status, 401);
  assert.equal(pre.headers.get('www-authenticate'), null);
  assert.equal((await preflight()).status, 401, 'a preflight that names no Authorization header is authenticated');
  assert.equal((await preflight('x-custom')).status, 401);
  const plain = await fetch(`${base}/api/me`, { method: 'OPTIONS' });
  assert.equal(plain.status, 401);
});

test('provider outage on a cold cache: 503 with Retry-After, never 401', async () => {
  const down = await startJwks(key);
  down.setMode({ type: 'status', status: 500, body: 'oops' });
  const url = await startApp(authenticate({ verifier: newVerifier(down.url), retryAfter: 7 }));
  const r = await get(`${url}/api/me`, bearer(signJwt(key, claims())));
  assert.equal(r.status, 503);
  assert.equal(r.headers.get('retry-after'), '7');
  assert.equal(r.headers.get('www-authenticate'), null);
  assert.equal(r.body.error, 'temporarily_unavailable');
  assert.equal(r.body.code, 'ERR_JWKS_FETCH_FAILED');
  assert.ok(down.count >= 1, 'the JWKS endpoint was asked');
});

test('rate limited provider: 503 with the Retry-After the provider gave', async () => {
  const limited = await startJwks(key);
  limited.setMode({ type: 'status', status: 429, headers: { 'retry-after': '120' } });
  const url = await startApp(authenticate(newVerifier(limited.url))); // a Verifier passed directly
  const r = await get(`${url}/api/me`, bearer(signJwt(key, claims())));
  assert.equal(r.status, 503);
  assert.equal(r.body.code, 'ERR_JWKS_RATE_LIMITED');
  const seconds = Number(r.headers.get('retry-after'));
  assert.ok(seconds > 100 && seconds <= 120, `Retry-After ${seconds}`);
});

test('requireScope: 403 insufficient_scope naming the scopes, 200 with them', async () => {
  const token = signJwt(key, claims());
  assert.equal((await get(`${base}/api/orders`, bearer(token))).status, 200);
  const r = await get(`${base}/api/admin`, bearer(token));
  assert.equal(r.status, 403);
  assert.match(
    r.headers.get('www-authenticate'),
    /^Bearer error="insufficient_scope", error_description="[^"]*admin[^"]*", scope="admin orders:write"$/,
  );
  assert.equal(r.body.error, 'insufficient_scope');
  // `scp` as an array (Okta, Entra ID) counts too
  const scp = signJwt(key, claims({ scope: undefined, scp: ['admin', 'orders:write'] }));
  assert.equal((await get(`${base}/api/admin`, bearer(scp))).status, 200);
});

test('credentialsRequired: false lets anonymous requests through but still refuses bad tokens', async () => {
  const url = await startApp(authenticate({ verifier: newVerifier(), credentialsRequired: false }));
  const anon = await get(`${url}/api/me`);
  assert.equal(anon.status, 200);
  assert.equal(anon.body.auth, null);
  const scoped = await get(`${url}/api/orders`);
  assert.equal(scoped.status, 401, 'requireScope without auth');
  assert.equal(scoped.headers.get('www-authenticate'), 'Bearer');
  const bad = await get(`${url}/api/me`, bearer(signJwt(otherKey, claims())));
  assert.equal(bad.status, 401);
});

test('requireScope on a route without authenticate: a 500 naming the setup mistake, not "a bearer token is required"', async () => {
  const app = express();
  app.get('/forgot', requireScope('orders:read'), (req, res) => res.json({ ok: true }));
  // eslint-disable-next-line no-unused-vars
  app.use((err, req, res, next) => res.status(500).json({ code: err.code, message: err.message }));
  const url = await listen(app);
  const r = await get(`${url}/forgot`, bearer(signJwt(key, claims())));
  assert.equal(r.status, 500);
  assert.equal(r.body.code, 'ERR_AUTHENTICATE_MISSING');
  assert.match(r.body.message, /this route has no authenticate before requireScope/);
});

test('credentialsRequired must be a boolean: a TypeError at setup naming the option', () => {
  for (const value of ['no', 'false', 0, null]) {
    assert.throws(() => authenticate({ verifier: newVerifier(), credentialsRequired: value }), {
      name: 'TypeError',
      message: /^authenticate: credentialsRequired must be a boolean \(true or false\), got /,
    });
  }
});

test('Verifier options instead of a verifier, and getToken from a cookie', async () => {
  const mw = authenticateDefault({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwksUri: jwks.url,
    getToken: (req) => /(?:^|;\s*)session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1],
  });
  assert.ok(mw.verifier instanceof Verifier);
  cleanups.push(() => mw.verifier.close());
  const url = await startApp(mw);
  const ok = await get(`${url}/api/me`, { cookie: `theme=dark; session=${signJwt(key, claims({ sub: 'carol' }))}` });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.auth.payload.sub, 'carol');
  const none = await get(`${url}/api/me`);
  assert.equal(none.status, 401);
  assert.equal(none.headers.get('www-authenticate'), 'Bearer');
});

test('wrong Verifier options throw ERR_INVALID_OPTIONS at construction; bad entry options throw TypeError', () => {
  assert.throws(() => authenticate({ issuer: ISSUER, jwksUri: jwks.url, audiance: 'typo' }), { code: 'ERR_INVALID_OPTIONS' });
  assert.throws(() => authenticate({ verifier: newVerifier(), issuer: ISSUER }), TypeError);
  assert.throws(() => authenticate({ verifier: newVerifier(), getToken: 'header' }), TypeError);
  assert.throws(() => authenticate(), TypeError);
  assert.throws(() => requireScope(), TypeError);
});

test('errors that are not about the token go to next(err)', async () => {
  const broken = { verify: async () => Promise.reject(Object.assign(new Error('boom'), { code: 'ERR_SOMETHING_ELSE' })) };
  const url = await startApp(authenticate({ verifier: broken }));
  const r = await get(`${url}/api/me`, bearer('a.b.c'));
  assert.equal(r.status, 500);
  assert.equal(r.body.handled, 'ERR_SOMETHING_ELSE');
});

test('Connect style: the middleware on a plain node:http server', async () => {
  const mw = authenticate({ verifier: newVerifier() });
  const url = await listen((req, res) => {
    mw(req, res, (err) => {
      res.statusCode = err ? 500 : 200;
      res.end(JSON.stringify({ sub: req.auth?.payload.sub ?? null }));
    });
  });
  const ok = await get(url, bearer(signJwt(key, claims({ sub: 'dave' }))));
  assert.equal(ok.status, 200);
  assert.equal(ok.body.sub, 'dave');
  const bad = await get(url, bearer(signJwt(otherKey, claims())));
  assert.equal(bad.status, 401);
  assert.match(bad.headers.get('www-authenticate'), /error="invalid_token"/);
});

test('the example app (examples/express/server.mjs) answers as documented', async () => {
  const { createApp } = await import('../examples/express/server.mjs');
  const url = await listen(createApp({ verifier: newVerifier() }));
  assert.equal((await get(`${url}/health`)).status, 200);
  assert.equal((await get(`${url}/api/me`)).status, 401);
  const me = await get(`${url}/api/me`, bearer(signJwt(key, claims())));
  assert.equal(me.status, 200);
  assert.equal(me.body.sub, 'alice');
  const post = await fetch(`${url}/api/orders`, { method: 'POST', headers: bearer(signJwt(key, claims())) });
  assert.equal(post.status, 403);
});

test('helpers: header parsing and challenge quoting', () => {
  assert.deepEqual(parseAuthorization(undefined), { missing: true });
  assert.deepEqual(parseAuthorization('Bearer abc.def.ghi'), { token: 'abc.def.ghi' });
  assert.deepEqual(parseAuthorization('BEARER  abc'), { token: 'abc' });
  assert.ok(parseAuthorization('Bearer a b').malformed);
  assert.ok(parseAuthorization('Basic x').malformed);
  assert.ok(parseAuthorization('').malformed);
  assert.equal(
    challenge({ error: 'invalid_token', description: 'say "hi" \\ bye\nnow' }),
    'Bearer error="invalid_token", error_description="say \\"hi\\" \\\\ bye?now"',
  );
  assert.equal(challenge(), 'Bearer');
  // CommonJS and ESM see the same module
  const cjs = require('jwks-verify/express');
  assert.equal(cjs, authenticateDefault);
  assert.equal(cjs.authenticate, authenticate);
});

test('attacker-controlled text in the description cannot break or inject headers', async () => {
  for (const kid of ['a"b\\c', 'line\nbreak', 'caf\u00e9 \u2603']) {
    const r = await get(`${base}/api/me`, bearer(signJwt(generateKey('RS256', { kid }), claims())));
    assert.equal(r.status, 401, JSON.stringify(kid));
    const www = r.headers.get('www-authenticate');
    // one well-formed challenge: printable ASCII only, every quoted-string closed, nothing after it
    assert.match(
      www,
      /^Bearer realm="orders", error="invalid_token", error_description="(?:[\x20-\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"$/,
      www,
    );
  }
});

test('keys cached, then the provider fails: requests keep passing on the last good keys (last: moves the clock)', async () => {
  const flaky = await startJwks(key);
  const url = await startApp(authenticate({ verifier: newVerifier(flaky.url, { cache: { maxAge: 60 } }) }));
  assert.equal((await get(`${url}/api/me`, bearer(signJwt(key, claims())))).status, 200);
  flaky.setMode({ type: 'status', status: 500 });
  advanceClock(120_000); // keys past maxAge: stale, still served
  const t = now() + 120;
  const r = await get(`${url}/api/me`, bearer(signJwt(key, claims({ iat: t, exp: t + 300 }))));
  assert.equal(r.status, 200, JSON.stringify(r.body));
});
