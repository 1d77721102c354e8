// TokenSource against a real OpenID Connect provider (oidc-provider) on 127.0.0.1: every client authentication
// method with resource indicators, JWT access tokens that our own Verifier accepts (round trip), discovery of the
// token endpoint, single flight, refresh ahead on the test clock, invalidate(), and the provider's real 401.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TokenSource, createTokenSource, Verifier } from '../index.js';
import {
  startOidcProvider,
  OIDC_CLIENT_ID,
  OIDC_CLIENT_SECRET,
  OIDC_POST_CLIENT_ID,
  OIDC_POST_CLIENT_SECRET,
  OIDC_ODD_CLIENT_ID,
  OIDC_ODD_CLIENT_SECRET,
  OIDC_JWT_CLIENT_ID,
  OIDC_SCOPE,
} from './support/oidc.mjs';
import { generateKey } from './support/keys.mjs';
import { rejectsWith, testClock, advanceClock } from './support/expect.mjs';
import { waitFor, many } from './support/cache-harness.mjs';

// The private_key_jwt client's keys, one per algorithm the issue names.
const clientKeys = {
  RS256: generateKey('RS256', { kid: 'client-rs256' }),
  PS256: generateKey('PS256', { kid: 'client-ps256' }),
  ES256: generateKey('ES256', { kid: 'client-es256' }),
  EdDSA: generateKey('EdDSA', { kid: 'client-eddsa' }),
};
/** The private JWK of a generateKey result, with its kid and alg. */
const privateJwk = (k) => ({ ...k.privateKey.export({ format: 'jwk' }), kid: k.kid, alg: k.alg });

let op;
let verifier;
const sources = [];

before(async () => {
  op = await startOidcProvider({ clientKeys: Object.values(clientKeys) });
  verifier = new Verifier({ issuer: op.issuer, audience: op.audience, typ: 'at+jwt' });
});

after(async () => {
  for (const s of sources) s.close();
  verifier?.close();
  await op?.close();
});

/** A source for the provider's token endpoint (closed after the suite). */
function source(options, factory = createTokenSource) {
  const s = factory({ tokenUrl: op.tokenUrl, resource: op.audience, scope: OIDC_SCOPE, ...options });
  sources.push(s);
  return s;
}

const tokenRequests = () => op.log.filter((e) => e.path === '/token').length;

const AUTH_CASES = [
  ['client_secret_basic', { clientId: OIDC_CLIENT_ID, clientSecret: OIDC_CLIENT_SECRET }],
  ['client_secret_basic, id and secret that need form encoding', { clientId: OIDC_ODD_CLIENT_ID, clientSecret: OIDC_ODD_CLIENT_SECRET }],
  ['client_secret_post', { clientId: OIDC_POST_CLIENT_ID, clientSecret: OIDC_POST_CLIENT_SECRET, authMethod: 'client_secret_post' }],
  ...Object.entries(clientKeys).map(([alg, k]) => [
    `private_key_jwt, ${alg} JWK`,
    { clientId: OIDC_JWT_CLIENT_ID, privateKey: privateJwk(k) },
  ]),
  [
    'private_key_jwt, RSA PKCS#8 PEM',
    { clientId: OIDC_JWT_CLIENT_ID, privateKey: clientKeys.RS256.privateKey.export({ type: 'pkcs8', format: 'pem' }) },
  ],
  [
    'private_key_jwt, RSA PKCS#1 PEM',
    { clientId: OIDC_JWT_CLIENT_ID, privateKey: clientKeys.RS256.privateKey.export({ type: 'pkcs1', format: 'pem' }) },
  ],
  [
    'private_key_jwt, EC SEC1 PEM',
    {
      clientId: OIDC_JWT_CLIENT_ID,
      privateKey: clientKeys.ES256.privateKey.export({ type: 'sec1', format: 'pem' }),
      authMethod: 'private_key_jwt',
    },
  ],
  [
    'private_key_jwt, Ed25519 PKCS#8 PEM',
    { clientId: OIDC_JWT_CLIENT_ID, privateKey: clientKeys.EdDSA.privateKey.export({ type: 'pkcs8', format: 'pem' }) },
  ],
];

