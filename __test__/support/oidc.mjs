// A real OpenID Connect provider (`oidc-provider`) on 127.0.0.1 that issues JWT access tokens through the
// client_credentials grant with a resource indicator, for discovery and end-to-end tests; one client per client
// authentication method (client_secret_basic, client_secret_post, private_key_jwt).
import Provider from 'oidc-provider';
import { generateKey } from './keys.mjs';
import { listenOnLoopback } from './jwks-server.mjs';

export const OIDC_CLIENT_ID = 'jwks-verify-test-client';
export const OIDC_CLIENT_SECRET = 'jwks-verify-test-client-secret-0123456789';
export const OIDC_AUDIENCE = 'https://api.jwks-verify.test';
export const OIDC_SCOPE = 'api:read';
/** A client_secret_post client. */
export const OIDC_POST_CLIENT_ID = 'jwks-verify-post-client';
export const OIDC_POST_CLIENT_SECRET = 'jwks-verify-post-client-secret-0123456789';
/** A client_secret_basic client whose id and secret need form encoding (RFC 6749 section 2.3.1). */
export const OIDC_ODD_CLIENT_ID = 'svc:pipeline+1';
export const OIDC_ODD_CLIENT_SECRET = 'p@ss:w0rd+/%~ &=-0123456789';
/** The private_key_jwt client (registered when `clientKeys` are given). */
export const OIDC_JWT_CLIENT_ID = 'jwks-verify-jwt-client';

/**
 * Starts the provider. Options: `alg` of the signing key (default 'RS256'; one of RS*, PS*, ES256, ES384, EdDSA),
 * `accessTokenTtl` seconds (default 300), `accessTokenFormat` ('jwt' default, or 'opaque'), `introspection`
 * (default false: true enables RFC 7662 introspection at `${issuer}/token/introspection` and RFC 7009 revocation),
 * `clientKeys` (generateKey results: their public JWKs are the keys of the private_key_jwt client
 * `OIDC_JWT_CLIENT_ID`, registered only when some are given).
 * Returns `{ issuer, tokenUrl, jwksUri, discoveryUrl, introspectionUrl, audience, signingKey, log, getAccessToken({
 * scope, resource }), revoke(token), close() }`. `log` holds `{ path, method, at }` for every request the provider
 * receives.
 */
export async function startOidcProvider({
  alg = 'RS256',
  accessTokenTtl = 300,
  accessTokenFormat = 'jwt',
  introspection = false,
  clientKeys = [],
} = {}) {
  const log = [];
  let callback = (_req, res) => {
    res.writeHead(503);
    res.end();
  };
  const { origin: issuer, close } = await listenOnLoopback((req, res) => {
    log.push({ path: new URL(req.url, 'http://127.0.0.1').pathname, method: req.method, at: Date.now() });
    callback(req, res);
  });

  const signingKey = generateKey(alg, { kid: `oidc-${alg.toLowerCase()}` });
  const client = (client_id, auth) => ({
    client_id,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    id_token_signed_response_alg: alg,
    ...auth,
  });
  const privateJwk = { ...signingKey.privateKey.export({ format: 'jwk' }), kid: signingKey.kid, alg, use: 'sig' };

  const provider = new Provider(issuer, {
    clients: [
      client(OIDC_CLIENT_ID, { client_secret: OIDC_CLIENT_SECRET, token_endpoint_auth_method: 'client_secret_basic' }),
      client(OIDC_POST_CLIENT_ID, { client_secret: OIDC_POST_CLIENT_SECRET, token_endpoint_auth_method: 'client_secret_post' }),
      client(OIDC_ODD_CLIENT_ID, { client_secret: OIDC_ODD_CLIENT_SECRET, token_endpoint_auth_method: 'client_secret_basic' }),
      ...(clientKeys.length
        ? [client(OIDC_JWT_CLIENT_ID, { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: clientKeys.map((k) => k.jwk) } })]
        : []),
    ],
    jwks: { keys: [privateJwk] },
    enabledJWA: { requestObjectSigningAlgValues: [alg], idTokenSigningAlgValues: [alg] },
    scopes: ['openid', OIDC_SCOPE],
    ttl: { ClientCredentials: accessTokenTtl },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: introspection },
      revocation: { enabled: introspection },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => OIDC_AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resourceIndicator) => ({
          scope: OIDC_SCOPE,
          audience: resourceIndicator,
          accessTokenTTL: accessTokenTtl,
          accessTokenFormat,
          jwt: { sign: { alg } },
        }),
      },
    },
  });
  // Keep test output quiet: the provider emits 'server_error' etc. as events, and logs nothing itself.
  provider.on('server_error', (_ctx, err) => {
    console.error('oidc-provider server_error:', err);
  });
  callback = provider.callback();
  const basic = `Basic ${Buffer.from(`${OIDC_CLIENT_ID}:${OIDC_CLIENT_SECRET}`).toString('base64')}`;

  return {
    issuer,
    tokenUrl: `${issuer}/token`,
    jwksUri: `${issuer}/jwks`,
    discoveryUrl: `${issuer}/.well-known/openid-configuration`,
    introspectionUrl: `${issuer}/token/introspection`,
    audience: OIDC_AUDIENCE,
    signingKey,
    log,
    provider,
    /** A fresh JWT access token from the token endpoint (client_credentials). */
    async getAccessToken({ scope = OIDC_SCOPE, resource = OIDC_AUDIENCE } = {}) {
      const body = new URLSearchParams({ grant_type: 'client_credentials', scope, resource });
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
      const json = await res.json();
      if (!res.ok || typeof json.access_token !== 'string') {
        throw new Error(`oidc token endpoint answered ${res.status}: ${JSON.stringify(json)}`);
      }
      return json.access_token;
    },
    /** Revokes a token through RFC 7009 (`POST /token/revocation`; needs `introspection: true`). */
    async revoke(token) {
      const res = await fetch(`${issuer}/token/revocation`, {
        method: 'POST',
        headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }),
      });
      if (res.status !== 200) throw new Error(`oidc revocation answered ${res.status}`);
    },
    close,
  };
}
