// jwks-verify/fastify with the real Fastify 5 over real HTTP on 127.0.0.1.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import { Verifier } from 'jwks-verify';
import jwksVerify from 'jwks-verify/fastify';
import { signJwt, now } from './support/keys.mjs';
import { testClock } from './support/expect.mjs';
import { httpHarness, get, bearer } from './support/http-harness.mjs';

const ISSUER = 'https://issuer.test/';
const AUDIENCE = 'api://orders';

const { cleanups, startJwks, startKeys, claims, newVerifier } = httpHarness({
  issuer: ISSUER,
  audience: AUDIENCE,
  claims: { scope: 'orders:read' },
});

let key;
let otherKey;
let jwks;
let base;

/** A Fastify app with the plugin registered with `options`; returns its base URL. */
async function startApp(options, { global = false } = {}) {
  const app = Fastify();
  await app.register(jwksVerify, options);
  if (global) app.addHook('onRequest', app.authenticate);
  app.get('/open', async () => ({ open: true }));
  app.get('/me', { onRequest: app.authenticate }, async (request) => ({ auth: request.auth }));
  app.get('/orders', { onRequest: [app.authenticate, app.requireScope('orders:read')] }, async () => ({ ok: true }));
  app.get('/admin', { preHandler: [app.authenticate, app.requireScope('admin')] }, async () => ({ ok: true }));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  cleanups.push(() => app.close());
  return { url, app };
}

before(async () => {
  ({ key, otherKey, jwks } = await startKeys('ES256'));
  ({ url: base } = await startApp({ verifier: newVerifier(jwks.url), realm: 'orders' }));
});

test('a valid token: request.auth holds payload, header, issuer', async () => {
  const token = signJwt(key, claims());
  const r = await get(`${base}/me`, bearer(token));
  assert.equal(r.status, 200);
  assert.equal(r.body.auth.payload.sub, 'alice');
  assert.equal(r.body.auth.header.alg, 'ES256');
  assert.equal(r.body.auth.header.kid, key.kid);
  assert.equal(r.body.auth.issuer, ISSUER);
  assert.equal((await get(`${base}/orders`, bearer(token))).status, 200);
});

test('an expired token: 401 invalid_token', async () => {
  const t = now();
  const r = await get(`${base}/me`, bearer(signJwt(key, claims({ iat: t - 400, exp: t - 100 }))));
  assert.equal(r.status, 401);
  assert.equal(r.body.code, 'ERR_JWT_EXPIRED');
  assert.match(r.headers.get('www-authenticate'), /^Bearer realm="orders", error="invalid_token", error_description="(?:[^"\\]|\\.)+"$/);
});

