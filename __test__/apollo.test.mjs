// jwks-verify/apollo with the real Apollo Server 5 (startStandaloneServer) over real HTTP on 127.0.0.1.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { authContext, requireAuth, requireScope } from 'jwks-verify/apollo';
import { signJwt, now } from './support/keys.mjs';
import { httpHarness, bearer } from './support/http-harness.mjs';

const ISSUER = 'https://issuer.test/';
const AUDIENCE = 'graphql';

const { cleanups, startJwks, startKeys, claims, newVerifier } = httpHarness({
  issuer: ISSUER,
  audience: AUDIENCE,
  claims: { scope: 'orders:read' },
});

let key;
let otherKey;
let jwks;
let base;

const typeDefs = `#graphql
  type Query { hello: String!, me: String!, orders: [String!]!, admin: String! }
`;
const resolvers = {
  Query: {
    hello: () => 'world',
    me: (_p, _a, ctx) => requireAuth(ctx).payload.sub,
    orders: (_p, _a, ctx) => [`order-of-${requireScope(ctx, 'orders:read').payload.sub}`],
    admin: (_p, _a, ctx) => requireScope(ctx, 'admin').payload.sub,
  },
};

async function startApi(options) {
  const server = new ApolloServer({ typeDefs, resolvers });
  const context = authContext(options);
  const { url } = await startStandaloneServer(server, {
    context,
    listen: { port: 0, host: '127.0.0.1' },
  });
  cleanups.push(() => server.stop());
  return url;
}

