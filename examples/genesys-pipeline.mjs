// Recipe: a backend pipeline that calls the Genesys Cloud Platform API with its own OAuth client
// (client credentials grant).
//
// In your pipeline:
//
//   import { TokenSource } from 'jwks-verify'
//   const tokens = new TokenSource({
//     tokenUrl: 'https://login.mypurecloud.com/oauth/token',   // login.<region>: see the table below
//     clientId: process.env.GENESYS_CLIENT_ID,
//     clientSecret: process.env.GENESYS_CLIENT_SECRET,          // from the environment or a secret store
//   })
//   const res = await fetch('https://api.mypurecloud.com/api/v2/organizations/me', {   // api.<region>
//     headers: { authorization: await tokens.authorizationHeader() },
//   })
//
// What the source does that the usual snippets don't: Genesys tokens live a day (`expires_in` 86399), so the
// source asks once a day, not once per job; it refreshes 60 s before expiry in the background while jobs keep the
// current token; however many jobs start at once, one request is made; a failing or rate-limited token endpoint
// (429 with `Retry-After`, or Genesys' `inin-ratelimit-reset`) is backed off, never hammered.
//
// Limits: Genesys allows 300 API requests per minute per token (the `inin-ratelimit-*` headers say how many are
// left). The API's own 429s are yours to honour: `callApi` below waits `Retry-After` and retries once; keep the
// number of jobs in flight small (`concurrency`).
//
// Regions: tokens from https://login.<region>/oauth/token, API calls to https://api.<region>, with <region> one of
// GENESYS_REGIONS of ./genesys-cloud.mjs (named there: mypurecloud.com US East, mypurecloud.ie EU Ireland,
// mypurecloud.de EU Frankfurt, ...); `genesysRegionTable()` below lists both URLs per region, and the local run
// prints it.
//
// Running this file:
//   node examples/genesys-pipeline.mjs
//     runs locally, never contacting Genesys: the embedded issuer (./issuer.mjs) stands in for the login host and
//     a stand-in API on 127.0.0.1 for the api host; 20 jobs, 5 at a time, one token request. Exits 1 if anything
//     is unexpected.
//   GENESYS_REGION=mypurecloud.ie GENESYS_CLIENT_ID=… GENESYS_CLIENT_SECRET=… node examples/genesys-pipeline.mjs
//     calls GET https://api.<region>/api/v2/organizations/me with your client (its role needs permission to read
//     the organization). The secret is read from the environment only.
import { pathToFileURL } from 'node:url';
import { GENESYS_REGIONS } from './genesys-cloud.mjs';
import { fetchWithToken, startLocalStage } from './fetch-with-token.mjs';

/** Longest wait for the API's `Retry-After` before the one retry, in seconds. */
const MAX_RETRY_AFTER = 60;

/**
 * TokenSource options for a Genesys Cloud OAuth client (client credentials) of one region.
 * @param {string} region a region domain, e.g. 'mypurecloud.com' (US East) or 'mypurecloud.ie'
 * @param {{ clientId: string, clientSecret: string }} client
 */
export function genesysTokenSourceOptions(region, { clientId, clientSecret }) {
  if (!GENESYS_REGIONS.includes(region)) {
    console.warn(`${region} is not in GENESYS_REGIONS (./genesys-cloud.mjs): check the region domain of your org`);
  }
  return { tokenUrl: genesysTokenUrl(region), clientId, clientSecret };
}

/** The token endpoint of a region: `https://login.<region>/oauth/token`. */
export const genesysTokenUrl = (region) => `https://login.${region}/oauth/token`;

/** The API base URL of a region: `https://api.<region>`. */
export const genesysApiBase = (region) => `https://api.${region}`;

/** `{ region, tokenUrl, apiBase }` for every region of GENESYS_REGIONS. */
export const genesysRegionTable = () =>
  GENESYS_REGIONS.map((region) => ({ region, tokenUrl: genesysTokenUrl(region), apiBase: genesysApiBase(region) }));