test('a bad signature: 401 invalid_token', async () => {
  const r = await get(`${base}/me`, bearer(signJwt(otherKey, claims())));
  assert.equal(r.status, 401);
  assert.equal(r.body.code, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
  assert.match(r.headers.get('www-authenticate'), /error="invalid_token"/);
});

test('missing header: 401 with a bare challenge; open routes stay open', async () => {
  const r = await get(`${base}/me`);
  assert.equal(r.status, 401);
  assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="orders"');
  assert.equal((await get(`${base}/open`)).status, 200);
});

test('malformed headers: 400 invalid_request', async () => {
  const token = signJwt(key, claims());
  for (const value of ['Basic Zm9vOmJhcg==', `Bearer ${token} extra`, 'Bearer', '']) {
    const r = await get(`${base}/me`, { authorization: value });
    assert.equal(r.status, 400, JSON.stringify(value));
    assert.match(r.headers.get('www-authenticate'), /error="invalid_request"/);
  }
});

test('provider outage on a cold cache: 503 with Retry-After', async () => {
  const down = await startJwks(key);
  down.setMode({ type: 'status', status: 500 });
  const { url } = await startApp({ verifier: newVerifier(down.url) });
  const r = await get(`${url}/me`, bearer(signJwt(key, claims())));
  assert.equal(r.status, 503);
  assert.equal(r.headers.get('retry-after'), '5', 'the default Retry-After');
  assert.equal(r.headers.get('www-authenticate'), null);
  assert.equal(r.body.code, 'ERR_JWKS_FETCH_FAILED');
});

test('requireScope: 403 insufficient_scope', async () => {
  const r = await get(`${base}/admin`, bearer(signJwt(key, claims())));
  assert.equal(r.status, 403);
  assert.match(r.headers.get('www-authenticate'), /error="insufficient_scope".*scope="admin"/);
});

test('Verifier options, a global onRequest hook, and the verifier closed with the app', async () => {
  const { url, app } = await startApp(
    { issuer: ISSUER, audience: AUDIENCE, jwksUri: jwks.url, credentialsRequired: false },
    { global: true },
  );
  assert.ok(app.jwksVerifier instanceof Verifier);
  const anon = await get(`${url}/open`);
  assert.equal(anon.status, 200, 'credentialsRequired: false lets anonymous requests in');
  const me = await get(`${url}/me`);
  assert.equal(me.status, 200);
  assert.equal(me.body.auth, null);
  const bad = await get(`${url}/open`, bearer(signJwt(otherKey, claims())));
  assert.equal(bad.status, 401, 'a bad token is refused even on a route that needs none');
  await app.close();
  await assert.rejects(app.jwksVerifier.verify(signJwt(key, claims())), { code: 'ERR_VERIFIER_CLOSED' });
});

test('the decorators are visible outside the plugin (not encapsulated), like fastify-plugin', async () => {
  assert.equal(jwksVerify[Symbol.for('skip-override')], true);
  assert.equal(jwksVerify[Symbol.for('fastify.display-name')], 'jwks-verify');
  const app = Fastify();
  cleanups.push(() => app.close());
  await app.register(jwksVerify, { verifier: newVerifier(jwks.url) });
  // a sibling plugin registered later sees them
  await app.register(
    fastifyPlugin(async (child) => {
      assert.equal(typeof child.authenticate, 'function');
    }),
  );
  await app.ready();
  assert.equal(typeof app.authenticate, 'function');
  assert.equal(typeof app.requireScope, 'function');
  assert.ok(app.hasRequestDecorator('auth'));
});

test('requireScope listed before authenticate: a 500 naming the setup mistake', async () => {
  const app = Fastify();
  cleanups.push(() => app.close());
  await app.register(jwksVerify, { verifier: newVerifier(jwks.url) });
  app.get('/wrong-order', { onRequest: [app.requireScope('orders:read'), app.authenticate] }, async () => ({ ok: true }));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const r = await get(`${url}/wrong-order`, bearer(signJwt(key, claims())));
  assert.equal(r.status, 500);
  assert.equal(r.body.code, 'ERR_AUTHENTICATE_MISSING');
  assert.match(r.body.message, /no authenticate before requireScope/);
});

test('a Verifier the plugin makes logs key-source changes through fastify.log: one warn for an outage', async () => {
  const records = [];
  const app = Fastify({ logger: { level: 'info', stream: { write: (line) => records.push(JSON.parse(line)) } } });
  cleanups.push(() => app.close());
  const down = await startJwks(key);
  down.setMode({ type: 'status', status: 503 });
  await app.register(jwksVerify, { issuer: ISSUER, audience: AUDIENCE, jwksUri: down.url, testClock });
  app.get('/me', { onRequest: app.authenticate }, async (request) => ({ auth: request.auth }));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  for (let i = 0; i < 3; i++) assert.equal((await get(`${url}/me`, bearer(signJwt(key, claims())))).status, 503);
  const ours = () => records.filter((r) => typeof r.msg === 'string' && r.msg.startsWith('jwks-verify: '));
  for (let i = 0; i < 100 && ours().length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(ours().length, 1, JSON.stringify(ours()));
  assert.equal(ours()[0].level, 40, 'warn');
  assert.match(ours()[0].msg, /cannot fetch the signing keys: JWKS endpoint .* answered HTTP 503/);
});

test('wrong options fail registration', async () => {
  const app = Fastify();
  cleanups.push(() => app.close());
  await assert.rejects(
    async () => {
      await app.register(jwksVerify, { issuer: ISSUER, jwksUri: jwks.url, audeince: 'typo' });
    },
    { code: 'ERR_INVALID_OPTIONS' },
  );
  const other = Fastify();
  cleanups.push(() => other.close());
  await assert.rejects(
    async () => {
      await other.register(jwksVerify, { verifier: newVerifier(jwks.url), credentialsRequired: 'no' });
    },
    { name: 'TypeError', message: /credentialsRequired must be a boolean/ },
  );
});

test('the example app (examples/fastify/server.mjs)', async () => {
  const { createApp } = await import('../examples/fastify/server.mjs');
  const app = await createApp({ verifier: newVerifier(jwks.url) });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  cleanups.push(() => app.close());
  assert.equal((await get(`${url}/me`)).status, 401);
  const me = await get(`${url}/me`, bearer(signJwt(key, claims())));
  assert.equal(me.status, 200);
  assert.equal(me.body.sub, 'alice');
  const post = await fetch(`${url}/orders`, { method: 'POST', headers: bearer(signJwt(key, claims({ scope: 'orders:write' }))) });
  assert.equal(post.status, 201);
});
