// Recipe: verify SCAYLE Authentication API access tokens, and revalidate them every 5 minutes.
//
// In your service:
//
//   import { Verifier } from 'jwks-verify'
//   const tenant = 'acme'                                        // your SCAYLE tenant space
//   const verifier = new Verifier({
//     jwksUri: `https://${tenant}.auth.scayle.cloud/.well-known/jwks.json`,
//     audience: '5',                                             // the `aud` your tokens carry (optional)
//     cache: { maxAge: '10m' },                                  // SCAYLE: cache its JWKS for at most 10 minutes
//     revalidate: {
//       endpoint: `https://${tenant}.auth.scayle.cloud/v1/oauth/token/validate`,
//       interval: '5m',                                          // SCAYLE: ask at least every 5 minutes per token
//     },
//   })
//   const { payload } = await verifier.verify(token)             // ERR_TOKEN_INACTIVE once SCAYLE says 401
//
// SCAYLE's tokens have no `kid` in their header and no `iss` claim, `aud` is a string such as "5",
// and `iat`/`nbf`/`exp` are fractional seconds: so there is no `issuer` option (nothing to compare
// it with; the JWKS URL is your tenant's, so its keys are SCAYLE's), and each key of the set is
// tried. The tokens live 31 days, which is why SCAYLE asks resource servers to call its validation
// endpoint at least once every 5 minutes per token: a revoked token keeps a valid signature.
//
// `revalidate` does that call after the signature and claims pass (a forged token costs no call),
// with the token as `Authorization: Bearer`: 2xx is active, 401/403 inactive (ERR_TOKEN_INACTIVE,
// answered 401), anything else a failure of the endpoint (ERR_REVALIDATION_FAILED, answered 503
// with Retry-After; never read as active or inactive). The answer is cached per token (under its
// SHA-256) for `interval`, never beyond `exp`; past 80% of it the next verification refreshes it in
// the background, so requests wait for SCAYLE only the first time they show a token, or when one
// comes back after more than 5 minutes. Add `staleIfError: '5m'` to keep accepting tokens known to
// be active for 5 more minutes while the endpoint fails.
//
// `cache.maxAge: '10m'` is also this library's default (600 s); it is written out because SCAYLE
// asks for it: whatever `Cache-Control` the endpoint sends, keys are refetched after 10 minutes at
// the latest (refresh starts in the background at 90%, so requests do not wait for it).
//
// Running this file (`node examples/scayle.mjs`, same with `--local`) never contacts SCAYLE: it
// starts the embedded issuer from ./issuer.mjs, which serves a JWKS with `Cache-Control:
// max-age=86400` and a validation endpoint of SCAYLE's shape, replaces the two URLs by the local
// ones, and verifies a token shaped like SCAYLE's with the same options. It shows the endpoint asked
// once per token, a revoked token refused, a token revoked after its check refused once the 5
// minutes have passed (a TestClock, a test aid, moves the verifier's time so that nobody waits), and
// the keys kept for 10 minutes, not a day. It exits 1 if anything is unexpected.
import { startIssuer } from './issuer.mjs';
import { report, runAsScript, testClock } from './recipe.mjs';

/**
 * Verifier options for SCAYLE tokens of one tenant space.
 * @param {string} tenant  the tenant space, as in `https://{tenant}.auth.scayle.cloud`
 * @param {{ audience?: string }} [options]  `audience`: the `aud` your SCAYLE tokens carry (look at one of them)
 */
export function scayleOptions(tenant, { audience } = {}) {
  if (!/^[a-z0-9-]+$/i.test(String(tenant))) throw new TypeError(`scayleOptions: invalid tenant space ${tenant}`);
  return {
    jwksUri: `https://${tenant}.auth.scayle.cloud/.well-known/jwks.json`,
    ...(audience === undefined ? {} : { audience }),
    cache: { maxAge: '10m' },
    revalidate: { endpoint: scayleValidateUrl(tenant), interval: '5m' },
  };
}

/** The token validation endpoint SCAYLE asks to call at least every 5 minutes per token. */
export function scayleValidateUrl(tenant) {
  return `https://${tenant}.auth.scayle.cloud/v1/oauth/token/validate`;
}