/**
 * GET `apiBase + path` with the source's token (a 401 gets one retry with a new token); a 429 waits `Retry-After`
 * (at most MAX_RETRY_AFTER seconds) and is retried once. Resolves the parsed JSON body; rejects on another status.
 */
export async function callApi(tokens, apiBase, path) {
  const url = `${apiBase}${path}`;
  let res = await fetchWithToken(tokens, url);
  if (res.status === 429) {
    const wait = Math.min(Number(res.headers.get('retry-after')) || 1, MAX_RETRY_AFTER);
    await res.body?.cancel();
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    res = await fetchWithToken(tokens, url);
  }
  if (!res.ok) throw new Error(`GET ${url} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
  return res.json();
}

/** Runs `paths` as jobs, `concurrency` at a time; resolves `{ path, result | error }` per job, in order. */
export async function runPipeline(tokens, apiBase, paths, { concurrency = 5 } = {}) {
  const outcomes = new Array(paths.length);
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const i = next++;
      try {
        outcomes[i] = { path: paths[i], result: await callApi(tokens, apiBase, paths[i]) };
      } catch (error) {
        outcomes[i] = { path: paths[i], error };
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return outcomes;
}

/** The pipeline against the embedded issuer and a stand-in API. Returns the number of unexpected results. */
export async function runLocal({ log = console.log } = {}) {
  // A Genesys-like issuer (https://api.<region>/ ends with a slash); the source uses the local login host and client.
  const stage = await startLocalStage({ issuerOptions: { trailingSlash: true }, log, width: 24 });
  const { idp, api, tokens, check } = stage;
  const real = genesysTokenSourceOptions('mypurecloud.com', { clientId: 'your-client-id', clientSecret: '(from the environment)' });
  log('Genesys Cloud pipeline, run against the embedded issuer and a stand-in API (Genesys Cloud is not contacted)\n');
  log(`  ${'real token URL'.padEnd(24)}${real.tokenUrl}`);
  for (const row of genesysRegionTable()) log(`  ${row.region.padEnd(24)}${row.tokenUrl}  ${row.apiBase}`);
  log('');
  try {
    const paths = Array.from({ length: 20 }, (_, i) => `/api/v2/routing/queues/${i + 1}`);
    const outcomes = await runPipeline(tokens, api.url, paths, { concurrency: 5 });
    const failed = outcomes.filter((o) => o.error);
    check(
      failed.length === 0,
      'jobs',
      `${outcomes.length - failed.length} of ${outcomes.length} ok${failed.length ? `: ${failed[0].error.message}` : ''}`,
    );
    check(idp.tokenRequests === 1, 'token requests', `${idp.tokenRequests} for ${api.calls} API calls`);
    const { expiresAt } = await tokens.getToken();
    check(expiresAt > Date.now(), 'token expires', new Date(expiresAt).toISOString());
  } catch (err) {
    check(false, 'run', `${err.code ?? 'error'}: ${err.message}`);
  }
  return stage.finish();
}

/** One call with your own Genesys client: GENESYS_REGION, GENESYS_CLIENT_ID, GENESYS_CLIENT_SECRET. */
async function runWithGenesys(env) {
  const { TokenSource } = await import('jwks-verify');
  const region = env.GENESYS_REGION || 'mypurecloud.com';
  const tokens = new TokenSource(
    genesysTokenSourceOptions(region, { clientId: env.GENESYS_CLIENT_ID, clientSecret: env.GENESYS_CLIENT_SECRET }),
  );
  try {
    const org = await callApi(tokens, genesysApiBase(region), '/api/v2/organizations/me');
    console.log(`organization: ${org.name} (${org.id})`);
    return 0;
  } catch (err) {
    console.error(`${err.code ?? 'error'}: ${err.message}`);
    return 1;
  } finally {
    tokens.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const real = process.env.GENESYS_CLIENT_ID && process.env.GENESYS_CLIENT_SECRET;
  process.exit(real ? await runWithGenesys(process.env) : (await runLocal()) === 0 ? 0 : 1);
}
