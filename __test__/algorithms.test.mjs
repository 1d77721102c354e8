// Every supported algorithm verifies through the real path: a remote JWKS served on 127.0.0.1, x5c-only keys,
// HMAC secrets, a local key set, and verifySync once keys are loaded.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { generateKey, signJwt, toJwks, ASYMMETRIC_ALGORITHMS } from './support/keys.mjs';
import { startJwksServer } from './support/jwks-server.mjs';
import { verifyFails, throwsWith, clockNow } from './support/expect.mjs';

const { Verifier } = createRequire(import.meta.url)('../index.js');

const ISSUER = 'https://issuer.algorithms.test';

function claims(extra = {}) {
  const iat = clockNow();
  return { iss: ISSUER, sub: 'user-1', iat, exp: iat + 300, ...extra };
}

/**
 * Serves `keys` from a JWKS server for the enclosing describe: `served.srv` and `served.verifier` (for ISSUER)
 * exist inside its tests.
 */
function serve(keys) {
  const served = {};
  before(async () => {
    served.srv = await startJwksServer({ jwks: toJwks(keys) });
    served.verifier = new Verifier({ issuer: ISSUER, jwksUri: served.srv.url });
  });
  after(async () => {
    served.verifier.close();
    await served.srv.close();
  });
  return served;
}

describe('asymmetric algorithms through a remote JWKS', () => {
  const keys = Object.fromEntries(ASYMMETRIC_ALGORITHMS.map((alg) => [alg, generateKey(alg)]));
  const served = serve(Object.values(keys));

  for (const alg of ASYMMETRIC_ALGORITHMS) {
    test(`${alg}: payload, header and issuer come back`, async () => {
      const payload = claims({ alg_under_test: alg, nested: { roles: ['a', 'b'] } });
      const token = signJwt(keys[alg], payload, { header: { typ: 'JWT' } });
      const result = await served.verifier.verify(token);
      assert.deepEqual(result.payload, payload);
      assert.deepEqual(result.header, { alg, kid: keys[alg].kid, typ: 'JWT' });
      assert.equal(result.issuer, ISSUER);
    });
  }

  test('one JWKS fetch served all algorithms', () => {
    assert.equal(served.srv.count, 1);
  });

  test('results of two calls are independent objects (or deeply frozen)', async () => {
    const payload = claims({ nested: { roles: ['reader'] } });
    const token = signJwt(keys.RS256, payload);
    const first = await served.verifier.verify(token);
    const second = await served.verifier.verify(token); // a token-cache hit, most likely
    if (Object.isFrozen(first.payload)) {
      assert.ok(Object.isFrozen(first.payload.nested), 'frozen results must be deeply frozen');
      assert.ok(Object.isFrozen(first.payload.nested.roles), 'frozen results must be deeply frozen');
      assert.ok(Object.isFrozen(first.header), 'frozen results must be deeply frozen');
      assert.throws(() => {
        first.payload.sub = 'mallory';
      }, TypeError);
    } else {
      assert.notEqual(first, second);
      assert.notEqual(first.payload, second.payload);
      first.payload.sub = 'mallory';
      first.payload.nested.roles.push('admin');
      first.header.kid = 'changed';
      assert.deepEqual(second.payload, payload);
      assert.equal(second.header.kid, keys.RS256.kid);
    }
    const third = await served.verifier.verify(token);
    assert.deepEqual(third.payload, payload);
    assert.equal(third.header.kid, keys.RS256.kid);
    const sync = served.verifier.verifySync(token);
    assert.deepEqual(sync.payload, payload);
  });
});