/** A token shaped like SCAYLE's, signed by the embedded issuer: no `kid`, no `iss`, `aud` "5", fractional times. */
function scayleToken(idp, sub) {
  const now = Date.now() / 1000;
  return idp.sign({ iss: undefined, aud: '5', sub, iat: now, nbf: now, exp: now + 31 * 86400 }, { header: { kid: undefined } });
}

const decodePart = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

/** Run the recipe against the embedded issuer. Returns the number of unexpected results. */
export async function runLocal({ log = console.log } = {}) {
  const { Verifier } = await import('jwks-verify'); // this package itself (loaded here, not at import)
  const r = report(log);

  const idp = await startIssuer({ alg: 'RS256', cacheControl: 'max-age=86400' });
  const real = scayleOptions('your-tenant', { audience: '5' });
  const options = { ...real, jwksUri: idp.jwksUri, revalidate: { ...real.revalidate, endpoint: idp.validateUrl } };
  log('SCAYLE recipe, run against the embedded issuer and its validation endpoint (SCAYLE is not contacted)\n');
  r.line('real options', JSON.stringify(real));
  r.line('local options', JSON.stringify(options));
  r.line('JWKS Cache-Control', 'max-age=86400 (a day; SCAYLE wants 10 minutes at most)');

  const clock = await testClock();
  const verifier = new Verifier({ ...options, testClock: clock });
  const calls = () => idp.validationLog.length;
  try {
    const token = scayleToken(idp, 'customer-42');
    const [header, claims] = token.split('.').map((part, i) => (i < 2 ? decodePart(part) : null));
    r.line('token header', `${JSON.stringify(header)} (no kid)`);
    r.line('token claims', `${JSON.stringify(claims)} (no iss)`);
    await r.accepts(
      'verify(token)',
      verifier,
      token,
      (res) => `sub ${res.payload.sub}, aud ${res.payload.aud}, header.kid ${res.header.kid ?? 'none'}`,
    );
    r.check('validation endpoint asked', calls() === 1, `${calls()} time(s), ${idp.validationLog[0]?.method} with the token as Bearer`);
    for (let i = 0; i < 3; i++) await verifier.verify(token);
    r.check('3 more verify(token)', calls() === 1, `endpoint asked ${calls()} time(s) in all: the answer is cached for 5 min`);

    const health = verifier.health()[0];
    const lifetime =
      health && typeof health.expiresAt === 'number' && typeof health.fetchedAt === 'number'
        ? (health.expiresAt - health.fetchedAt) / 1000
        : NaN;
    const capped = lifetime === 600;
    r.check('keys kept for', capped, `${lifetime} s ${capped ? "(cache.maxAge 10m caps the endpoint's max-age)" : '(expected 600 s)'}`);

    const revoked = scayleToken(idp, 'customer-43');
    idp.revoke(revoked);
    await r.refuses('verify(revoked token)', verifier, revoked, 'ERR_TOKEN_INACTIVE');

    idp.revoke(token);
    await r.accepts('revoke(token), verify(token)', verifier, token, () => 'still accepted: its answer is younger than 5 min');
    clock.advance(5 * 60_000 + 1000);
    await r.refuses('5 min later: verify(token)', verifier, token, 'ERR_TOKEN_INACTIVE');

    const before = calls();
    const [h, p, s] = token.split('.');
    const tampered = [h, Buffer.from(JSON.stringify({ ...decodePart(p), sub: 'someone-else' })).toString('base64url'), s].join('.');
    await r.refuses('verify(tampered token)', verifier, tampered, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    r.check('  endpoint calls for it', calls() === before, `${calls() - before} (a forged token is refused before any call)`);

    const { revalidations, revalidationHits, inactive } = verifier.stats();
    r.check('stats()', revalidations === 3 && inactive === 2, JSON.stringify({ revalidations, revalidationHits, inactive }));
  } finally {
    verifier.close();
    await idp.close();
  }
  return r.done();
}

await runAsScript(import.meta, runLocal);
