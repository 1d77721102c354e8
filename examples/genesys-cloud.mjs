// Recipe: accept Genesys Cloud access tokens.
//
// In your service (the exact options; nothing else is needed):
//
//   import { Verifier } from 'jwks-verify'
//   const verifier = new Verifier({
//     issuer: 'https://api.mypurecloud.com/',                // `iss` of Genesys Cloud JWTs, trailing slash included
//     jwksUri: 'https://login.mypurecloud.com/oauth2/jwks',  // Genesys publishes no discovery document: name the JWKS
//     revalidate: {
//       endpoint: 'https://api.mypurecloud.com/api/v2/tokens/me?preserveIdleTTL=true',
//       opaque: true,                                       // its access tokens are not JWTs
//     },
//   })
//   const { payload } = await verifier.verify(token)        // payload: what tokens/me says about the token
//
// Genesys Cloud access tokens are opaque strings, not JWTs: no key can verify them, only Genesys
// can say whether one is live. `revalidate.opaque` accepts such a token on the word of
// `GET /api/v2/tokens/me` with the token as `Authorization: Bearer`: 2xx is live and its JSON body
// becomes `payload` (the organization, `OAuthClient`, `authorizedScope`, ...), `header` is null;
// 401/403 is ERR_TOKEN_INACTIVE (answered 401); anything else is ERR_REVALIDATION_FAILED (answered
// 503 with Retry-After; 429s are obeyed, with Genesys' `inin-ratelimit-reset` header). The answer
// is cached per token (under its SHA-256) for `interval`, default 5 minutes, so a busy token costs
// Genesys one call per 5 minutes; past 80% of that the next request refreshes it in the background.
//
// `preserveIdleTTL=true` matters: an org can log users out after a period of inactivity, and every
// API call made with a token counts as activity. Without it each check by this verifier would
// reset the token's idle timeout, so an idle agent's token would never expire.
//
// Genesys Cloud also publishes signing keys, as `x5c` certificates, at login.{region}/oauth2/jwks.
// A token that is a JWS is checked against them first (signature, `iss`, `exp`; a forged one is
// refused without a call to Genesys) and then asked about like any other. jwks-verify takes each
// public key from the first certificate itself (do not wrap the base64 in a PUBLIC KEY header
// yourself, as snippets on the internet do: that is not a public key and fails).
//
// Regions: the login host (keys, tokens) and the api host (issuer, tokens/me) vary per region. Use
// `genesysCloudOptions(region)` below with the domain of your org's region:
//   mypurecloud.com     US East (default)        usw2.pure.cloud         US West (Oregon)
//   use2.us-gov-pure.cloud  US East 2 (FedRAMP)  cac1.pure.cloud         Canada
//   sae1.pure.cloud     South America (Sao Paulo)
//   mypurecloud.ie      EU (Ireland)             euw2.pure.cloud         EU (London)
//   mypurecloud.de      EU (Frankfurt)           euc2.pure.cloud         EU (Zurich)
//   mec1.pure.cloud     Middle East (UAE)        aps1.pure.cloud         Asia Pacific (Mumbai)
//   mypurecloud.jp      Asia Pacific (Tokyo)     apne3.pure.cloud        Asia Pacific (Osaka)
//   apne2.pure.cloud    Asia Pacific (Seoul)     mypurecloud.com.au      Asia Pacific (Sydney)
// -> jwksUri https://login.<region>/oauth2/jwks, issuer https://api.<region>/,
//    endpoint https://api.<region>/api/v2/tokens/me?preserveIdleTTL=true .
// Genesys adds regions from time to time: check its list of region domains.
//
// Running this file (`node examples/genesys-cloud.mjs`, same with `--local`) never contacts Genesys
// Cloud: it starts the embedded issuer from ./issuer.mjs with x5c-only keys, opaque access tokens
// and a tokens/me endpoint of Genesys' shape, replaces the URLs by the local ones, obtains a token
// by client credentials (as a Genesys client-credentials app would) and verifies it with the same
// options; then a revoked token, a JWS signed with the x5c keys and one whose `iss` lacks the
// trailing slash. It exits 1 if anything is unexpected.
import { startIssuer, CLIENT_ID, CLIENT_SECRET } from './issuer.mjs';
import { report, runAsScript } from './recipe.mjs';

