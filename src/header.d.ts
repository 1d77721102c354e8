/* Types shared by the API below. Generated declarations follow this header. */

export type Algorithm =
  | 'RS256'
  | 'RS384'
  | 'RS512'
  | 'PS256'
  | 'PS384'
  | 'PS512'
  | 'ES256'
  | 'ES384'
  | 'ES512'
  | 'EdDSA'
  | 'Ed25519' // Ed25519: RFC 9864's fully-specified name, verified like EdDSA
  | 'HS256'
  | 'HS384'
  | 'HS512'

/** Seconds, or a string with a unit: `'500ms'`, `'30s'`, `'10m'`, `'1h'`, `'1d'`. */
export type Duration = number | `${number}ms` | `${number}s` | `${number}m` | `${number}h` | `${number}d`

/** A JSON Web Key (public members; `oct` only in a local `keys` set). */
export interface JWK {
  kty: 'RSA' | 'EC' | 'OKP' | 'oct' | (string & {})
  kid?: string
  alg?: string
  use?: string
  key_ops?: string[]
  n?: string
  e?: string
  crv?: string
  x?: string
  y?: string
  k?: string
  x5c?: string[]
  [member: string]: unknown
}

export interface JwtPayload {
  iss?: string
  sub?: string
  aud?: string | string[]
  exp?: number
  nbf?: number
  iat?: number
  jti?: string
  [claim: string]: unknown
}

export interface JwsHeader {
  alg: Algorithm
  kid?: string
  typ?: string
  [parameter: string]: unknown
}

/** The result of a JWS token. */
export interface JwsVerifyResult<T = JwtPayload> {
  /** The payload: a fresh object on every call (deeply frozen, and shared by repeats, with `results: 'frozen'`). */
  payload: T
  /** The protected header: a fresh object on every call (deeply frozen with `results: 'frozen'`). */
  header: JwsHeader
  /** The configured issuer that matched (the token's `iss` when `iss` is not checked). */
  issuer: string
}

/**
 * The result of an opaque token (`revalidate.opaque: true`): validated by the issuer's endpoint alone.
 * `payload` is the introspection answer, or the bearer endpoint's JSON object body, or `{}`.
 */
export interface OpaqueVerifyResult<T = JwtPayload> {
  payload: T
  /** An opaque token has no header. */
  header: null
  /** The configured issuer, or null when the options name none. */
  issuer: string | null
}

/**
 * What `verify` resolves. Without `revalidate.opaque` it is always a `JwsVerifyResult`; with it, narrow with
 * `result.header !== null`.
 */
export type VerifyResult<T = JwtPayload> = JwsVerifyResult<T> | OpaqueVerifyResult<T>

/**
 * Token liveness (`revalidate`): after a JWS token verifies, the issuer's validation endpoint must say it is
 * still live (tokens get revoked). Give exactly one of `introspection` and `endpoint`.
 */
export interface RevalidateOptions {
  /** RFC 7662 introspection with client_secret_basic. */
  introspection?: {
    /** Default: `introspection_endpoint` from the issuer's discovery document. */
    endpoint?: string
    clientId: string
    clientSecret: string
  }
  /**
   * A bearer validation endpoint (SCAYLE `…/v1/oauth/token/validate`, Genesys Cloud
   * `…/api/v2/tokens/me?preserveIdleTTL=true`): the token goes as `Authorization: Bearer <token>`;
   * 2xx = active, 401/403 = inactive, anything else = an endpoint failure.
   */
  endpoint?: string
  /** For `endpoint`. Default 'GET'. */
  method?: 'GET' | 'HEAD' | 'POST'
  /** How long one 'active' answer is trusted. Default '5m'; 0 = ask on every verification. */
  interval?: Duration
  /** How far past `interval` an 'active' answer may still serve while the endpoint fails. Default 0. */
  staleIfError?: Duration
  /** Accept tokens that are not a JWS, on the endpoint's word alone. Default false. */
  opaque?: boolean
  /** Answers remembered (LRU). Default 100000. */
  maxEntries?: number
}

export interface IssuerOptions {
  /** The exact `iss` value accepted. */
  issuer: string
  /** Default: `jwks_uri` from `${issuer}/.well-known/openid-configuration`. */
  jwksUri?: string
  /** The token's `aud` must contain one of these. Default: not checked. */
  audience?: string | string[]
  /** Default: every asymmetric algorithm. */
  algorithms?: Algorithm[]
  /** Token liveness for this issuer (on the top level: for every issuer without its own). */
  revalidate?: RevalidateOptions
}

/**
 * Fleet-wide shared state on Redis: JWKS and discovery documents, revalidation answers, one provider call per
 * refresh for the whole fleet, the provider's Retry-After. In-process caches stay first; Redis is a hint (every
 * entry is authenticated with `secret`), and Redis down, slow or refusing never fails a verification.
 */
