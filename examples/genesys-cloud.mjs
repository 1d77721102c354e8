// Recipe: verify Genesys Cloud access tokens.
//
// In your service (the exact options; nothing else is needed):
//
//   import { Verifier } from 'jwks-verify'
//   const verifier = new Verifier({
//     issuer: 'https://api.mypurecloud.com/',                // `iss` of Genesys Cloud tokens, trailing slash included
//     jwksUri: 'https://login.mypurecloud.com/oauth2/jwks',  // Genesys publishes no discovery document: name the JWKS
//   })
//   const { payload } = await verifier.verify(token)        // payload.client_id, payload.scope, payload.sub, ...
//
// Genesys Cloud publishes its keys with an `x5c` certificate chain; jwks-verify takes the public key
// from the first certificate itself (do not wrap the base64 in a PUBLIC KEY header yourself, as
// snippets on the internet do: that is not a public key and fails).
//
// Regions: the login host (keys, tokens) and the api host (issuer) vary per region. Use
// `genesysCloudOptions(region)` below with the domain of your org's region, for example:
//   mypurecloud.com     US East (default)        usw2.pure.cloud     US West (Oregon)
//   cac1.pure.cloud     Canada                   sae1.pure.cloud     South America (Sao Paulo)
//   mypurecloud.ie      EU (Ireland)             euw2.pure.cloud     EU (London)
//   mypurecloud.de      EU (Frankfurt)           aps1.pure.cloud     Asia Pacific (Mumbai)
//   mypurecloud.jp      Asia Pacific (Tokyo)     apne2.pure.cloud    Asia Pacific (Seoul)
//   mypurecloud.com.au  Asia Pacific (Sydney)
// -> jwksUri https://login.<region>/oauth2/jwks, issuer https://api.<region>/ .
// Genesys adds regions from time to time: check its list of region domains, and compare the
// `iss` of one of your own tokens with the issuer you configure (it must match exactly).
//
// Running this file (`node examples/genesys-cloud.mjs`, same with `--local`) never contacts Genesys
// Cloud: it starts the embedded issuer from ./issuer.mjs with x5c-only keys, replaces the two URLs
// by the local ones, obtains a token by client credentials (as a Genesys client-credentials app
// would) and verifies it with the same options. It exits 1 if anything is unexpected.
import { pathToFileURL } from 'node:url';
import { startIssuer } from './issuer.mjs';

/** Region domains of Genesys Cloud (see the comment above; not exhaustive). */
export const GENESYS_REGIONS = Object.freeze([
  'mypurecloud.com',
  'usw2.pure.cloud',
  'cac1.pure.cloud',
  'sae1.pure.cloud',
  'mypurecloud.ie',
  'euw2.pure.cloud',
  'mypurecloud.de',
  'aps1.pure.cloud',
  'mypurecloud.jp',
  'apne2.pure.cloud',
  'mypurecloud.com.au',
]);

/**
 * Verifier options for Genesys Cloud tokens of one region.
 * @param {string} [region] the region domain, default 'mypurecloud.com' (US East)
 * @returns {{ issuer: string, jwksUri: string }}
 */
export function genesysCloudOptions(region = 'mypurecloud.com') {
  return {
    issuer: `https://api.${region}/`,
    jwksUri: `https://login.${region}/oauth2/jwks`,
  };
}

/** The options for the default region (US East), as you would pass them to `new Verifier(...)`. */
export const genesysCloud = Object.freeze(genesysCloudOptions());

/** Run the recipe against the embedded issuer. Returns the number of unexpected results. */
export async function runLocal({ log = console.log } = {}) {
  const { Verifier } = await import('jwks-verify'); // this package itself (loaded here, not at import)
  let unexpected = 0;
  const line = (label, text) => log(`  ${label.padEnd(30)}${text}`);

  // Genesys-like: x5c-only keys, an issuer ending with '/', no discovery used.
  const idp = await startIssuer({ alg: 'RS256', x5cOnly: true, trailingSlash: true });
  const options = { ...genesysCloud, issuer: idp.issuer, jwksUri: idp.jwksUri };
  log('Genesys Cloud recipe, run against the embedded issuer (Genesys Cloud is not contacted)\n');
  line('real options', JSON.stringify(genesysCloud));
  line('local options', JSON.stringify(options));
  line('published key members', Object.keys(idp.keys.keys[0]).join(', '));

  const verifier = new Verifier(options);
  try {
    // A client-credentials token, as a Genesys OAuth client would obtain it.
    const response = await fetch(idp.tokenEndpoint, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from('demo:demo-secret').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials&scope=conversations',
    });
    const { access_token: token } = await response.json();
    try {
      const { payload, header } = await verifier.verify(token);
      line('verify(token)', `ok  client_id ${payload.client_id}, scope ${payload.scope}, kid ${header.kid}`);
    } catch (err) {
      unexpected++;
      line('verify(token)', `UNEXPECTED ${err.code}: ${err.message}`);
    }

    // The issuer must match exactly: a token whose `iss` lacks the trailing slash is refused.
    try {
      await verifier.verify(idp.sign({ iss: idp.origin }));
      unexpected++;
      line('iss without trailing slash', 'UNEXPECTED: accepted');
    } catch (err) {
      const ok = err.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && err.claim === 'iss';
      if (!ok) unexpected++;
      line('iss without trailing slash', `${ok ? 'rejected' : 'UNEXPECTED'} ${err.code} (claim ${err.claim})`);
    }
  } finally {
    verifier.close();
    await idp.close();
  }
  log(unexpected === 0 ? '\nok' : `\n${unexpected} unexpected result(s)`);
  return unexpected;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const extra = process.argv.slice(2).filter((a) => a !== '--local');
  if (extra.length) console.log(`(ignoring ${extra.join(' ')}: this example only runs against the embedded issuer)\n`);
  process.exit((await runLocal()) === 0 ? 0 : 1);
}
