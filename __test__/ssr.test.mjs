// The React SSR example (examples/ssr/server.mjs): renderToString for the verified user, over real HTTP.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createSsrServer } from '../examples/ssr/server.mjs';
import { signJwt, now } from './support/keys.mjs';
import { httpHarness } from './support/http-harness.mjs';

const ISSUER = 'https://issuer.test/';
const { startJwks, startKeys, claims, newVerifier, listen } = httpHarness({
  issuer: ISSUER,
  audience: 'web',
  claims: { name: 'Alice', scope: 'profile orders:read' },
});

let key;
let otherKey;
let jwks;
let base;

async function startSsr(jwksUri) {
  const server = createSsrServer({ verifier: newVerifier(jwksUri) });
  return `${await listen(server)}/`;
}

async function get(url, headers = {}) {
  const res = await fetch(url, { headers });
  return { status: res.status, headers: res.headers, html: await res.text() };
}

before(async () => {
  ({ key, otherKey, jwks } = await startKeys('PS256'));
  base = await startSsr(jwks.url);
});

test('a valid token (header or cookie): the profile is rendered on the server', async () => {
  const token = signJwt(key, claims());
  for (const headers of [{ authorization: `Bearer ${token}` }, { cookie: `theme=dark; access_token=${token}` }]) {
    const r = await get(base, headers);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /text\/html/);
    assert.match(r.html, /<h1>Hello, Alice<\/h1>/);
    assert.match(r.html, /<dd id="sub">alice<\/dd>/);
    assert.match(r.html, /<li>orders:read<\/li>/);
  }
});

test('claims are escaped by React', async () => {
  const r = await get(base, { authorization: `Bearer ${signJwt(key, claims({ name: '<script>alert(1)</script>' }))}` });
  assert.equal(r.status, 200);
  assert.ok(!r.html.includes('<script>alert(1)'), 'no raw script tag');
  assert.match(r.html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
});

test('expired, badly signed, missing and malformed tokens: the sign-in page, not the profile', async () => {
  const t = now();
  const cases = [
    [{ authorization: `Bearer ${signJwt(key, claims({ iat: t - 600, exp: t - 60 }))}` }, 401],
    [{ authorization: `Bearer ${signJwt(otherKey, claims())}` }, 401],
    [{}, 401],
    [{ authorization: 'Basic Zm9vOmJhcg==' }, 400],
  ];
  for (const [headers, status] of cases) {
    const r = await get(base, headers);
    assert.equal(r.status, status, JSON.stringify(headers).slice(0, 60));
    assert.match(r.html, /Please sign in/);
    assert.doesNotMatch(r.html, /Hello, Alice/);
    assert.match(r.headers.get('www-authenticate'), /^Bearer/);
  }
});

test('provider outage on a cold cache: 503 page with Retry-After', async () => {
  const down = await startJwks(key);
  down.setMode({ type: 'status', status: 500 });
  const url = await startSsr(down.url);
  const r = await get(url, { authorization: `Bearer ${signJwt(key, claims())}` });
  assert.equal(r.status, 503);
  assert.ok(Number(r.headers.get('retry-after')) >= 1);
  assert.match(r.html, /temporarily unavailable/);
});
