// Findings of the security audit, each through the public API: option values that aborted Node
// or panicked, keys that verified forgeries, input sizes that cost quadratic time.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { generateKey, signJwt, signRaw, toJwks, b64url } from './support/keys.mjs';
import { startJwksServer } from './support/jwks-server.mjs';
import { verifyFails, rejectsWith, throwsWith, clockNow } from './support/expect.mjs';
import { openVerifier as verifier } from './support/verifiers.mjs';

const { Verifier } = createRequire(import.meta.url)('../index.js');

const ISSUER = 'https://issuer.hardening.test';

function claims(extra = {}) {
  const iat = clockNow();
  return { iss: ISSUER, sub: 'user-1', iat, exp: iat + 300, ...extra };
}

describe('option values are bounded by what they hold, not by what they claim', () => {
  /** An empty array whose `length` says 2^32 - 1 (pre-allocating for it asked for 137 GB). */
  function hugeArray() {
    const arr = [];
    arr.length = 2 ** 32 - 1;
    return arr;
  }

  test('algorithms: an array of length 2^32 - 1 is ERR_INVALID_OPTIONS, not an abort', () => {
    throwsWith(
      () => new Verifier({ issuer: ISSUER, jwksUri: 'https://keys.hardening.test/jwks', algorithms: hugeArray() }),
      'ERR_INVALID_OPTIONS',
      { message: /"algorithms" has 4294967295 elements/ },
    );
  });

  test('the same for audience, requiredClaims, issuers and keys.keys', () => {
    const base = { issuer: ISSUER, jwksUri: 'https://keys.hardening.test/jwks' };
    const cases = [
      [{ ...base, audience: hugeArray() }, /"audience"/],
      [{ ...base, requiredClaims: hugeArray() }, /"requiredClaims"/],
      [{ issuers: hugeArray() }, /"issuers"/],
      [{ issuers: [{ ...base, audience: hugeArray() }] }, /"issuers\[0\]\.audience"/],
      [{ issuer: ISSUER, keys: { keys: hugeArray() } }, /"keys\.keys"/],
    ];
    for (const [options, message] of cases) {
      throwsWith(() => new Verifier(options), 'ERR_INVALID_OPTIONS', { message });
    }
  });

  test('an array of 10000 elements is still read', () => {
    const audience = Array.from({ length: 10_000 }, (_, i) => `api-${i}`);
    verifier({ issuer: ISSUER, jwksUri: 'https://keys.hardening.test/jwks', audience });
  });

  test('durations beyond 10 years are ERR_INVALID_OPTIONS, not a panic', () => {
    const base = { issuer: ISSUER, jwksUri: 'https://keys.hardening.test/jwks' };
    const cases = [
      [{ ...base, http: { timeout: 1.8e19 } }, /"http\.timeout"/],
      [{ ...base, http: { timeout: '3651d' } }, /"http\.timeout"/],
      [{ ...base, http: { timeout: Number.MAX_VALUE } }, /"http\.timeout"/],
      [{ ...base, http: { timeout: Infinity } }, /"http\.timeout"/],
      [{ ...base, cache: { maxAge: 1e300 } }, /"cache\.maxAge"/],
      [{ ...base, clockTolerance: 1e20 }, /"clockTolerance"/],
      [{ ...base, maxTokenAge: `${'9'.repeat(400)}s` }, /"maxTokenAge"/],
    ];
    for (const [options, message] of cases) {
      throwsWith(() => new Verifier(options), 'ERR_INVALID_OPTIONS', { message });
    }
    verifier({ ...base, http: { timeout: '3650d' }, cache: { maxAge: '315360000s' } });
  });
});

