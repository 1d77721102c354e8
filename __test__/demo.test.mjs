// The demo and the provider recipes are smoke tests: run them as child processes and check the exit
// code and the key lines of their output. Also checks the embedded issuer (examples/issuer.mjs),
// which other suites use, against node:crypto directly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startIssuer } from '../examples/issuer.mjs';
import { genesysCloud, genesysCloudOptions, GENESYS_REGIONS } from '../examples/genesys-cloud.mjs';
import { scayleOptions } from '../examples/scayle.mjs';
import { runNode } from './support/run-node.mjs';

/** Run `node <file> ...args` in the package root; resolve { code, signal, stdout, stderr, ms }. Killed after 60 s. */
const runExample = (file, args = []) => runNode([file, ...args], { killAfterMs: 60_000 });

/** The output line whose label starts with `label` inside the section that starts with `heading`. */
function lineIn(output, heading, label) {
  const start = output.indexOf(`\n${heading}`);
  assert.ok(start >= 0, `section "${heading}" missing in:\n${output}`);
  const next = output.indexOf('\n\n', start + 2);
  const section = output.slice(start, next < 0 ? undefined : next);
  const line = section.split('\n').find((l) => l.trimStart().startsWith(label));
  assert.ok(line, `line "${label}" missing in section "${heading}":\n${section}`);
  return line;
}

const b64json = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

/** Verify a compact JWS from the embedded issuer with node:crypto and a published JWK. */
function cryptoVerify(token, jwk) {
  const [h, p, s] = token.split('.');
  const header = b64json(h);
  const key =
    jwk.n || jwk.x
      ? crypto.createPublicKey({ key: jwk, format: 'jwk' })
      : new crypto.X509Certificate(Buffer.from(jwk.x5c[0], 'base64')).publicKey;
  const data = Buffer.from(`${h}.${p}`);
  const sig = Buffer.from(s, 'base64url');
  switch (header.alg) {
    case 'RS256':
      return crypto.verify('sha256', data, key, sig);
    case 'PS256':
      return crypto.verify(
        'sha256',
        data,
        {
          key,
          padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
          saltLength: crypto.constants.RSA_PSS_SALTLEN_DIGEST,
        },
        sig,
      );
    case 'ES256':
      return crypto.verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig);
    case 'EdDSA':
      return crypto.verify(null, data, key, sig);
    default:
      throw new Error(`no verifier for ${header.alg} in this test`);
  }
}