export interface SharedOptions {
  /** `'redis://host:6379/0'`, or `'rediss://…'` for TLS. */
  redis: string
  /** At least 32 bytes: entries are authenticated (HMAC) and secrets encrypted with keys derived from it. */
  secret: string | Uint8Array
  /** Prefix of every Redis key. Default 'jwks-verify'. */
  prefix?: string
  /** Longest time one Redis call may take. Default '50ms'. */
  timeout?: Duration
}

export interface CacheOptions {
  /** Longest time keys are used without a refetch. Default 600 s. */
  maxAge?: Duration
  /** Least time between refetches caused by an unknown `kid`; longest backoff. Default 30 s. */
  cooldown?: Duration
  /** How long the last good keys serve while the endpoint fails. Default 24 h. */
  maxStale?: Duration
}

export interface HttpOptions {
  /** Connect plus the whole response. Default 5 s. */
  timeout?: Duration
  /** Extra request headers. */
  headers?: Record<string, string>
  /** Largest response body accepted. Default 1 MiB. */
  maxBytes?: number
  /** Allow plain http to non-loopback hosts. Default false (loopback is always allowed). */
  allowHttp?: boolean
  /** Extra trusted CA certificates (PEM). */
  ca?: string
}

/** What `logger` needs: `console`, pino and Fastify's `request.log` fit. */
export interface Logger {
  warn(message: string): void
  info(message: string): void
  error?(message: string): void
}

export interface VerifierOptions extends Partial<IssuerOptions> {
  /** Several issuers in one verifier; the token's `iss` picks one. */
  issuers?: IssuerOptions[]
  /** A local key set (no fetching). */
  keys?: { keys: JWK[] }
  /** HS* secret; only with an HS* algorithm in `algorithms`. */
  secret?: string | Uint8Array
  /** Default 0. */
  clockTolerance?: Duration
  /** `iat` must be within this age. */
  maxTokenAge?: Duration
  /** Default `['exp']`; setting it replaces the default. */
  requiredClaims?: string[]
  subject?: string
  /** e.g. `'at+jwt'` (case-insensitive, `application/` optional). */
  typ?: string
  /** Default 16384 characters. */
  maxTokenLength?: number
  cache?: CacheOptions
  http?: HttpOptions
  /** Verified tokens remembered (LRU). Default 10000; `false` or 0 turns it off. */
  tokenCache?: number | false
  /**
   * What `verify` and `verifySync` hand back. `'fresh'`: a new, unfrozen object on every call (change it as you
   * like). `'frozen'`: deeply frozen objects (result, `payload`, `header` and everything in them; changing one
   * throws a TypeError in strict mode), and a token verified before gets the very same object back from a cache in
   * JS, the fastest path (up to `tokenCache` results; still checked against `exp`, `maxTokenAge`, the token cache's
   * `cache.maxAge` and the current keys; not used with `revalidate`). Default `'fresh'`.
   */
  results?: 'fresh' | 'frozen'
  /** Called on the JS thread; exceptions thrown here are swallowed. */
  onEvent?: (event: VerifierEvent) => void
  /**
   * Where key-source changes are logged, one line per change (failing, stale, recovered, rotated, unusable keys):
   * anything with `warn` and `info` (`console`, a pino logger, a Fastify `request.log`). Default: one
   * `console.warn` line per change; `false` turns it off. Lines never carry a token or a secret.
   */
  logger?: Logger | false
  /** Share keys, discovery documents and revalidation answers with the rest of the fleet through Redis. */
  shared?: SharedOptions
}

/**
 * What a Verifier reports through `onEvent`: key-set events, revalidation events, and the shared tier's outage
 * and recovery. Narrow on `type` (and `'shared' in event` for the shared tier's 'warning' / 'info').
 */
export type VerifierEvent = KeySetEvent | RevalidateEvent | SharedTierEvent

/** The shared tier (`shared`): Redis failed ('warning', once per outage) or is back ('info'). */
export interface SharedTierEvent {
  type: 'warning' | 'info'
  shared: true
  /** The Redis URL, without credentials. */
  endpoint: string
  error?: { code: ErrorCode; message: string }
}

/** An event of a key cache (shared by every Verifier that names the JWKS). */
export interface KeySetEvent {
  type: 'fetch' | 'rotate' | 'stale' | 'error' | 'warning'
  jwksUri: string
  issuer?: string
  status?: number
  durationMs?: number
  kids?: string[]
  added?: string[]
  removed?: string[]
  error?: { code: ErrorCode; message: string }
}