describe('x5c certificates in the JWKS', () => {
  const X5C_ONLY = ['RS256', 'ES256', 'PS256', 'ES512', 'EdDSA'];
  const keys = Object.fromEntries(X5C_ONLY.map((alg) => [alg, generateKey(alg, { x5cOnly: true })]));
  const served = serve(Object.values(keys));

  for (const alg of X5C_ONLY) {
    test(`${alg}: a JWK with only x5c (no n/e or x/y) verifies through its certificate`, async () => {
      assert.equal(keys[alg].jwk.n ?? keys[alg].jwk.x, undefined, 'the JWK really is x5c-only');
      const payload = claims();
      const { payload: got } = await served.verifier.verify(signJwt(keys[alg], payload));
      assert.deepEqual(got, payload);
    });
  }

  test('an Ed25519 key published as a certificate only (kty OKP, x5c, no crv, no x) verifies like RSA and EC ones', async () => {
    const key = generateKey('EdDSA', { x5cOnly: true });
    delete key.jwk.crv;
    const server = await startJwksServer({ jwks: toJwks(key) });
    const v = new Verifier({ issuer: ISSUER, jwksUri: server.url });
    try {
      const payload = claims();
      assert.deepEqual((await v.verify(signJwt(key, payload))).payload, payload);
    } finally {
      v.close();
      await server.close();
    }
  });

  test('a JWK whose x5c and n/e disagree is skipped, without spoiling the rest of the set', async () => {
    const a = generateKey('RS256', { x5c: true });
    const b = generateKey('RS256', { x5c: true });
    const good = generateKey('RS256', { x5c: true });
    const mixed = { ...a.jwk, x5c: b.jwk.x5c }; // n/e of a, certificate of b
    const server = await startJwksServer({ jwks: { keys: [mixed, good.jwk] } });
    const v = new Verifier({ issuer: ISSUER, jwksUri: server.url });
    try {
      // Signed by the owner of n/e, and by the owner of the certificate: neither may pass.
      await v.ready(); // so that verifySync is asserted too
      await verifyFails(v, signJwt(a, claims()), 'ERR_JWKS_NO_MATCHING_KEY', { kid: a.kid });
      await verifyFails(v, signJwt(b, claims(), { kid: a.kid }), 'ERR_JWKS_NO_MATCHING_KEY', { kid: a.kid });
      const ok = await v.verify(signJwt(good, claims()));
      assert.equal(ok.header.kid, good.kid);
    } finally {
      v.close();
      await server.close();
    }
  });
});

describe('algorithm names and key encodings from the wild', () => {
  test('ES512 (P-521) and the fully-specified Ed25519 name verify, with and without an allow-list', async () => {
    const p521 = generateKey('ES512');
    const ed = generateKey('Ed25519');
    assert.equal(p521.jwk.crv, 'P-521');
    const v = new Verifier({ issuer: ISSUER, keys: toJwks(p521, ed), algorithms: ['ES512', 'Ed25519'] });
    try {
      for (const key of [p521, ed]) {
        const result = await v.verify(signJwt(key, claims()));
        assert.equal(result.header.alg, key.alg);
      }
    } finally {
      v.close();
    }
  });

  test('EdDSA and Ed25519 are one algorithm for a key that names either; the allow-list stays exact', async () => {
    const key = generateKey('EdDSA'); // jwk.alg 'EdDSA'
    const v = new Verifier({ issuer: ISSUER, keys: toJwks(key) });
    const onlyEdDSA = new Verifier({ issuer: ISSUER, keys: toJwks(key), algorithms: ['EdDSA'] });
    try {
      const token = signJwt(key, claims(), { alg: 'Ed25519' });
      assert.equal((await v.verify(token)).header.alg, 'Ed25519');
      await verifyFails(onlyEdDSA, token, 'ERR_JOSE_ALG_NOT_ALLOWED');
    } finally {
      v.close();
      onlyEdDSA.close();
    }
  });

  test('JWK key members in standard base64 with padding (as Battle.net publishes n) are read', async () => {
    const key = generateKey('RS256');
    const standard = (b64url) => Buffer.from(b64url, 'base64url').toString('base64');
    const n = standard(key.jwk.n);
    const e = Buffer.concat([Buffer.alloc(1), Buffer.from(key.jwk.e, 'base64url')]).toString('base64');
    assert.match(n, /=$/, 'n is padded');
    assert.match(e, /=$/, 'e is padded');
    const server = await startJwksServer({ jwks: { keys: [{ ...key.jwk, n, e }] } });
    const v = new Verifier({ issuer: ISSUER, jwksUri: server.url });
    try {
      const payload = claims();
      assert.deepEqual((await v.verify(signJwt(key, payload))).payload, payload);
      // Tokens themselves stay strict base64url.
      const [h, p, sig] = signJwt(key, claims()).split('.');
      const padded = `${h}.${p}.${Buffer.from(sig, 'base64url').toString('base64')}`;
      await verifyFails(v, padded, 'ERR_JWS_INVALID');
    } finally {
      v.close();
      await server.close();
    }
  });
});

