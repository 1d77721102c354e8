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

/**
 * Which binding artifact the generated loader actually loaded: `'native'` for
 * a native addon, otherwise the `platformArchABI` of the WASI flavor. Every
 * flavor napi-rs can build is listed, because `NAPI_RS_NATIVE_LIBRARY_PATH`
 * can point the loader at a WASI artifact this package does not build itself.
 */
export declare const __napiBindingTarget: 'native' | 'wasm32-wasi' | 'wasm32-wasip1'

/** A manual clock for tests (see the module documentation). Not part of the documented API. */
export declare class TestClock {
  /** A clock at wall time. Throws `ERR_INVALID_OPTIONS` unless `JWKS_VERIFY_TEST_CLOCK=1`. */
  constructor()
  /** Move this clock forward by `ms` milliseconds (it never goes back). */
  advance(ms: number): void
  /** The time this clock reads, in epoch milliseconds. */
  now(): number
  /** How far this clock has been moved, in milliseconds. */
  get offsetMs(): number
}

/**
 * Obtains access tokens with the OAuth 2 client-credentials grant, for calling APIs: one
 * request per token lifetime, refreshed ahead of expiry, one request however many callers wait,
 * backing off (and obeying `Retry-After`) when the endpoint fails. The client secret, the
 * private key and the tokens never appear in errors, events or `util.inspect` output.
 */
export declare class TokenSource {
  /**
   * Create a source; makes no request until a token is asked for. Throws
   * `ERR_INVALID_OPTIONS` (naming the option) when an option is wrong.
   */
  constructor(options: TokenSourceOptions)
  /**
   * A valid token: the cached one, or one requested now (one request however many callers
   * wait). Rejects with `ERR_TOKEN_REQUEST_FAILED` or `ERR_TOKEN_RATE_LIMITED`.
   */
  getToken(): Promise<AccessToken>
  /** The `Authorization` header value for the current token: `'Bearer <token>'`. */
  authorizationHeader(): Promise<string>
  /**
   * Forget the cached token (call it when the API answered 401): the next call requests a
   * new one.
   */
  invalidate(): void
  /** Drop the cached token; later calls reject with `ERR_VERIFIER_CLOSED`. Idempotent. */
  close(): void
}

/**
 * Verifies JWTs against an identity provider's JWKS (or local keys), with a process-wide key
 * cache that refreshes in the background, survives outages and respects rate limits.
 */
export declare class Verifier {
  /** Create a verifier. Throws `ERR_INVALID_OPTIONS` (naming the option) when an option is wrong. */
  constructor(options: VerifierOptions)
  /**
   * Verify a compact JWS. Resolves `{ payload, header, issuer }`; rejects with an `Error`
   * whose `code` says why (see `ErrorCode`). With the keys cached, a check runs on the JS thread
   * while nothing else of this thread is on the libuv pool (at most two per event-loop turn,
   * at most 1 ms per turn), otherwise on the pool; key fetches never run on the JS thread.
   */
  verify<T = JwtPayload>(token: string): Promise<VerifyResult<T>>
  /**
   * Verify with cached keys only; never does I/O. Throws `ERR_JWKS_NOT_LOADED` when the keys
   * are not cached yet (and starts loading them in the background).
   */
  verifySync<T = JwtPayload>(token: string): VerifyResult<T>
  /**
   * Fetch every issuer's keys now. Resolves at once for local keys; with several issuers,
   * rejects with the first failure (the others stay loaded).
   */
  ready(): Promise<void>
  /**
   * Per issuer: state `'fresh' | 'stale' | 'failing' | 'empty'`, kids, fetchedAt, expiresAt
   * (epoch ms or null) and the last error.
   */
  health(): IssuerHealth[]
  /**
   * Counters: verifications, failures by code, token-cache hits, fetches, 304s, fetch
   * errors, cooldown refusals, stale serves.
   */
  stats(): VerifierStats
  /**
   * `stats()` and `health()` in the Prometheus text exposition format, for a `/metrics` route
   * (or an OpenTelemetry Collector's prometheus receiver): counters `jwks_verify_*_total`,
   * failures by `code`, and per issuer the keys, their state, fetch and expiry times.
   * `labels` are added to every sample (e.g. `{ service: 'orders-api' }`).
   */
  metrics(options?: { labels?: Record<string, string> }): string
  /**
   * Stop this verifier's background work. Idempotent; later calls reject with
   * `ERR_VERIFIER_CLOSED`. Other verifiers sharing a key cache are not affected.
   */
  close(): void
}

