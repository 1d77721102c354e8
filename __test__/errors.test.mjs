// Every error code of DESIGN.md's table, produced by a realistic input and asserted by `code` and its detail
// fields, on `verify` (rejection) and `verifySync` (throw) where both apply.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { generateKey, signJwt, signRaw, toJwks, b64url } from './support/keys.mjs';
import { startJwksServer } from './support/jwks-server.mjs';
import { verifyFails, rejectsWith, throwsWith, errorWith, advanceClock, clockNow, testClock } from './support/expect.mjs';

const { Verifier, createVerifier } = createRequire(import.meta.url)('../index.js');

const ISSUER = 'https://issuer.errors.test';
const rsa = generateKey('RS256');
const ec = generateKey('ES256');

const open = [];
/** A Verifier on the test clock, closed when the file ends. */
function verifier(options) {
  const v = new Verifier({ testClock, ...options });
  open.push(v);
  return v;
}
/** A Verifier over a local key set (no network) for ISSUER. */
function local(options = {}) {
  return verifier({ issuer: ISSUER, keys: toJwks(rsa, ec), ...options });
}
after(() => {
  for (const v of open) v.close();
});

function claims(extra = {}) {
  const iat = clockNow();
  return { iss: ISSUER, sub: 'user-1', iat, exp: iat + 300, ...extra };
}

/** A claim failure names the claim and gives a reason. */
const claimFailure = (claim) => ({ claim, reason: (r) => typeof r === 'string' && r.length > 0 });

describe('ERR_INVALID_OPTIONS', () => {
  const base = { issuer: ISSUER, jwksUri: 'https://keys.errors.test/jwks.json' };
  const secret32 = Buffer.alloc(32, 7);
  const cases = [
    ['an unknown option (typo)', { ...base, audiance: 'api' }, /audiance/],
    ['an unknown nested option', { ...base, cache: { maxage: 60 } }, /maxage/],
    ['a null value', { ...base, audience: null }, /audience/],
    ['a null nested value', { ...base, http: { timeout: null } }, /timeout/],
    ['algorithms: []', { ...base, algorithms: [] }, /algorithms/],
    ['an unknown algorithm', { ...base, algorithms: ['RS256', 'RS1'] }, /algorithms/],
    ['a secret without an HS* algorithm', { ...base, secret: secret32 }, /secret/],
    ['an HS* algorithm without a secret', { ...base, algorithms: ['HS256'] }, /secret/],
    ['a secret shorter than SHA-256', { secret: Buffer.alloc(31, 7), algorithms: ['HS256'] }, /secret/],
    ['a secret shorter than SHA-512', { secret: Buffer.alloc(48, 7), algorithms: ['HS512'] }, /secret/],
    ['a short string secret', { secret: 'too-short', algorithms: ['HS256'] }, /secret/],
    ['issuer together with issuers', { ...base, issuers: [{ ...base, issuer: 'https://b.errors.test' }] }, /issuers?/],
    ['a duration with an unknown unit', { ...base, clockTolerance: '5 minutes' }, /clockTolerance/],
    ['a duration in weeks', { ...base, maxTokenAge: '1w' }, /maxTokenAge/],
    ['a negative duration', { ...base, clockTolerance: -1 }, /clockTolerance/],
    ['a cache duration that is not a number', { ...base, cache: { maxAge: '10x' } }, /maxAge/],
    ['a zero cooldown', { ...base, cache: { cooldown: 0 } }, /cooldown/],
    ['a negative timeout string', { ...base, http: { timeout: '-1s' } }, /timeout/],
    [
      'milliseconds where seconds are meant',
      { ...base, cache: { maxAge: 600000 } },
      /^option "cache\.maxAge" is 600000 seconds \(6\.9 days\): numbers are seconds; did you mean "600s" \(or 600\)\?$/,
    ],
    ['an http.timeout in milliseconds', { ...base, http: { timeout: 5000 } }, /"http\.timeout" is 5000 seconds.*"5s"/],
    ['a cooldown longer than maxAge', { ...base, cache: { cooldown: 900 } }, /"cache\.cooldown".*"cache\.maxAge" \(10 min, the default\)/],
    ['audience: 123', { ...base, audience: 123 }, /^option "audience" must be a string or an array of strings, got a number$/],
    ['a non-loopback http jwksUri', { ...base, jwksUri: 'http://keys.errors.test/jwks.json' }, /jwksUri/],
    [
      'a non-loopback http jwksUri inside issuers',
      { issuers: [{ issuer: ISSUER, jwksUri: 'http://keys.errors.test/jwks.json' }] },
      /jwksUri/,
    ],
  ];
  for (const [label, options, names] of cases) {
    test(`${label} -> names the option`, () => {
      throwsWith(() => new Verifier(options), 'ERR_INVALID_OPTIONS', { message: names });
      throwsWith(() => createVerifier(options), 'ERR_INVALID_OPTIONS', { message: names });
    });
  }

  test('valid edge values are accepted', () => {
    const ok = [
      { ...base, clockTolerance: 0 },
      { ...base, clockTolerance: '1.5m', maxTokenAge: '2h', cache: { maxAge: '250ms', cooldown: '250ms', maxStale: '1d' } },
      { ...base, clockTolerance: 3600, maxTokenAge: 31 * 86400, cache: { maxAge: 86400, cooldown: 3600, maxStale: 7 * 86400 } },
      { ...base, cache: { maxAge: '30d', maxStale: '365d' }, http: { timeout: 300 } },
      { ...base, http: { timeout: 2.5 } },
      { issuer: ISSUER, jwksUri: 'http://127.0.0.1:9/jwks.json' },
      { issuer: ISSUER, jwksUri: 'http://localhost:9/jwks.json' },
      { issuer: ISSUER, jwksUri: 'http://[::1]:9/jwks.json' },
      { issuer: ISSUER, jwksUri: 'http://keys.errors.test/jwks.json', http: { allowHttp: true } },
      { secret: Buffer.alloc(64, 1), algorithms: ['HS512'] },
      { ...base, secret: Buffer.alloc(32, 1), algorithms: ['RS256', 'HS256'] },
    ];
    for (const options of ok) verifier(options);
  });
});