describe('HMAC with a secret', () => {
  for (const alg of ['HS256', 'HS384', 'HS512']) {
    test(`${alg}: verifies with the secret, fails with another secret`, async () => {
      const key = generateKey(alg);
      const other = generateKey(alg);
      const payload = claims();
      const token = signJwt(key, payload);
      const v = new Verifier({ secret: key.secret, algorithms: [alg] });
      const wrong = new Verifier({ secret: other.secret, algorithms: [alg] });
      try {
        const result = await v.verify(token);
        assert.deepEqual(result.payload, payload);
        assert.equal(result.header.alg, alg);
        assert.deepEqual(v.verifySync(token).payload, payload);
        await verifyFails(wrong, token, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
      } finally {
        v.close();
        wrong.close();
      }
    });
  }

  test('HS256: the secret may be a string or a Uint8Array', async () => {
    const text = 'a-shared-secret-of-at-least-32-bytes!';
    const key = generateKey('HS256', { secret: Buffer.from(text) });
    const payload = claims();
    const token = signJwt(key, payload);
    for (const secret of [text, new Uint8Array(Buffer.from(text))]) {
      const v = new Verifier({ secret, algorithms: ['HS256'] });
      try {
        assert.deepEqual((await v.verify(token)).payload, payload);
      } finally {
        v.close();
      }
    }
  });
});

describe('a local key set', () => {
  test('verifies without any server, for every asymmetric algorithm', async () => {
    const keys = ASYMMETRIC_ALGORITHMS.map((alg) => generateKey(alg));
    const v = new Verifier({ issuer: ISSUER, keys: toJwks(keys) });
    try {
      await v.ready();
      for (const key of keys) {
        const payload = claims({ alg_under_test: key.alg });
        assert.deepEqual((await v.verify(signJwt(key, payload))).payload, payload, key.alg);
        assert.deepEqual(v.verifySync(signJwt(key, payload)).payload, payload, `${key.alg} sync`);
      }
    } finally {
      v.close();
    }
  });

  test('without issuer, `iss` is not checked', async () => {
    const key = generateKey('ES256');
    const v = new Verifier({ keys: toJwks(key) });
    try {
      const payload = claims({ iss: 'https://anyone.test' });
      assert.deepEqual((await v.verify(signJwt(key, payload))).payload, payload);
    } finally {
      v.close();
    }
  });
});

describe('verifySync and ready()', () => {
  test('verifySync throws ERR_JWKS_NOT_LOADED before ready(), and verifies after it', async () => {
    const key = generateKey('RS256');
    const srv = await startJwksServer({ jwks: toJwks(key) });
    const v = new Verifier({ issuer: ISSUER, jwksUri: srv.url });
    try {
      const payload = claims();
      const token = signJwt(key, payload);
      throwsWith(() => v.verifySync(token), 'ERR_JWKS_NOT_LOADED');
      await v.ready();
      const result = v.verifySync(token);
      assert.deepEqual(result.payload, payload);
      assert.equal(result.issuer, ISSUER);
      assert.ok(srv.count >= 1 && srv.count <= 2, `JWKS requests: ${srv.count}`);
    } finally {
      v.close();
      await srv.close();
    }
  });
});