test('npm run demo: examples/demo.mjs exits 0 and shows every scenario', async () => {
  const { code, signal, stdout, stderr } = await runExample('examples/demo.mjs');
  assert.equal(signal, null, `demo was killed (${signal})\n${stdout}\n${stderr}`);
  assert.equal(code, 0, `demo exited ${code}\n${stdout}\n${stderr}`);
  assert.match(stdout, /^All \d+ checks passed\.$/m);
  assert.doesNotMatch(stdout, /UNEXPECTED|checks FAILED|demo crashed/);

  assert.match(lineIn(stdout, '1. A valid token', 'verify(token)'), /\bok\b.*sub alice/);
  assert.match(lineIn(stdout, '1. A valid token', 'payload'), /"aud":"demo-api"/);
  assert.match(lineIn(stdout, '2. An expired token', 'verify(token)'), /rejected\s+ERR_JWT_EXPIRED \(claim exp\)/);
  assert.match(lineIn(stdout, '3. A tampered token', 'verify(token)'), /rejected\s+ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
  assert.match(lineIn(stdout, '4. A token for another API', 'verify(token)'), /rejected\s+ERR_JWT_CLAIM_VALIDATION_FAILED \(claim aud\)/);
  assert.match(lineIn(stdout, '5. Key rotation', 'token signed by the new key'), /\bok\b/);
  assert.match(lineIn(stdout, '5. Key rotation', 'new token signed by the old key'), /rejected\s+ERR_JWKS_NO_MATCHING_KEY/);
  assert.match(lineIn(stdout, '5. Key rotation', 'step 1 token'), /rejected\s+ERR_JWKS_NO_MATCHING_KEY/);
  assert.match(lineIn(stdout, '6. The provider goes down', 'verify(token) during the outage'), /\bok\b/);
  assert.match(lineIn(stdout, '6. The provider goes down', 'verify(token) after the failed refresh'), /\bok\b/);
  assert.match(lineIn(stdout, '7. health() and stats()', 'state'), /fresh/);
  assert.match(lineIn(stdout, '7. health() and stats()', 'verifications'), /\d+/);
  assert.match(lineIn(stdout, '8. close()', 'verify(token) after close()'), /rejected\s+ERR_VERIFIER_CLOSED/);
});

test('examples/opentelemetry.mjs: spans and counters from the diagnostics channels, metrics() text; exits 0', async () => {
  const { code, stdout, stderr } = await runExample('examples/opentelemetry.mjs');
  assert.equal(code, 0, `opentelemetry.mjs exited ${code}\n${stdout}\n${stderr}`);
  assert.match(stdout, /spans: the validation calls +2 span\(s\), active: true, false/);
  assert.match(stdout, /counter: refused by code +ERR_JWT_EXPIRED, ERR_TOKEN_INACTIVE/);
  assert.match(stdout, /metrics: verifications +jwks_verify_verifications_total\{service="orders-api"\} 3/);
});

test('examples/scayle.mjs runs against the embedded issuer and its validation endpoint and exits 0', async () => {
  const { code, stdout, stderr } = await runExample('examples/scayle.mjs', ['--local']);
  assert.equal(code, 0, `scayle.mjs exited ${code}\n${stdout}\n${stderr}`);
  assert.doesNotMatch(stdout, /UNEXPECTED/);
  assert.match(stdout, /token header\s+\{"alg":"RS256","typ":"JWT"\} \(no kid\)/);
  assert.match(stdout, /verify\(token\)\s+ok\s+sub customer-42, aud 5, header\.kid none/);
  assert.match(stdout, /3 more verify\(token\)\s+endpoint asked 1 time/);
  assert.match(stdout, /keys kept for\s+600 s/);
  assert.match(stdout, /verify\(revoked token\)\s+rejected ERR_TOKEN_INACTIVE/);
  assert.match(stdout, /revoke\(token\), verify\(token\)\s+ok/);
  assert.match(stdout, /5 min later: verify\(token\)\s+rejected ERR_TOKEN_INACTIVE/);
  assert.match(stdout, /local options\s+.*"jwksUri":"http:\/\/127\.0\.0\.1:\d+\/jwks\.json"/);
  assert.match(stdout, /local options\s+.*"endpoint":"http:\/\/127\.0\.0\.1:\d+\/v1\/oauth\/token\/validate"/);
});

test('examples/genesys-cloud.mjs runs against the embedded issuer (opaque tokens, tokens/me, x5c keys) and exits 0', async () => {
  const { code, stdout, stderr } = await runExample('examples/genesys-cloud.mjs');
  assert.equal(code, 0, `genesys-cloud.mjs exited ${code}\n${stdout}\n${stderr}`);
  assert.doesNotMatch(stdout, /UNEXPECTED/);
  assert.match(stdout, /published key members\s+.*x5c/);
  assert.doesNotMatch(stdout, /published key members\s+.*\bn\b/);
  assert.match(stdout, /access token\s+opaque/);
  assert.match(stdout, /verify\(token\)\s+ok\s+client demo, scope conversations users:readonly, header null/);
  assert.match(stdout, /tokens\/me asked\s+1 time\(s\), GET \/api\/v2\/tokens\/me\?preserveIdleTTL=true/);
  assert.match(stdout, /verify\(revoked token\)\s+rejected ERR_TOKEN_INACTIVE/);
  assert.match(stdout, /verify\(JWS signed by x5c key\)\s+ok/);
  assert.match(stdout, /iss without trailing slash\s+rejected ERR_JWT_CLAIM_VALIDATION_FAILED \(claim iss\)/);
});

test('examples/introspection.mjs runs against oidc-provider (opaque tokens, RFC 7662, RFC 7009) and exits 0', async () => {
  const { code, stdout, stderr } = await runExample('examples/introspection.mjs');
  assert.equal(code, 0, `introspection.mjs exited ${code}\n${stdout}\n${stderr}`);
  assert.doesNotMatch(stdout, /UNEXPECTED/);
  assert.match(stdout, /verify\(token\)\s+ok\s+active true, client_id jwks-verify-test-client/);
  assert.match(stdout, /endpoint from discovery\s+1 discovery request, 1 introspection/);
  assert.match(stdout, /verify\(token\) at once\s+ok/);
  assert.match(stdout, /5 min later: verify\(token\)\s+rejected ERR_TOKEN_INACTIVE/);
  assert.match(stdout, /introspections\s+2 in all/);
  assert.doesNotMatch(stdout + stderr, /jwks-verify-test-client-secret/, 'the client secret is never printed');
});

test('provider recipes export the real-provider options', () => {
  assert.deepEqual(genesysCloud, {
    issuer: 'https://api.mypurecloud.com/',
    jwksUri: 'https://login.mypurecloud.com/oauth2/jwks',
    revalidate: { endpoint: 'https://api.mypurecloud.com/api/v2/tokens/me?preserveIdleTTL=true', opaque: true },
  });
  assert.deepEqual(genesysCloudOptions('mypurecloud.de'), {
    issuer: 'https://api.mypurecloud.de/',
    jwksUri: 'https://login.mypurecloud.de/oauth2/jwks',
    revalidate: { endpoint: 'https://api.mypurecloud.de/api/v2/tokens/me?preserveIdleTTL=true', opaque: true },
  });
  assert.equal(GENESYS_REGIONS.length, 15);
  for (const region of [
    'usw2.pure.cloud',
    'mypurecloud.ie',
    'mypurecloud.de',
    'mypurecloud.jp',
    'mypurecloud.com.au',
    'use2.us-gov-pure.cloud',
    'mec1.pure.cloud',
  ]) {
    assert.ok(GENESYS_REGIONS.includes(region), region);
  }
  assert.deepEqual(scayleOptions('acme', { audience: '5' }), {
    jwksUri: 'https://acme.auth.scayle.cloud/.well-known/jwks.json',
    audience: '5',
    cache: { maxAge: '10m' },
    revalidate: { endpoint: 'https://acme.auth.scayle.cloud/v1/oauth/token/validate', interval: '5m' },
  });
  assert.equal(scayleOptions('acme').audience, undefined);
  assert.throws(() => scayleOptions('evil.example/x', 'i'), TypeError);
});

test('embedded issuer: discovery, JWKS headers, signatures, rotation', async () => {
  const idp = await startIssuer();
  try {
    assert.match(idp.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
    const disc = await (await fetch(idp.discoveryUrl)).json();
    assert.equal(disc.issuer, idp.issuer);
    assert.equal(disc.jwks_uri, idp.jwksUri);
    assert.equal(idp.discoveryRequests, 1);

    const res = await fetch(idp.jwksUri);
    assert.equal(res.headers.get('cache-control'), 'max-age=300');
    const jwks = await res.json();
    assert.equal(idp.requests, 1);
    assert.deepEqual(jwks, idp.keys);
    assert.equal(jwks.keys.length, 1);
    const first = jwks.keys[0];
    assert.equal(first.kid, idp.currentKid);
    assert.equal(first.alg, 'RS256');
    assert.equal(first.use, 'sig');

    const token = idp.sign({ sub: 'alice' });
    const [h, p] = token.split('.');
    assert.deepEqual(b64json(h), { alg: 'RS256', typ: 'JWT', kid: first.kid });
    const payload = b64json(p);
    assert.equal(payload.iss, idp.issuer);
    assert.equal(payload.aud, 'demo-api');
    assert.equal(payload.sub, 'alice');
    assert.equal(payload.exp - payload.iat, 300);
    assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 5);
    assert.equal(typeof payload.scope, 'string');
    assert.ok(cryptoVerify(token, first));
    const expired = b64json(idp.sign({}, { expiresIn: -60 }).split('.')[1]);
    assert.equal(expired.exp - expired.iat, -60);

    const added = idp.addKey();
    assert.deepEqual(
      idp.keys.keys.map((k) => k.kid),
      [first.kid, added],
    );
    assert.equal(idp.currentKid, first.kid, 'addKey keeps the current key');
    assert.ok(cryptoVerify(idp.sign({}, { kid: added }), idp.keys.keys[1]));

    const rotated = idp.rotate();
    assert.equal(idp.currentKid, rotated);
    assert.deepEqual(
      idp.keys.keys.map((k) => k.kid),
      [rotated],
      'rotate removes the previous keys',
    );
    const oldToken = idp.sign({}, { kid: first.kid });
    assert.equal(b64json(oldToken.split('.')[0]).kid, first.kid, 'a removed key can still sign');
    assert.ok(cryptoVerify(idp.sign(), idp.keys.keys[0]));
    assert.ok(!cryptoVerify(oldToken, idp.keys.keys[0]));
    const custom = b64json(idp.sign({}, { header: { typ: 'at+jwt', kid: undefined } }).split('.')[0]);
    assert.deepEqual(custom, { alg: 'RS256', typ: 'at+jwt' });

    idp.setOutage({ type: 'status', status: 429, retryAfter: 7 });
    const limited = await fetch(idp.jwksUri);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '7');
    await limited.arrayBuffer();
    idp.setOutage(false);
    assert.equal((await fetch(idp.jwksUri)).status, 200);
  } finally {
    await idp.close();
  }
});