/** A validation endpoint answered (or failed) about a token (`revalidate`). Never carries the token. */
export interface RevalidateEvent {
  type: 'revalidate'
  /** The endpoint asked. */
  endpoint: string
  issuer?: string
  status?: number
  durationMs?: number
  /** The endpoint's verdict, when it gave one. */
  active?: boolean
  error?: { code: ErrorCode; message: string }
}

export type ErrorCode =
  | 'ERR_INVALID_OPTIONS'
  | 'ERR_JWS_INVALID'
  | 'ERR_JWT_INVALID'
  | 'ERR_JOSE_ALG_NOT_ALLOWED'
  | 'ERR_JOSE_NOT_SUPPORTED'
  | 'ERR_JWKS_NO_MATCHING_KEY'
  | 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED'
  | 'ERR_JWT_EXPIRED'
  | 'ERR_JWT_CLAIM_VALIDATION_FAILED'
  | 'ERR_JWKS_FETCH_FAILED'
  | 'ERR_JWKS_TIMEOUT'
  | 'ERR_JWKS_RATE_LIMITED'
  | 'ERR_JWKS_INVALID'
  | 'ERR_JWKS_NOT_LOADED'
  | 'ERR_VERIFIER_CLOSED'
  | 'ERR_TOKEN_INACTIVE'
  | 'ERR_REVALIDATION_FAILED'
  | 'ERR_REVALIDATION_PENDING'
  | 'ERR_TOKEN_REQUEST_FAILED'
  | 'ERR_TOKEN_RATE_LIMITED'

/** Every error thrown or rejected by this library. */
export interface VerifyError extends Error {
  code: ErrorCode
  /** The claim that failed (`exp`, `aud`, `iss`, ...). */
  claim?: string
  /** `check_failed`, `missing` or `invalid`. */
  reason?: string
  kid?: string
  /** HTTP status of the failed fetch. */
  status?: number
  /** Seconds until the provider allows the next request. */
  retryAfter?: number
  /** TokenSource: the `error` of the token endpoint's OAuth error answer, e.g. `'invalid_client'`. */
  oauthError?: string
  /** TokenSource: the `error_description` of that answer. */
  errorDescription?: string
}

/** How a TokenSource authenticates the client at the token endpoint. */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt'

export interface TokenSourceOptions {
  /** The token endpoint, e.g. `'https://login.mypurecloud.com/oauth/token'`. Give this or `issuer`. */
  tokenUrl?: string
  /** An issuer whose `/.well-known/openid-configuration` names the `token_endpoint`. Give this or `tokenUrl`. */
  issuer?: string
  clientId: string
  /** For `client_secret_basic` (the default) and `client_secret_post`. Read it from the environment or a secret store. */
  clientSecret?: string
  /**
   * For `private_key_jwt` (RFC 7523): a private JWK (RSA, EC P-256/P-384, Ed25519; its `alg`, `kid`, `x5t`,
   * `x5t#S256` are used) or a PEM private key (PKCS#8, PKCS#1 RSA, SEC1 EC; signs RS256, ES256, ES384 or EdDSA).
   */
  privateKey?: JWK | string
  /** Default: `'private_key_jwt'` with `privateKey`, else `'client_secret_basic'`. */
  authMethod?: ClientAuthMethod
  /** An array is joined by spaces. Default: none. */
  scope?: string | string[]
  /** The `audience` parameter some providers require (Auth0). Default: none. */
  audience?: string
  /** RFC 8707 resource indicators, one form parameter each. Default: none. */
  resource?: string | string[]
  /** Further form parameters (not the ones above). */
  params?: Record<string, string>
  /** Refresh this long before expiry (at most half the token's lifetime). Default 60 s. */
  refreshBefore?: Duration
  http?: HttpOptions
  /** Called on the JS thread; never receives a secret or a token; exceptions thrown here are swallowed. */
  onEvent?: (event: TokenSourceEvent) => void
  /**
   * Share tokens with the rest of the fleet through Redis (encrypted with a key derived from `shared.secret`;
   * keyed by an HMAC of the token URL, client id and what is asked for): one token request per lifetime for the
   * whole fleet.
   */
  shared?: SharedOptions
}

export interface TokenSourceEvent {
  /** `token`: a token arrived; `error`: a request failed; `warning`: e.g. an answer without `expires_in`. */
  type: 'token' | 'error' | 'warning'
  /** The token endpoint (absent while discovery has not named it). */
  tokenUrl?: string
  /** The configured `issuer`, when the endpoint is discovered. */
  issuer?: string
  status?: number
  durationMs?: number
  /** When the new token expires (epoch milliseconds). */
  expiresAt?: number
  /** The granted scope. */
  scope?: string
  /** What a warning is about. */
  message?: string
  error?: { code: ErrorCode; message: string }
}