test('every client authentication method gets a JWT access token that our Verifier accepts', async () => {
  for (const [label, options] of AUTH_CASES) {
    const before = tokenRequests();
    const s = source(options);
    const token = await s.getToken();
    assert.equal(tokenRequests() - before, 1, `${label}: one request`);
    assert.equal(token.tokenType, 'Bearer', label);
    assert.equal(token.scope, OIDC_SCOPE, label);
    assert.ok(Math.abs(token.expiresAt - (Date.now() + 300_000)) < 10_000, `${label}: expiresAt ${token.expiresAt}`);
    const { payload, header } = await verifier.verify(token.accessToken);
    assert.equal(header.typ, 'at+jwt', label);
    assert.equal(payload.client_id, options.clientId, label);
    assert.equal(payload.aud, op.audience, label);
    assert.equal(payload.scope, OIDC_SCOPE, label);
    assert.equal(await s.authorizationHeader(), `Bearer ${token.accessToken}`, `${label}: the cached token`);
    assert.equal(tokenRequests() - before, 1, `${label}: still one request`);
  }
});

test('issuer: the token endpoint comes from discovery, one fetch shared by the sources and the Verifier', async () => {
  const discoveries = () => op.log.filter((e) => e.path === '/.well-known/openid-configuration').length;
  const a = source({ tokenUrl: undefined, issuer: op.issuer, clientId: OIDC_CLIENT_ID, clientSecret: OIDC_CLIENT_SECRET });
  const b = source({
    tokenUrl: undefined,
    issuer: op.issuer,
    clientId: OIDC_POST_CLIENT_ID,
    clientSecret: OIDC_POST_CLIENT_SECRET,
    authMethod: 'client_secret_post',
  });
  for (const s of [a, b]) {
    const { payload } = await verifier.verify((await s.getToken()).accessToken);
    assert.equal(payload.iss, op.issuer);
  }
  assert.equal(discoveries(), 1, 'the Verifier of the same issuer discovered it first; nobody again');
});

test('resource indicators: the token is issued for the resource asked for (RFC 8707)', async () => {
  const resource = 'https://reports.jwks-verify.test';
  const s = source({ clientId: OIDC_CLIENT_ID, clientSecret: OIDC_CLIENT_SECRET, resource });
  const { accessToken } = await s.getToken();
  const forReports = new Verifier({ issuer: op.issuer, audience: resource });
  try {
    assert.equal((await forReports.verify(accessToken)).payload.aud, resource);
    await rejectsWith(verifier.verify(accessToken), 'ERR_JWT_CLAIM_VALIDATION_FAILED', { claim: 'aud' });
  } finally {
    forReports.close();
  }
});