test('embedded issuer: client-credentials token endpoint', async () => {
  const idp = await startIssuer({ alg: 'ES256' });
  try {
    const basic = `Basic ${Buffer.from('demo:demo-secret').toString('base64')}`;
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const ok = await fetch(idp.tokenEndpoint, {
      method: 'POST',
      headers: { ...form, authorization: basic },
      body: 'grant_type=client_credentials&scope=orders%3Aread',
    });
    assert.equal(ok.status, 200);
    const body = await ok.json();
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, 300);
    const claims = b64json(body.access_token.split('.')[1]);
    assert.equal(claims.iss, idp.issuer);
    assert.equal(claims.aud, 'demo-api');
    assert.equal(claims.scope, 'orders:read');
    assert.equal(claims.sub, 'demo');
    assert.ok(cryptoVerify(body.access_token, idp.keys.keys[0]));

    const viaForm = await fetch(idp.tokenEndpoint, {
      method: 'POST',
      headers: form,
      body: 'grant_type=client_credentials&client_id=demo&client_secret=demo-secret',
    });
    assert.equal(viaForm.status, 200);
    assert.ok((await viaForm.json()).access_token);

    const wrongSecret = await fetch(idp.tokenEndpoint, {
      method: 'POST',
      headers: form,
      body: 'grant_type=client_credentials&client_id=demo&client_secret=nope',
    });
    assert.equal(wrongSecret.status, 401);
    assert.equal((await wrongSecret.json()).error, 'invalid_client');

    const wrongGrant = await fetch(idp.tokenEndpoint, {
      method: 'POST',
      headers: { ...form, authorization: basic },
      body: 'grant_type=password',
    });
    assert.equal(wrongGrant.status, 400);
    assert.equal((await wrongGrant.json()).error, 'unsupported_grant_type');
    assert.equal(idp.tokenRequests, 4);
  } finally {
    await idp.close();
  }
});

