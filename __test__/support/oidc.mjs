// A real OpenID Connect provider (`oidc-provider`) on 127.0.0.1 that issues JWT access tokens through the
// client_credentials grant with a resource indicator, for discovery and end-to-end tests.
import Provider from 'oidc-provider';
import { generateKey } from './keys.mjs';
import { listenOnLoopback } from './jwks-server.mjs';

export const OIDC_CLIENT_ID = 'jwks-verify-test-client';
export const OIDC_CLIENT_SECRET = 'jwks-verify-test-client-secret-0123456789';
export const OIDC_AUDIENCE = 'https://api.jwks-verify.test';
export const OIDC_SCOPE = 'api:read';

/**
 * Starts the provider. Options: `alg` of the signing key (default 'RS256'; one of RS*, PS*, ES256, ES384, EdDSA),
 * `accessTokenTtl` seconds (default 300), `accessTokenFormat` ('jwt' default, or 'opaque'), `introspection`
 * (default false: true enables RFC 7662 introspection at `${issuer}/token/introspection` and RFC 7009 revocation).
 * Returns `{ issuer, jwksUri, discoveryUrl, introspectionUrl, audience, signingKey, log, getAccessToken({ scope,
 * resource }), revoke(token), close() }`. `log` holds `{ path, method, at }` for every request the provider receives.
 */
export async function startOidcProvider({ alg = 'RS256', accessTokenTtl = 300, accessTokenFormat = 'jwt', introspection = false } = {}) {
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
  const privateJwk = { ...signingKey.privateKey.export({ format: 'jwk' }), kid: signingKey.kid, alg, use: 'sig' };

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: OIDC_CLIENT_ID,
        client_secret: OIDC_CLIENT_SECRET,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: alg,
      },
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