describe('token and key errors', () => {
  test('ERR_JWS_INVALID: not a compact JWS', async () => {
    await verifyFails(local(), 'not-a-token', 'ERR_JWS_INVALID', {
      message: /^a compact JWS has 3 parts separated by "\.", this token has 1$/,
    });
  });

  test('ERR_JWT_INVALID: the payload is not a JSON object', async () => {
    await verifyFails(local(), signRaw(rsa, JSON.stringify({ alg: 'RS256', kid: rsa.kid }), '[1,2,3]'), 'ERR_JWT_INVALID');
  });

  test('ERR_JOSE_ALG_NOT_ALLOWED: alg outside `algorithms`, missing, or unknown', async () => {
    const v = local({ algorithms: ['RS256'] });
    await verifyFails(v, signJwt(ec, claims()), 'ERR_JOSE_ALG_NOT_ALLOWED');
    await verifyFails(v, signJwt(rsa, claims(), { header: { alg: undefined } }), 'ERR_JOSE_ALG_NOT_ALLOWED');
    await verifyFails(
      v,
      signRaw(rsa, JSON.stringify({ alg: 'RS1', kid: rsa.kid }), JSON.stringify(claims()), { alg: 'RS256' }),
      'ERR_JOSE_ALG_NOT_ALLOWED',
    );
  });

  test('ERR_JOSE_NOT_SUPPORTED: crit names an extension we do not implement', async () => {
    const token = signJwt(rsa, claims(), { header: { crit: ['urn:example:ext'], 'urn:example:ext': true } });
    await verifyFails(local(), token, 'ERR_JOSE_NOT_SUPPORTED');
  });

  test('ERR_JWKS_NO_MATCHING_KEY: the kid is not in the key set (kid on the error)', async () => {
    await verifyFails(local(), signJwt(rsa, claims(), { kid: 'no-such-kid' }), 'ERR_JWKS_NO_MATCHING_KEY', { kid: 'no-such-kid' });
  });

  test('ERR_JWS_SIGNATURE_VERIFICATION_FAILED: a changed payload, a foreign key without kid', async () => {
    const [h, , s] = signJwt(rsa, claims()).split('.');
    const forged = `${h}.${b64url(JSON.stringify(claims({ sub: 'admin' })))}.${s}`;
    await verifyFails(local(), forged, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    const stranger = generateKey('RS256');
    await verifyFails(local(), signJwt(stranger, claims(), { kid: null }), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
  });
});

describe('claims', () => {
  test('exp passed -> ERR_JWT_EXPIRED (claim exp); clockTolerance covers a small skew only', async () => {
    const token = signJwt(rsa, claims({ exp: clockNow() - 10 }));
    await verifyFails(local(), token, 'ERR_JWT_EXPIRED', { claim: 'exp' });
    await verifyFails(local({ clockTolerance: '5s' }), token, 'ERR_JWT_EXPIRED', { claim: 'exp' });
    const tolerant = local({ clockTolerance: 30 });
    await tolerant.verify(token);
    tolerant.verifySync(token);
  });

  test('a token that was valid expires when time passes (also when it was cached)', async () => {
    const v = local();
    const token = signJwt(rsa, claims({ exp: clockNow() + 60 }));
    await v.verify(token);
    v.verifySync(token);
    advanceClock(120_000);
    await verifyFails(v, token, 'ERR_JWT_EXPIRED', { claim: 'exp' });
  });

  test('nbf in the future -> claim nbf, until time passes or within clockTolerance', async () => {
    const v = local();
    const token = signJwt(rsa, claims({ nbf: clockNow() + 60 }));
    await verifyFails(v, token, 'ERR_JWT_CLAIM_VALIDATION_FAILED', claimFailure('nbf'));
    await local({ clockTolerance: '2m' }).verify(token);
    advanceClock(90_000);
    await v.verify(token);
    v.verifySync(token);
  });

  test('iat in the future -> claim iat', async () => {
    const token = signJwt(rsa, claims({ iat: clockNow() + 60 }));
    await verifyFails(local(), token, 'ERR_JWT_CLAIM_VALIDATION_FAILED', claimFailure('iat'));
    await local({ clockTolerance: 120 }).verify(token);
  });

  test('maxTokenAge exceeded -> ERR_JWT_EXPIRED with claim iat', async () => {
    const v = local({ maxTokenAge: '5m' });
    await verifyFails(v, signJwt(rsa, claims({ iat: clockNow() - 600, exp: clockNow() + 600 })), 'ERR_JWT_EXPIRED', {
      claim: 'iat',
    });
    const fresh = signJwt(rsa, claims({ iat: clockNow() - 60, exp: clockNow() + 3600 }));
    await v.verify(fresh);
    advanceClock(300_000);
    await verifyFails(v, fresh, 'ERR_JWT_EXPIRED', { claim: 'iat' });
  });

  test('aud: a string or an array must contain a configured audience', async () => {
    const one = local({ audience: 'api' });
    const many = local({ audience: ['api', 'admin'] });
    for (const aud of ['api', ['other', 'api']]) {
      await one.verify(signJwt(rsa, claims({ aud })));
      await many.verify(signJwt(rsa, claims({ aud })));
    }
    await many.verify(signJwt(rsa, claims({ aud: 'admin' })));
    for (const aud of ['other', ['x', 'y'], [], undefined]) {
      const token = signJwt(rsa, claims({ aud }));
      await verifyFails(one, token, 'ERR_JWT_CLAIM_VALIDATION_FAILED', claimFailure('aud'));
      await verifyFails(many, token, 'ERR_JWT_CLAIM_VALIDATION_FAILED', claimFailure('aud'));
    }
    await verifyFails(many, signJwt(rsa, claims({ aud: ['x'] })), 'ERR_JWT_CLAIM_VALIDATION_FAILED', {
      message: 'unexpected "aud" claim value ["x"] (expected one of "api", "admin")',
    });
    // Without `audience`, aud is not checked.
    await local().verify(signJwt(rsa, claims({ aud: 'anything' })));
  });

  test('iss mismatch or missing -> claim iss', async () => {
    const v = local();
    await verifyFails(v, signJwt(rsa, claims({ iss: 'https://other.test' })), 'ERR_JWT_CLAIM_VALIDATION_FAILED', claimFailure('iss'));
    await verifyFails(v, signJwt(rsa, claims({ iss: undefined })), 'ERR_JWT_CLAIM_VALIDATION_FAILED', claimFailure('iss'));
    await verifyFails(v, signJwt(rsa, claims({ iss: `${ISSUER}/` })), 'ERR_JWT_CLAIM_VALIDATION_FAILED', claimFailure('iss'));
  });

  test('sub mismatch or missing -> claim sub', async () => {
    const v = local({ subject: 'user-1' });
    await v.verify(signJwt(rsa, claims()));
    await verifyFails(v, signJwt(rsa, claims({ sub: 'user-2' })), 'ERR_JWT_CLAIM_VALIDATION_FAILED', claimFailure('sub'));
    await verifyFails(v, signJwt(rsa, claims({ sub: undefined })), 'ERR_JWT_CLAIM_VALIDATION_FAILED', claimFailure('sub'));
  });

  test("typ: 'at+jwt' matches 'application/at+jwt' and any case; other or absent typ fails", async () => {
    const v = local({ typ: 'at+jwt' });
    for (const typ of ['at+jwt', 'application/at+jwt', 'AT+JWT', 'Application/AT+JWT']) {
      await v.verify(signJwt(rsa, claims(), { header: { typ } }));
    }
    for (const typ of ['JWT', 'jwt', 'at+jwt2', undefined]) {
      await verifyFails(v, signJwt(rsa, claims(), { header: { typ } }), 'ERR_JWT_CLAIM_VALIDATION_FAILED', claimFailure('typ'));
    }
  });

  test('requiredClaims: exp by default; a list replaces the default', async () => {
    const noExp = signJwt(rsa, claims({ exp: undefined, jti: 'id-1' }));
    await verifyFails(local(), noExp, 'ERR_JWT_CLAIM_VALIDATION_FAILED', claimFailure('exp'));
    const v = local({ requiredClaims: ['sub', 'jti'] });
    await v.verify(noExp);
    await verifyFails(v, signJwt(rsa, claims({ jti: undefined })), 'ERR_JWT_CLAIM_VALIDATION_FAILED', claimFailure('jti'));
  });

  test('claims of the wrong type -> claim failure naming the claim', async () => {
    const far = clockNow() + 3600;
    const cases = [
      ['exp', { exp: String(far) }, {}],
      ['exp', { exp: null }, {}],
      ['exp', { exp: true }, {}],
      ['nbf', { nbf: String(clockNow() - 10) }, {}],
      ['iat', { iat: String(clockNow()) }, {}],
      ['aud', { aud: 42 }, { audience: 'api' }],
      ['iss', { iss: 42 }, {}],
      ['sub', { sub: 42 }, { subject: 'user-1' }],
    ];
    for (const [claim, extra, options] of cases) {
      await verifyFails(local(options), signJwt(rsa, claims(extra)), 'ERR_JWT_CLAIM_VALIDATION_FAILED', claimFailure(claim));
    }
  });
});

describe('JWKS endpoint errors', () => {
  /** A fresh server in `mode`, a Verifier on it; runs `body`, then cleans up. */
  async function withFailingServer(mode, options, body) {
    const srv = await startJwksServer({ jwks: toJwks(rsa) });
    srv.setMode(mode);
    const v = verifier({ issuer: ISSUER, jwksUri: srv.url, ...options });
    try {
      await body(v, srv, signJwt(rsa, claims()));
    } finally {
      v.close();
      await srv.close();
    }
  }

  test('ERR_JWKS_FETCH_FAILED with status for a 500, and at once without I/O while backing off', async () => {
    await withFailingServer({ type: 'status', status: 500, body: 'oops' }, {}, async (v, srv, token) => {
      await rejectsWith(() => v.verify(token), 'ERR_JWKS_FETCH_FAILED', { status: 500 });
      const requests = srv.count;
      assert.ok(requests >= 1);
      await rejectsWith(() => v.verify(token), 'ERR_JWKS_FETCH_FAILED');
      await rejectsWith(() => v.ready(), 'ERR_JWKS_FETCH_FAILED');
      assert.equal(srv.count, requests, 'no request while backing off');
      throwsWith(() => v.verifySync(token), 'ERR_JWKS_NOT_LOADED');
    });
  });

  test('ERR_JWKS_FETCH_FAILED for a 404 and for a 503 without Retry-After', async () => {
    for (const status of [404, 503]) {
      await withFailingServer({ type: 'status', status }, {}, async (v, _srv, token) => {
        await rejectsWith(() => v.verify(token), 'ERR_JWKS_FETCH_FAILED', { status });
      });
    }
  });

  test('ERR_JWKS_FETCH_FAILED when nothing listens (no status)', async () => {
    const srv = await startJwksServer();
    const url = srv.url;
    await srv.close();
    const v = verifier({ issuer: ISSUER, jwksUri: url });
    await rejectsWith(() => v.verify(signJwt(rsa, claims())), 'ERR_JWKS_FETCH_FAILED', {
      status: (s) => s == null,
      // Plain words: where, and why; none of the HTTP stack's internals.
      message: (m) =>
        m.endsWith(`: could not connect to ${new URL(url).host} (connection refused)`) &&
        !/error sending request|client error|tcp connect|os error/.test(m),
    });
  });

  test('ERR_JWKS_TIMEOUT when the endpoint stalls past http.timeout', async () => {
    await withFailingServer({ type: 'stall' }, { http: { timeout: '300ms' } }, async (v, srv, token) => {
      const started = Date.now();
      await rejectsWith(() => v.verify(token), 'ERR_JWKS_TIMEOUT');
      const took = Date.now() - started;
      assert.ok(took >= 250 && took < 3000, `timed out after ${took} ms`);
      assert.equal(srv.count, 1);
    });
  });

  test('ERR_JWKS_RATE_LIMITED with retryAfter for 429 and 503 with Retry-After', async () => {
    for (const [status, seconds] of [
      [429, 120],
      [503, 30],
    ]) {
      await withFailingServer({ type: 'status', status, headers: { 'retry-after': String(seconds) } }, {}, async (v, srv, token) => {
        const retryAfter = (s) => typeof s === 'number' && s > 0 && s <= seconds;
        await rejectsWith(() => v.verify(token), 'ERR_JWKS_RATE_LIMITED', { retryAfter });
        const requests = srv.count;
        await rejectsWith(() => v.verify(token), 'ERR_JWKS_RATE_LIMITED', { retryAfter });
        assert.equal(srv.count, requests, 'Retry-After is obeyed');
      });
    }
  });

  test('ERR_JWKS_INVALID for a body that is not a JWKS', async () => {
    for (const body of ['not json', '{}', '{"keys":5}', '[]']) {
      await withFailingServer({ type: 'body', body }, {}, async (v, _srv, token) => {
        await rejectsWith(() => v.verify(token), 'ERR_JWKS_INVALID');
      });
    }
  });

  test('ERR_JWKS_NOT_LOADED from verifySync before the keys are cached', async () => {
    await withFailingServer({ type: 'ok' }, {}, async (v, _srv, token) => {
      throwsWith(() => v.verifySync(token), 'ERR_JWKS_NOT_LOADED');
      await v.verify(token);
      v.verifySync(token);
    });
  });
});

describe('ERR_VERIFIER_CLOSED', () => {
  test('every call after close() fails; close() is idempotent and stops only this verifier', async () => {
    const srv = await startJwksServer({ jwks: toJwks(rsa) });
    try {
      const token = signJwt(rsa, claims());
      const v = new Verifier({ issuer: ISSUER, jwksUri: srv.url, testClock });
      const other = verifier({ issuer: ISSUER, jwksUri: srv.url });
      await v.verify(token);
      v.close();
      v.close();
      await verifyFails(v, token, 'ERR_VERIFIER_CLOSED');
      await rejectsWith(() => v.ready(), 'ERR_VERIFIER_CLOSED');
      assert.throws(() => v.verifySync('not-a-token'), errorWith('ERR_VERIFIER_CLOSED'));
      await other.verify(token);
      other.verifySync(token);
    } finally {
      await srv.close();
    }
  });

  test('a local-keys verifier is closed too', async () => {
    const v = new Verifier({ issuer: ISSUER, keys: toJwks(rsa) });
    v.close();
    await verifyFails(v, signJwt(rsa, claims()), 'ERR_VERIFIER_CLOSED');
  });
});
