// Recipe: refuse revoked tokens by RFC 7662 introspection (Keycloak, oidc-provider, Okta, Auth0-
// compatible servers), and accept opaque access tokens on the provider's word.
//
// Keycloak issues JWT access tokens; introspection adds what a signature cannot say: whether the
// session was logged out or the token revoked since.
//
//   import { Verifier } from 'jwks-verify'
//   const verifier = new Verifier({
//     issuer: 'https://id.example.com/realms/shop',
//     audience: 'orders-api',
//     revalidate: {
//       introspection: { clientId: 'orders-api', clientSecret: process.env.INTROSPECTION_SECRET },
//     },
//   })
//
// A server that issues opaque access tokens (oidc-provider with `accessTokenFormat: 'opaque'`,
// Okta's and others' reference tokens) needs `opaque: true` as well; such a token's result is
// `{ payload: <the introspection answer>, header: null, issuer }`:
//
//   revalidate: { introspection: { clientId, clientSecret }, opaque: true }
//
// The introspection endpoint is the discovery document's `introspection_endpoint` (Keycloak:
// `{issuer}/protocol/openid-connect/token/introspect`), or `introspection.endpoint`. The verifier
// authenticates as a confidential client (`client_secret_basic`): in Keycloak, a client with
// client authentication on. A JWS token is introspected only after its signature and claims pass,
// so forged tokens cost no call. `{"active": true}` is live, `{"active": false}` is
// ERR_TOKEN_INACTIVE (answered 401); an endpoint that fails (unreachable, 5xx, 429, a 401 for the
// client itself, an answer without a boolean `active`) is ERR_REVALIDATION_FAILED (answered 503
// with Retry-After): never taken for "inactive", never for "active". Answers are cached per token
// (under its SHA-256) for `interval` (default 5 minutes), never beyond the token's `exp`; past 80%
// of it the next verification refreshes it in the background. A revoked token is therefore refused
// at most `interval` after its revocation: choose it for your risk (0 asks on every verification).
//
// Running this file (`node examples/introspection.mjs`) never contacts a real provider: it starts a
// real `oidc-provider` (a devDependency of this package) on 127.0.0.1 with opaque access tokens,
// introspection and RFC 7009 revocation, obtains a token by client credentials, verifies it, revokes
// it and shows it refused once the interval has passed. So that nobody waits 5 minutes, the
// verifier gets a TestClock, a test aid that moves only its own time (real code never uses it).
// oidc-provider prints a few WARNING and NOTICE lines of its own (in-memory adapter, default policies). The
// file exits 1 if anything is unexpected.
import { report, runAsScript, testClock } from './recipe.mjs';

/** Run the recipe against a local oidc-provider. Returns the number of unexpected results. */
export async function runLocal({ log = console.log } = {}) {
  const { Verifier } = await import('jwks-verify'); // this package itself (loaded here, not at import)
  // The test suite's provider: one client_credentials client, opaque tokens valid an hour.
  const { startOidcProvider, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET } = await import('../__test__/support/oidc.mjs');
  const r = report(log);

  const op = await startOidcProvider({ accessTokenFormat: 'opaque', introspection: true, accessTokenTtl: 3600 });
  const options = {
    issuer: op.issuer,
    revalidate: { introspection: { clientId: OIDC_CLIENT_ID, clientSecret: '<secret>' }, opaque: true },
  };
  log('Introspection recipe, run against oidc-provider on 127.0.0.1 (no real provider is contacted)\n');
  r.line('options', JSON.stringify(options));

  const clock = await testClock();
  const verifier = new Verifier({
    ...options,
    revalidate: { ...options.revalidate, introspection: { clientId: OIDC_CLIENT_ID, clientSecret: OIDC_CLIENT_SECRET } },
    testClock: clock,
  });
  const introspections = () => op.log.filter((e) => e.path === '/token/introspection').length;
  try {
    const token = await op.getAccessToken();
    r.check('access token', !token.includes('.'), `opaque, ${token.length} characters: no JWKS can verify it`);
    const result = await r.accepts('verify(token)', verifier, token, (res) => {
      const { active, client_id: clientId, scope } = res.payload;
      return `active ${active}, client_id ${clientId}, scope ${scope}, header ${res.header}`;
    });
    r.check('result.issuer', result?.issuer === op.issuer, String(result?.issuer));
    const discovery = op.log.filter((e) => e.path === '/.well-known/openid-configuration').length;
    r.check(
      'endpoint from discovery',
      discovery === 1 && introspections() === 1,
      `${discovery} discovery request, ${introspections()} introspection`,
    );
    for (let i = 0; i < 3; i++) await verifier.verify(token);
    r.check('3 more verify(token)', introspections() === 1, `${introspections()} introspection in all: the answer is cached for 5 min`);

    await op.revoke(token);
    r.line('revoked (RFC 7009)', 'POST /token/revocation');
    await r.accepts('verify(token) at once', verifier, token, () => 'still accepted: its answer is younger than 5 min');
    clock.advance(5 * 60_000 + 1000);
    await r.refuses('5 min later: verify(token)', verifier, token, 'ERR_TOKEN_INACTIVE');
    await r.refuses('and again', verifier, token, 'ERR_TOKEN_INACTIVE');
    r.check('introspections', introspections() === 2, `${introspections()} in all: the inactive answer is remembered`);

    await r.refuses('verify(made-up opaque token)', verifier, 'f4k3-0paque-t0ken-nobody-issued', 'ERR_TOKEN_INACTIVE');

    const { revalidations, revalidationHits, inactive, revalidationErrors } = verifier.stats();
    r.check(
      'stats()',
      revalidations === 3 && revalidationErrors === 0,
      JSON.stringify({ revalidations, revalidationHits, inactive, revalidationErrors }),
    );
  } finally {
    verifier.close();
    await op.close();
  }
  return r.done();
}

await runAsScript(import.meta, runLocal);