describe('Ed25519 small-order public keys are never used', () => {
  /** The identity point: with it, R = identity and S = 0 "verified" any payload. */
  const identity = Buffer.alloc(32);
  identity[0] = 1;
  const identityJwk = (kid) => ({ kty: 'OKP', crv: 'Ed25519', x: b64url(identity), kid });
  /** A token with the forged signature (R = identity, S = 0). */
  function forged(kid) {
    const header = kid === undefined ? { alg: 'EdDSA' } : { alg: 'EdDSA', kid };
    const signature = Buffer.concat([identity, Buffer.alloc(32)]);
    return `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims()))}.${b64url(signature)}`;
  }

  test('a JWKS holding the identity point: the forged token does not verify', async (t) => {
    const good = generateKey('EdDSA');
    const server = await startJwksServer({ jwks: { keys: [identityJwk('id'), good.jwk] } });
    t.after(() => server.close());
    const v = verifier({ issuer: ISSUER, jwksUri: server.url, algorithms: ['EdDSA'] });
    await v.ready();
    assert.deepEqual(v.health()[0].kids, [good.kid], 'the identity key is skipped');
    await verifyFails(v, forged('id'), 'ERR_JWKS_NO_MATCHING_KEY', { kid: 'id' });
    await verifyFails(v, forged(undefined), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    const ok = await v.verify(signJwt(good, claims()));
    assert.equal(ok.payload.sub, 'user-1', 'the good key still works');
  });

  test('a local key set holding only the identity point is refused at construction', () => {
    throwsWith(() => new Verifier({ issuer: ISSUER, keys: { keys: [identityJwk('id')] }, algorithms: ['EdDSA'] }), 'ERR_INVALID_OPTIONS', {
      message: /small-order/,
    });
  });
});

describe('local oct keys shorter than the hash are skipped', () => {
  const oct = (bytes, extra = {}) => ({ kty: 'oct', k: b64url(Buffer.alloc(bytes, 3)), ...extra });

  test('a 1-byte oct key does not verify HS256', async () => {
    const short = { secret: Buffer.alloc(1, 3), kid: 'short', alg: 'HS256' };
    const long = generateKey('HS256', { kid: 'long' });
    const v = verifier({
      issuer: ISSUER,
      algorithms: ['HS256'],
      keys: { keys: [oct(1, { kid: 'short' }), long.jwk] },
    });
    await verifyFails(v, signJwt(short, claims()), 'ERR_JWKS_NO_MATCHING_KEY', { kid: 'short' });
    assert.equal((await v.verify(signJwt(long, claims()))).payload.sub, 'user-1');
  });

  test('a 32-byte oct key verifies HS256 but not HS384', async () => {
    const key = { secret: Buffer.alloc(32, 3), kid: 'k32' };
    const v = verifier({ issuer: ISSUER, algorithms: ['HS256', 'HS384'], keys: { keys: [oct(32, { kid: 'k32' })] } });
    assert.equal((await v.verify(signJwt({ ...key, alg: 'HS256' }, claims()))).payload.sub, 'user-1');
    await verifyFails(v, signJwt({ ...key, alg: 'HS384' }, claims()), 'ERR_JWKS_NO_MATCHING_KEY');
  });
});

describe('member counts are bounded', () => {
  const key = generateKey('ES256');

  test('a header with 65 members is ERR_JWS_INVALID, with 64 it is read', async () => {
    const v = verifier({ issuer: ISSUER, keys: toJwks(key) });
    const header = (n) => {
      const h = { alg: 'ES256', kid: key.kid };
      for (let i = Object.keys(h).length; i < n; i++) h[`x${i}`] = i;
      return JSON.stringify(h);
    };
    const payload = JSON.stringify(claims());
    await verifyFails(v, signRaw(key, header(65), payload), 'ERR_JWS_INVALID', { message: /more than 64 members/ });
    assert.equal((await v.verify(signRaw(key, header(64), payload))).payload.sub, 'user-1');
  });

  test('a payload with 4097 members is ERR_JWT_INVALID, with 4096 it is read', async () => {
    const v = verifier({ issuer: ISSUER, keys: toJwks(key), maxTokenLength: 200_000 });
    const payload = (n) => {
      const p = claims();
      for (let i = Object.keys(p).length; i < n; i++) p[`c${i}`] = i;
      return JSON.stringify(p);
    };
    const header = JSON.stringify({ alg: 'ES256', kid: key.kid });
    await verifyFails(v, signRaw(key, header, payload(4097)), 'ERR_JWT_INVALID', {
      message: /more than 4096 members/,
    });
    assert.equal((await v.verify(signRaw(key, header, payload(4096)))).payload.sub, 'user-1');
  });
});

describe("each Verifier's own HTTP policy holds for what it trusts", () => {
  test('shared key caches are per HTTP policy: a small maxBytes is never bypassed by keys another Verifier fetched', async (t) => {
    const key = generateKey('ES256', { kid: 'policy-1' });
    const big = { keys: [key.jwk], pad: 'x'.repeat(4000) };
    const srv = await startJwksServer({ jwks: big });
    t.after(() => srv.close());
    const roomy = verifier({ issuer: ISSUER, jwksUri: srv.url });
    await roomy.verify(signJwt(key, claims()));
    const strict = verifier({ issuer: ISSUER, jwksUri: srv.url, http: { maxBytes: 1000 } });
    await rejectsWith(() => strict.verify(signJwt(key, claims())), 'ERR_JWKS_INVALID', { message: /maxBytes/ });
    assert.equal(srv.count, 2, 'the strict Verifier fetched under its own limit');
  });

  test('http.headers go only to the configured origin, never to the host a redirect names', async (t) => {
    const key = generateKey('ES256', { kid: 'redirect-1' });
    const target = await startJwksServer({ jwks: toJwks(key) });
    const front = await startJwksServer({ jwks: toJwks(key) });
    t.after(() => Promise.all([target.close(), front.close()]));
    front.setMode({ type: 'redirect', location: target.url });
    const v = verifier({ issuer: ISSUER, jwksUri: front.url, http: { headers: { 'x-api-key': 'for-the-front-only' } } });
    await v.verify(signJwt(key, claims()));
    assert.equal(front.log[0].headers['x-api-key'], 'for-the-front-only');
    assert.equal(target.count, 1);
    assert.equal(target.log[0].headers['x-api-key'], undefined, 'not forwarded to another origin');
  });

  test('a kid longer than 1024 characters is refused without a refetch, and not remembered', async (t) => {
    const key = generateKey('ES256', { kid: 'short' });
    const srv = await startJwksServer({ jwks: toJwks(key) });
    t.after(() => srv.close());
    const v = verifier({ issuer: ISSUER, jwksUri: srv.url });
    await v.ready();
    const long = signJwt(key, claims(), { kid: 'k'.repeat(5000) });
    await verifyFails(v, long, 'ERR_JWKS_NO_MATCHING_KEY', { message: /5000 characters/ });
    assert.equal(srv.count, 1, 'no refetch');
  });

  test("jwksUri without issuer: one 'warning' event says iss is not checked", async (t) => {
    const key = generateKey('ES256', { kid: 'tenant' });
    const srv = await startJwksServer({ jwks: toJwks(key) });
    t.after(() => srv.close());
    const events = [];
    const v = verifier({ jwksUri: srv.url, onEvent: (e) => events.push(e) });
    await v.verify(signJwt(key, claims({ iss: 'https://any-tenant.example' })));
    const warnings = events.filter((e) => e.type === 'warning');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0].error.message, /without "issuer".*not checked/);
    assert.equal(warnings[0].jwksUri, srv.url);
  });
});