/** Region domains of Genesys Cloud (see the comment above; not exhaustive). */
export const GENESYS_REGIONS = Object.freeze([
  'mypurecloud.com',
  'usw2.pure.cloud',
  'use2.us-gov-pure.cloud',
  'cac1.pure.cloud',
  'sae1.pure.cloud',
  'mypurecloud.ie',
  'euw2.pure.cloud',
  'mypurecloud.de',
  'euc2.pure.cloud',
  'mec1.pure.cloud',
  'aps1.pure.cloud',
  'mypurecloud.jp',
  'apne3.pure.cloud',
  'apne2.pure.cloud',
  'mypurecloud.com.au',
]);

/**
 * Verifier options for Genesys Cloud tokens of one region.
 * @param {string} [region] the region domain, default 'mypurecloud.com' (US East)
 */
export function genesysCloudOptions(region = 'mypurecloud.com') {
  return {
    issuer: `https://api.${region}/`,
    jwksUri: `https://login.${region}/oauth2/jwks`,
    revalidate: { endpoint: `https://api.${region}/api/v2/tokens/me?preserveIdleTTL=true`, opaque: true },
  };
}

/** The options for the default region (US East), as you would pass them to `new Verifier(...)`. */
export const genesysCloud = Object.freeze(genesysCloudOptions());

/** An access token from the embedded issuer's token endpoint, as a Genesys client-credentials app gets one. */
async function clientCredentialsToken(idp, scope) {
  const response = await fetch(idp.tokenEndpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }),
  });
  return (await response.json()).access_token;
}

/** Run the recipe against the embedded issuer. Returns the number of unexpected results. */
export async function runLocal({ log = console.log } = {}) {
  const { Verifier } = await import('jwks-verify'); // this package itself (loaded here, not at import)
  const r = report(log);

  // Genesys-like: x5c-only keys, an issuer ending with '/', opaque access tokens, no discovery used.
  const idp = await startIssuer({ alg: 'RS256', x5cOnly: true, trailingSlash: true, opaqueTokens: true });
  const endpoint = new URL(genesysCloud.revalidate.endpoint);
  const options = {
    issuer: idp.issuer,
    jwksUri: idp.jwksUri,
    revalidate: { ...genesysCloud.revalidate, endpoint: `${idp.tokensMeUrl}${endpoint.search}` },
  };
  log('Genesys Cloud recipe, run against the embedded issuer (Genesys Cloud is not contacted)\n');
  r.line('real options', JSON.stringify(genesysCloud));
  r.line('local options', JSON.stringify(options));
  r.line('published key members', Object.keys(idp.keys.keys[0]).join(', '));

  const verifier = new Verifier(options);
  const calls = () => idp.validationLog.length;
  try {
    const token = await clientCredentialsToken(idp, 'conversations users:readonly');
    r.check('access token', !token.includes('.'), `opaque, ${token.length} characters, no dots: not a JWT`);
    const result = await r.accepts('verify(token)', verifier, token, (res) => {
      const { OAuthClient: client, authorizedScope: scope } = res.payload;
      return `client ${client.id}, scope ${scope.join(' ')}, header ${res.header}, issuer ${res.issuer}`;
    });
    r.check('result', result?.header === null && result?.issuer === idp.issuer, 'header null, issuer the configured one');
    const asked = idp.validationLog[0];
    r.check(
      'tokens/me asked',
      calls() === 1 && asked?.query === '?preserveIdleTTL=true',
      `${calls()} time(s), ${asked?.method} ${asked?.path}${asked?.query}`,
    );
    for (let i = 0; i < 3; i++) await verifier.verify(token);
    r.check('3 more verify(token)', calls() === 1, `tokens/me asked ${calls()} time(s) in all: the answer is cached for 5 min`);

    // A token Genesys no longer accepts (revoked, or its idle timeout ran out): tokens/me says 401.
    const revoked = await clientCredentialsToken(idp, 'conversations');
    idp.revoke(revoked);
    await r.refuses('verify(revoked token)', verifier, revoked, 'ERR_TOKEN_INACTIVE');

    // A JWS is verified against the published x5c keys, then asked about like any token.
    const jws = idp.sign({ sub: 'agent-7' });
    await r.accepts('verify(JWS signed by x5c key)', verifier, jws, (res) => `sub ${res.payload.sub}, kid ${res.header.kid}`);

    // The issuer must match exactly: a token whose `iss` lacks the trailing slash is refused.
    const before = calls();
    await r.refuses('iss without trailing slash', verifier, idp.sign({ iss: idp.origin }), 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'iss');
    r.check('  tokens/me calls for it', calls() === before, `${calls() - before} (refused before any call)`);
  } finally {
    verifier.close();
    await idp.close();
  }
  return r.done();
}

await runAsScript(import.meta, runLocal);
