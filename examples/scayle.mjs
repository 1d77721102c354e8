// Recipe: verify SCAYLE Authentication API access tokens.
//
// In your service:
//
//   import { Verifier } from 'jwks-verify'
//   const tenant = 'acme'                                        // your SCAYLE tenant space
//   const verifier = new Verifier({
//     issuer: process.env.SCAYLE_ISSUER,                         // the exact `iss` of your SCAYLE tokens
//     jwksUri: `https://${tenant}.auth.scayle.cloud/.well-known/jwks.json`,
//     cache: { maxAge: '10m' },                                  // SCAYLE: cache its JWKS for at most 10 minutes
//   })
//   const { payload } = await verifier.verify(token)
//
// `cache.maxAge: '10m'` is also this library's default (600 s); it is written out because SCAYLE
// asks for it: whatever `Cache-Control` the endpoint sends, keys are refetched after 10 minutes at
// the latest (refresh starts in the background at 90%, so requests do not wait for it).
//
// SCAYLE also asks services to call its token validation endpoint
// (`https://{tenant}.auth.scayle.cloud/v1/oauth/token/validate`) at least once every 5 minutes per
// access token, because tokens can be revoked before they expire. jwks-verify checks the signature
// and claims only: token revalidation is a planned feature and not in the library yet, so until
// then make that call yourself (for example, remember per token when you last validated it).
//
// Running this file (`node examples/scayle.mjs`, same with `--local`) never contacts SCAYLE: it
// starts the embedded issuer from ./issuer.mjs, which announces `Cache-Control: max-age=86400`,
// replaces the URL by the local one, verifies a token with the same options and shows that the
// keys are kept for 10 minutes, not a day. It exits 1 if anything is unexpected.
import { pathToFileURL } from 'node:url';
import { startIssuer } from './issuer.mjs';

/**
 * Verifier options for SCAYLE tokens of one tenant space.
 * @param {string} tenant  the tenant space, as in `https://{tenant}.auth.scayle.cloud`
 * @param {string} issuer  the exact `iss` your SCAYLE tokens carry (look at one of your tokens)
 * @returns {{ issuer: string, jwksUri: string, cache: { maxAge: '10m' } }}
 */
export function scayleOptions(tenant, issuer) {
  if (!/^[a-z0-9-]+$/i.test(String(tenant))) throw new TypeError(`scayleOptions: invalid tenant space ${tenant}`);
  return {
    issuer,
    jwksUri: `https://${tenant}.auth.scayle.cloud/.well-known/jwks.json`,
    cache: { maxAge: '10m' },
  };
}

/** The token validation endpoint SCAYLE asks to call at least every 5 minutes per token. */
export const scayleValidateUrl = (tenant) => `https://${tenant}.auth.scayle.cloud/v1/oauth/token/validate`;

/** Run the recipe against the embedded issuer. Returns the number of unexpected results. */
export async function runLocal({ log = console.log } = {}) {
  const { Verifier } = await import('jwks-verify'); // this package itself (loaded here, not at import)
  let unexpected = 0;
  const line = (label, text) => log(`  ${label.padEnd(30)}${text}`);

  const idp = await startIssuer({ alg: 'RS256', cacheControl: 'max-age=86400' });
  const real = scayleOptions('your-tenant', '<the iss of your tokens>');
  const options = { ...real, issuer: idp.issuer, jwksUri: idp.jwksUri };
  log('SCAYLE recipe, run against the embedded issuer (SCAYLE is not contacted)\n');
  line('real options', JSON.stringify(real));
  line('local options', JSON.stringify(options));
  line('JWKS Cache-Control', 'max-age=86400 (a day; SCAYLE wants 10 minutes at most)');

  const verifier = new Verifier(options);
  try {
    try {
      const { payload, header } = await verifier.verify(idp.sign({ sub: 'customer-42', scope: 'checkout' }));
      line('verify(token)', `ok  sub ${payload.sub}, scope ${payload.scope}, kid ${header.kid}`);
    } catch (err) {
      unexpected++;
      line('verify(token)', `UNEXPECTED ${err.code}: ${err.message}`);
    }

    const health = verifier.health()[0];
    const lifetime = health && typeof health.expiresAt === 'number' && typeof health.fetchedAt === 'number'
      ? (health.expiresAt - health.fetchedAt) / 1000
      : NaN;
    const ok = lifetime === 600;
    if (!ok) unexpected++;
    line('keys kept for', `${lifetime} s ${ok ? '(cache.maxAge 10m caps the endpoint\'s max-age)' : 'UNEXPECTED, expected 600 s'}`);
    line('revalidation', 'not in jwks-verify yet: call /v1/oauth/token/validate every 5 min per token');
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