test('1000 concurrent getToken() on a cold source make one token request', async () => {
  const s = source({ clientId: OIDC_CLIENT_ID, clientSecret: OIDC_CLIENT_SECRET }, (o) => new TokenSource(o));
  const before = tokenRequests();
  // In waves across event-loop turns, so some calls race the end of the request (not only its start).
  const tokens = [];
  for (let wave = 0; wave < 50; wave++) {
    tokens.push(...many(20, () => s.getToken()));
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(tokens).then((all) => tokens.splice(0, tokens.length, ...all));
  assert.equal(tokenRequests() - before, 1);
  assert.equal(new Set(tokens.map((t) => t.accessToken)).size, 1);
  assert.notEqual(tokens[0], tokens[1], 'every caller gets its own object');
});

test('refresh ahead with a short TTL: one background request, the current token serving meanwhile', async (t) => {
  const shortLived = await startOidcProvider({ accessTokenTtl: 60 });
  t.after(() => shortLived.close());
  const requests = () => shortLived.log.filter((e) => e.path === '/token').length;
  // refreshBefore defaults to 60 s, at most half of the 60 s lifetime: refreshed ahead 30 s after the request
  // (less the time the request took, counted on the test clock too: hence the margins below).
  const s = source({
    tokenUrl: shortLived.tokenUrl,
    resource: shortLived.audience,
    clientId: OIDC_CLIENT_ID,
    clientSecret: OIDC_CLIENT_SECRET,
    testClock,
  });
  const first = await s.getToken();
  assert.equal(requests(), 1);
  advanceClock(20_000);
  assert.equal((await s.getToken()).accessToken, first.accessToken, 'before the refresh point');
  await new Promise((r) => setTimeout(r, 100)); // room for a background request that must not happen
  assert.equal(requests(), 1, 'no request before the refresh point');
  advanceClock(11_000);
  const during = await Promise.all(many(10, () => s.getToken()));
  for (const d of during) assert.equal(d.accessToken, first.accessToken, 'the current token serves while the refresh runs');
  await waitFor(() => requests() === 2, 'the background refresh', 10_000);
  let next;
  await waitFor(async () => (next = await s.getToken()).accessToken !== first.accessToken, 'the refreshed token', 10_000);
  assert.ok(next.expiresAt > first.expiresAt, 'the new token lives longer');
  assert.equal(requests(), 2, 'ten callers past the refresh point: one request');
  const check = new Verifier({ issuer: shortLived.issuer, audience: shortLived.audience });
  t.after(() => check.close());
  assert.equal((await check.verify(next.accessToken)).payload.client_id, OIDC_CLIENT_ID);
});

test('invalidate(): the next call requests a new token', async () => {
  const s = source({ clientId: OIDC_POST_CLIENT_ID, clientSecret: OIDC_POST_CLIENT_SECRET, authMethod: 'client_secret_post' });
  const first = await s.getToken();
  const before = tokenRequests();
  s.invalidate();
  const header = await s.authorizationHeader();
  assert.equal(tokenRequests() - before, 1);
  assert.notEqual(header, `Bearer ${first.accessToken}`);
  assert.equal(header, `Bearer ${(await s.getToken()).accessToken}`);
  assert.equal(tokenRequests() - before, 1, 'the new token is cached');
});

test("a wrong credential: the provider's real 401 invalid_client as ERR_TOKEN_REQUEST_FAILED, then a backoff", async () => {
  const stranger = generateKey('ES256', { kid: 'not-registered' });
  const cases = [
    ['client_secret_basic', { clientId: OIDC_CLIENT_ID, clientSecret: 'wrong-secret-0123456789' }],
    ['client_secret_post', { clientId: OIDC_POST_CLIENT_ID, clientSecret: 'wrong-secret-0123456789', authMethod: 'client_secret_post' }],
    ['private_key_jwt', { clientId: OIDC_JWT_CLIENT_ID, privateKey: privateJwk(stranger) }],
  ];
  for (const [label, options] of cases) {
    const s = source(options);
    const before = tokenRequests();
    await rejectsWith(s.getToken(), 'ERR_TOKEN_REQUEST_FAILED', {
      status: 401,
      oauthError: 'invalid_client',
      errorDescription: /client authentication failed/,
      message: /answered 401: invalid_client/,
    });
    await rejectsWith(s.authorizationHeader(), 'ERR_TOKEN_REQUEST_FAILED', { oauthError: 'invalid_client', retryAfter: (r) => r >= 1 });
    assert.equal(tokenRequests() - before, 1, `${label}: the second call failed fast, without a request`);
  }
});

test('events: a token event per request, without the token', async () => {
  const events = [];
  const s = source({ clientId: OIDC_CLIENT_ID, clientSecret: OIDC_CLIENT_SECRET, onEvent: (e) => events.push(e) });
  const { accessToken, expiresAt } = await s.getToken();
  await waitFor(() => events.length === 1, 'the token event', 10_000);
  assert.deepEqual(
    { ...events[0], durationMs: typeof events[0].durationMs },
    { type: 'token', tokenUrl: op.tokenUrl, status: 200, durationMs: 'number', expiresAt, scope: OIDC_SCOPE },
  );
  assert.ok(!JSON.stringify(events).includes(accessToken));
  assert.ok(!JSON.stringify(events).includes(OIDC_CLIENT_SECRET));
});

test('close(): later calls reject with ERR_VERIFIER_CLOSED; idempotent', async () => {
  const s = source({ clientId: OIDC_CLIENT_ID, clientSecret: OIDC_CLIENT_SECRET });
  await s.getToken();
  s.close();
  s.close();
  await rejectsWith(s.getToken(), 'ERR_VERIFIER_CLOSED');
  await rejectsWith(s.authorizationHeader(), 'ERR_VERIFIER_CLOSED');
  s.invalidate();
});

test('logger is a Verifier option: a TokenSource refuses it by name (it reports through onEvent)', () => {
  const options = { tokenUrl: 'https://login.example.com/oauth/token', clientId: 'c', clientSecret: 's' };
  new TokenSource(options).close();
  for (const logger of [console, false]) {
    assert.throws(() => new TokenSource({ ...options, logger }), {
      code: 'ERR_INVALID_OPTIONS',
      message: 'unknown option "logger" (a TokenSource reports through onEvent)',
    });
  }
});