async function gql(url, query, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

before(async () => {
  ({ key, otherKey, jwks } = await startKeys('EdDSA'));
  base = await startApi({ verifier: newVerifier(jwks.url), realm: 'graphql' });
});

test('a valid token: resolvers see ctx.auth', async () => {
  const r = await gql(base, '{ hello me orders }', bearer(signJwt(key, claims())));
  assert.equal(r.status, 200);
  assert.equal(r.body.errors, undefined);
  assert.deepEqual(r.body.data, { hello: 'world', me: 'alice', orders: ['order-of-alice'] });
});

test('an expired token: UNAUTHENTICATED with HTTP 401 and a Bearer invalid_token challenge', async () => {
  const t = now();
  const r = await gql(base, '{ hello }', bearer(signJwt(key, claims({ iat: t - 900, exp: t - 200 }))));
  assert.equal(r.status, 401);
  assert.equal(r.body.errors[0].extensions.code, 'UNAUTHENTICATED');
  assert.equal(r.body.errors[0].extensions.reason, 'ERR_JWT_EXPIRED');
  assert.equal(r.body.errors[0].extensions.http, undefined, 'Apollo strips the http extension');
  assert.match(r.headers.get('www-authenticate'), /^Bearer realm="graphql", error="invalid_token", error_description=".+"$/);
  assert.equal(r.body.data, undefined);
});

test('a bad signature: UNAUTHENTICATED, 401', async () => {
  const r = await gql(base, '{ hello }', bearer(signJwt(otherKey, claims())));
  assert.equal(r.status, 401);
  assert.equal(r.body.errors[0].extensions.code, 'UNAUTHENTICATED');
  assert.equal(r.body.errors[0].extensions.reason, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
});

test('no token: public fields work, protected ones fail UNAUTHENTICATED', async () => {
  const pub = await gql(base, '{ hello }');
  assert.equal(pub.status, 200);
  assert.deepEqual(pub.body.data, { hello: 'world' });
  const priv = await gql(base, '{ me }');
  assert.equal(priv.body.errors[0].extensions.code, 'UNAUTHENTICATED');
  assert.equal(priv.body.errors[0].path[0], 'me');
});

test('a malformed Authorization header: BAD_REQUEST, 400', async () => {
  const r = await gql(base, '{ hello }', { authorization: 'Basic Zm9vOmJhcg==' });
  assert.equal(r.status, 400);
  assert.equal(r.body.errors[0].extensions.code, 'BAD_REQUEST');
  assert.match(r.headers.get('www-authenticate'), /error="invalid_request"/);
});

test('a resolver requiring a scope: FORBIDDEN without it', async () => {
  const r = await gql(base, '{ hello admin }', bearer(signJwt(key, claims())));
  assert.equal(r.body.data, null);
  assert.equal(r.body.errors[0].extensions.code, 'FORBIDDEN');
  assert.equal(r.body.errors[0].extensions.error, 'insufficient_scope');
  assert.equal(r.status, 403);
});

test('provider outage on a cold cache: SERVICE_UNAVAILABLE, 503 with Retry-After', async () => {
  const down = await startJwks(key);
  down.setMode({ type: 'status', status: 500 });
  const url = await startApi({ verifier: newVerifier(down.url), retryAfter: 11 });
  const r = await gql(url, '{ hello }', bearer(signJwt(key, claims())));
  assert.equal(r.status, 503);
  assert.equal(r.headers.get('retry-after'), '11');
  assert.equal(r.body.errors[0].extensions.code, 'SERVICE_UNAVAILABLE');
  assert.equal(r.body.errors[0].extensions.reason, 'ERR_JWKS_FETCH_FAILED');
});

test('credentialsRequired: true refuses anonymous requests; the context option adds members', async () => {
  const url = await startApi({
    verifier: newVerifier(jwks.url),
    credentialsRequired: true,
    context: async ({ req }, auth) => ({ requestId: req.headers['x-request-id'], sub: auth?.payload.sub }),
  });
  const anon = await gql(url, '{ hello }');
  assert.equal(anon.status, 401);
  assert.equal(anon.headers.get('www-authenticate'), 'Bearer');
  assert.equal((await gql(url, '{ me }', bearer(signJwt(key, claims())))).body.data.me, 'alice');
});

test('the context function verifies once per request, however often it is called', async () => {
  const verifier = newVerifier(jwks.url);
  let verifies = 0;
  const counting = { verify: (t) => (verifies++, verifier.verify(t)) };
  const context = authContext({ verifier: counting });
  const req = { headers: { authorization: `Bearer ${signJwt(key, claims())}` } };
  const [a, b] = await Promise.all([context({ req }), context({ req })]);
  assert.equal(verifies, 1);
  assert.equal(a.auth.payload.sub, 'alice');
  assert.deepEqual(a.auth, b.auth);
  // auth set earlier by jwks-verify/express is reused without verifying again
  const pre = await context({ req: { headers: {}, auth: a.auth } });
  assert.equal(pre.auth, a.auth);
  assert.equal(verifies, 1);
});

test('the example (examples/apollo/server.mjs)', async () => {
  const { startApi: startExample } = await import('../examples/apollo/server.mjs');
  const { url, server } = await startExample({ verifier: newVerifier(jwks.url) });
  cleanups.push(() => server.stop());
  const r = await gql(url, '{ me orders { id total } }', bearer(signJwt(key, claims())));
  assert.equal(r.status, 200);
  assert.equal(r.body.data.me, 'alice');
  assert.equal(r.body.data.orders[0].total, 42.5);
  const noScope = await gql(url, '{ orders { id } }', bearer(signJwt(key, claims({ scope: 'profile' }))));
  assert.equal(noScope.body.errors[0].extensions.code, 'FORBIDDEN');
});

test('requireAuth/requireScope on a context that authContext did not make: a setup error, not a 401', () => {
  for (const ctx of [{}, { user: 'x' }, undefined]) {
    assert.throws(() => requireScope(ctx, 'orders:read'), {
      code: 'ERR_AUTHENTICATE_MISSING',
      message: /use authContext\(\.\.\.\) as the server's context function/,
    });
  }
  assert.throws(
    () => requireAuth({ auth: null }),
    (err) => err.extensions.code === 'UNAUTHENTICATED',
  );
});
