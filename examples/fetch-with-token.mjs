// Recipe: call an API with a client-credentials token from a TokenSource, and retry once with a new token when
// the API answers 401.
//
//   import { TokenSource } from 'jwks-verify'
//   const tokens = new TokenSource({
//     tokenUrl: 'https://id.example.com/oauth/token',
//     clientId: 'reports-pipeline',
//     clientSecret: process.env.CLIENT_SECRET,      // from the environment or a secret store: never in code or argv
//   })
//   const res = await fetchWithToken(tokens, 'https://api.example.com/orders')   // the function below
//
// Why a retry after 401: the API may refuse a token the source still holds as valid (revoked, or the provider cut
// its lifetime short); `invalidate()` drops it and the retry gets a new one. Only once: a second 401 is a real
// refusal (wrong scope or audience), and retrying again would only hammer the token endpoint.
//
// Axios, the same with two interceptors (not run here: axios is not a dependency of this package):
//
//   const api = axios.create({ baseURL: 'https://api.example.com' })
//   api.interceptors.request.use(async (config) => {
//     config.headers.set('Authorization', await tokens.authorizationHeader())
//     return config
//   })
//   api.interceptors.response.use(undefined, async (error) => {
//     const config = error.config
//     if (error.response?.status !== 401 || !config || config.retriedWithNewToken) throw error
//     config.retriedWithNewToken = true
//     tokens.invalidate()
//     return api.request(config)
//   })
//
// Running this file:
//   node examples/fetch-with-token.mjs
//     runs locally: the embedded issuer (./issuer.mjs) issues tokens, and a stand-in API on 127.0.0.1 verifies them
//     with a Verifier and refuses the first call (as if its token had been revoked), so the retry shows. Exits 1 if anything
//     is unexpected.
//   TOKEN_URL=https://id.example.com/oauth/token CLIENT_ID=… CLIENT_SECRET=… API_URL=https://api.example.com/orders \
//     node examples/fetch-with-token.mjs
//     calls your API (optional SCOPE, AUDIENCE, RESOURCE). The secret is read from the environment only.
import http from 'node:http';
import { pathToFileURL } from 'node:url';

/**
 * `fetch(url, init)` with `Authorization` from `source`; after a 401, `source.invalidate()` and one retry with a new
 * token. `init.body` must be replayable (a string, a Buffer, URLSearchParams), not a stream.
 * @param {{ authorizationHeader(): Promise<string>, invalidate(): void }} source a TokenSource
 * @param {string | URL} url
 * @param {RequestInit} [init]
 * @returns {Promise<Response>}
 */
export async function fetchWithToken(source, url, init = {}) {
  const send = async () => {
    const headers = new Headers(init.headers);
    headers.set('authorization', await source.authorizationHeader());
    return fetch(url, { ...init, headers });
  };
  const first = await send();
  if (first.status !== 401) return first;
  await first.body?.cancel();
  source.invalidate();
  return send();
}

/**
 * A stand-in API on 127.0.0.1 that accepts only bearer tokens a Verifier accepts (`verifierOptions`), answering
 * `{ path, client_id }`. With `refuseFirst`, the first call is answered 401 whatever its token (as if the token had
 * been revoked). Returns `{ url, calls, refused, close() }` (`calls` and `refused` are counters).
 */