/** A token from the token endpoint, as `getToken()` resolves it. */
export interface AccessToken {
  /** The token itself: send it, never log it. */
  accessToken: string
  /** `'Bearer'` (however the endpoint spelled it), or the scheme it named. */
  tokenType: string
  /** When the token expires, in epoch milliseconds. */
  expiresAt: number
  /** The granted scope, when the endpoint named one. */
  scope?: string
}

/** The algorithms a Verifier accepts by default (every asymmetric one), then the HS* ones. */
export declare function algorithms(): { asymmetric: Algorithm[]; symmetric: Algorithm[] }

/** Same as `new TokenSource(options)`. */
export declare function createTokenSource(options: TokenSourceOptions): TokenSource

/** Same as `new Verifier(options)`. */
export declare function createVerifier(options: VerifierOptions): Verifier

/** Every `code` an error of this library can carry (the `ErrorCode` type lists the same). */
export declare function errorCodes(): ErrorCode[]

/** `{ code, message }` of an error, for health and events. */
export interface ErrorInfo {
  code: string
  message: string
}

/**
 * Judge each key of a JWKS as the Verifier does: usable, or why not. `local: true` judges a
 * `keys` option (where `oct` keys are allowed) rather than a published JWKS.
 */
export declare function explainKeys(jwks: { keys: unknown[] }, options?: { local?: boolean }): KeyVerdict[]

/** A fetched JSON document. */
export interface FetchedDocument {
  url: string
  status: number
  /** `cache-control`, `etag`, `last-modified`, `retry-after` when the answer had them. */
  headers: Record<string, string>
  /** The JSON body. */
  body: any
}

/**
 * GET a JSON document (a JWKS, a discovery document) under the rules the key cache follows:
 * https only (loopback excepted, or `http.allowHttp`), at most 3 redirects, `http.maxBytes`,
 * `http.timeout`, `http.headers` only to the URL's origin. Rejects with the key cache's codes
 * (`ERR_JWKS_FETCH_FAILED`, `ERR_JWKS_TIMEOUT`, `ERR_JWKS_RATE_LIMITED`, `ERR_JWKS_INVALID`;
 * `ERR_INVALID_OPTIONS` for a URL or option the policy refuses).
 */
export declare function fetchJson(url: string, http?: VerifierOptions['http']): Promise<FetchedDocument>

/** Health of one issuer's keys. */
export interface IssuerHealth {
  issuer: string
  jwksUri: string | null
  state: 'fresh' | 'stale' | 'failing' | 'empty'
  kids: Array<string>
  fetchedAt: number | null
  expiresAt: number | null
  lastError: { code: ErrorCode; message: string } | null
  /** The shared tier (`shared`): 'up', 'down' (Redis skipped after failures), or null without it. */
  shared: 'up' | 'down' | null
  /** Keys of the JWKS that are not used, and why (the reasons `explainKeys` gives). */
  skipped: SkippedKey[]
}

/** The verdict on one JWK. */
export interface KeyVerdict {
  index: number
  kid?: string
  usable: boolean
  /** Why the key is not used (absent when usable). */
  reason?: string
}

/**
 * Milliseconds of a duration as options take it: seconds, or `<number><ms|s|m|h|d>`. Throws
 * `ERR_INVALID_OPTIONS` naming `name` (default `duration`).
 */
export declare function parseDuration(value: number | string, name?: string): number

/** A key of a JWKS that is not used. */
export interface SkippedKey {
  kid: string | null
  reason: string
}

/**
 * Why the Verifier would refuse to fetch `url` (`null` when it may): https only, plain http
 * for loopback hosts or with `allowHttp`.
 */
export declare function urlRefusal(url: string, allowHttp?: boolean | undefined | null): string | null

/** Counters of one verifier. */
export interface VerifierStats {
  verifications: number
  failures: Partial<Record<ErrorCode, number>>
  tokenCacheHits: number
  fetches: number
  notModified: number
  fetchErrors: number
  cooldownRefusals: number
  staleServes: number
  /** Validation endpoint calls (`revalidate`). */
  revalidations: number
  /** Verifications answered from a cached liveness answer. */
  revalidationHits: number
  /** Tokens found inactive. */
  inactive: number
  /** Validation endpoint failures. */
  revalidationErrors: number
  /** Shared-tier entries found and accepted (`shared`). */
  sharedHits: number
  /** Shared-tier lookups that found nothing. */
  sharedMisses: number
  /** Redis calls that failed or timed out, and shared entries refused. */
  sharedErrors: number
  /** Waits for another process's provider call. */
  lockWaits: number
}