test('embedded issuer: x5c-only keys, other algorithms, trailing-slash issuer', async () => {
  for (const alg of ['PS256', 'ES256', 'EdDSA']) {
    const idp = await startIssuer({ alg, x5cOnly: true, trailingSlash: true });
    try {
      const [jwk] = idp.keys.keys;
      assert.ok(Array.isArray(jwk.x5c) && jwk.x5c.length === 1, alg);
      for (const member of ['n', 'e', 'x', 'y']) assert.equal(jwk[member], undefined, `${alg} ${member}`);
      const cert = new crypto.X509Certificate(Buffer.from(jwk.x5c[0], 'base64'));
      assert.ok(cert.verify(cert.publicKey), `${alg}: certificate is self-signed`);
      assert.ok(cryptoVerify(idp.sign(), jwk), `${alg}: token verifies with the certificate's key`);
      assert.ok(idp.issuer.endsWith('/'));
      assert.equal(b64json(idp.sign().split('.')[1]).iss, idp.issuer);
      const disc = await (await fetch(`${idp.origin}/.well-known/openid-configuration`)).json();
      assert.equal(disc.issuer, idp.issuer);
    } finally {
      await idp.close();
    }
  }
});

test('embedded issuer: validation endpoints (SCAYLE and Genesys shapes) and opaque tokens', async () => {
  const idp = await startIssuer({ opaqueTokens: true });
  try {
    const bearer = (token) => ({ headers: { authorization: `Bearer ${token}` } });
    const signed = idp.sign();
    assert.equal((await fetch(idp.validateUrl, bearer(signed))).status, 200);
    assert.equal((await fetch(idp.validateUrl, { ...bearer(signed), method: 'POST' })).status, 200);
    assert.equal((await fetch(idp.validateUrl, bearer('never-issued'))).status, 401);
    assert.equal((await fetch(idp.validateUrl)).status, 401);
    assert.equal((await fetch(idp.validateUrl, bearer(idp.sign({}, { expiresIn: -1 })))).status, 401, 'expired');

    const res = await fetch(idp.tokenEndpoint, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from('demo:demo-secret').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials&scope=a%20b',
    });
    const { access_token: opaque, expires_in: expiresIn } = await res.json();
    assert.ok(!opaque.includes('.'));
    assert.equal(expiresIn, 86399);
    const me = await fetch(`${idp.tokensMeUrl}?preserveIdleTTL=true`, bearer(opaque));
    assert.equal(me.status, 200);
    const body = await me.json();
    assert.deepEqual([body.OAuthClient.id, body.authorizedScope], ['demo', ['a', 'b']]);
    assert.equal((await fetch(idp.tokensMeUrl, { ...bearer(opaque), method: 'HEAD' })).status, 200);
    idp.revoke(opaque);
    idp.revoke(signed);
    assert.equal((await fetch(idp.tokensMeUrl, bearer(opaque))).status, 401);
    assert.equal((await fetch(idp.validateUrl, bearer(signed))).status, 401);
    assert.equal(idp.validationLog.length, 9);
    assert.deepEqual(idp.validationLog[5], { path: '/api/v2/tokens/me', method: 'GET', query: '?preserveIdleTTL=true' });
    assert.ok(!JSON.stringify(idp.validationLog).includes(opaque), 'the log keeps no token');
  } finally {
    await idp.close();
  }
});