export async function startProtectedApi(verifierOptions, { refuseFirst = false } = {}) {
  const { Verifier } = await import('jwks-verify');
  const verifier = new Verifier(verifierOptions);
  const state = { calls: 0, refused: 0 };
  const server = http.createServer(async (req, res) => {
    state.calls++;
    const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    let answer = { status: 401, body: { error: 'invalid_token' } };
    if (token && !(refuseFirst && state.calls === 1)) {
      try {
        const { payload } = await verifier.verify(token);
        answer = { status: 200, body: { path: req.url, client_id: payload.client_id } };
      } catch (err) {
        answer = { status: 401, body: { error: 'invalid_token', code: err.code } };
      }
    }
    if (answer.status === 401) state.refused++;
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answer.body));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    get calls() {
      return state.calls;
    },
    get refused() {
      return state.refused;
    },
    async close() {
      verifier.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * The local stage of the examples: the embedded issuer (./issuer.mjs, `issuerOptions`), the stand-in API trusting it
 * (`apiOptions`), a TokenSource for the issuer's client, and `check(ok, label, text)` printing one result line.
 * `finish()` closes everything, prints the verdict and returns the number of unexpected results.
 */
export async function startLocalStage({ issuerOptions = {}, apiOptions = {}, log = console.log, width = 34 } = {}) {
  const { TokenSource } = await import('jwks-verify');
  const { startIssuer, CLIENT_ID, CLIENT_SECRET } = await import('./issuer.mjs');
  const idp = await startIssuer(issuerOptions);
  const api = await startProtectedApi({ issuer: idp.issuer, jwksUri: idp.jwksUri }, apiOptions);
  const tokens = new TokenSource({ tokenUrl: idp.tokenEndpoint, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
  let unexpected = 0;
  return {
    idp,
    api,
    tokens,
    check(ok, label, text) {
      if (!ok) unexpected++;
      log(`  ${label.padEnd(width)}${ok ? '' : 'UNEXPECTED '}${text}`);
    },
    async finish() {
      tokens.close();
      await api.close();
      await idp.close();
      log(unexpected === 0 ? '\nok' : `\n${unexpected} unexpected result(s)`);
      return unexpected;
    },
  };
}

/** Run against the embedded issuer and the stand-in API. Returns the number of unexpected results. */
export async function runLocal({ log = console.log } = {}) {
  const stage = await startLocalStage({ apiOptions: { refuseFirst: true }, log });
  const { idp, api, tokens, check } = stage;
  log('fetchWithToken, run against the embedded issuer and a stand-in API on 127.0.0.1\n');
  try {
    const first = await fetchWithToken(tokens, `${api.url}/orders`);
    check(first.status === 200, 'first call', `${first.status} after a 401, invalidate() and one retry`);
    const again = await Promise.all([1, 2, 3].map((n) => fetchWithToken(tokens, `${api.url}/orders/${n}`)));
    check(
      again.every((r) => r.status === 200),
      'three more calls',
      again.map((r) => r.status).join(', '),
    );
    check(idp.tokenRequests === 2, 'token requests', `${idp.tokenRequests} (the refused token, then the one that serves)`);
    check(api.refused === 1, 'API refusals', String(api.refused));
  } catch (err) {
    check(false, 'run', `${err.code ?? 'error'}: ${err.message}`);
  }
  return stage.finish();
}

/** Call API_URL with a token from TOKEN_URL (CLIENT_ID, CLIENT_SECRET from the environment). Returns an exit code. */
export async function runWithEnvironment(env = process.env, { log = console.log } = {}) {
  const { TokenSource } = await import('jwks-verify');
  const list = (v) => (v ? v.split(/[ ,]+/).filter(Boolean) : undefined);
  const tokens = new TokenSource({
    tokenUrl: env.TOKEN_URL,
    clientId: env.CLIENT_ID,
    clientSecret: env.CLIENT_SECRET,
    ...(env.SCOPE ? { scope: list(env.SCOPE) } : {}),
    ...(env.AUDIENCE ? { audience: env.AUDIENCE } : {}),
    ...(env.RESOURCE ? { resource: list(env.RESOURCE) } : {}),
  });
  try {
    const res = await fetchWithToken(tokens, env.API_URL);
    log(`${res.status} ${env.API_URL}`);
    log((await res.text()).slice(0, 500));
    return res.ok ? 0 : 1;
  } catch (err) {
    log(`${err.code ?? 'error'}: ${err.message}`);
    return 1;
  } finally {
    tokens.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const configured = ['TOKEN_URL', 'CLIENT_ID', 'CLIENT_SECRET', 'API_URL'].filter((name) => process.env[name]);
  if (configured.length > 0 && configured.length < 4) {
    console.error('set all of TOKEN_URL, CLIENT_ID, CLIENT_SECRET and API_URL, or none (to run locally)');
    process.exit(2);
  }
  process.exit(configured.length === 4 ? await runWithEnvironment() : (await runLocal()) === 0 ? 0 : 1);
}
