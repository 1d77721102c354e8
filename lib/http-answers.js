'use strict'
// The HTTP answers of the jwks-verify entry points (express, fastify, apollo), framework-neutral: RFC 6750 section 3
// as listed at the top of express.js. An answer is `{ status, headers, body }`; each entry point sends it its own way.
// The one classification of error codes (401 invalid_token, 503 + Retry-After, else a server error) is here; the
// CLI reads it too.

/** A token the verifier refused: 401 invalid_token, with a generic description of the code. */
const refused = (description) => Object.freeze({ status: 401, description })
/** The provider's signing keys cannot be had right now: 503 + Retry-After. */
const KEYS_UNAVAILABLE = Object.freeze({
  status: 503,
  description: 'the signing keys of the token issuer cannot be fetched right now; retry later',
})
/** The provider's validation endpoint cannot say right now whether the token is still active: 503 + Retry-After. */
const VALIDATION_UNAVAILABLE = Object.freeze({
  status: 503,
  description: 'the token issuer cannot confirm right now that the token is still active; retry later',
})

/**
 * The one classification of the error codes of `verify` (DESIGN.md's error table). A code not listed here
 * (ERR_INVALID_OPTIONS, ERR_VERIFIER_CLOSED, ERR_JWKS_NOT_LOADED, ERR_REVALIDATION_PENDING, anything unknown)
 * is a server error: 500, through the framework's error handling. To classify a new code, add one line.
 */
const ERROR_CLASSES = new Map([
  ['ERR_JWS_INVALID', refused('the token is not a well-formed signed JWT')],
  ['ERR_JWT_INVALID', refused('the token payload is not a JSON object of claims')],
  ['ERR_JOSE_ALG_NOT_ALLOWED', refused('the token signing algorithm is not accepted')],
  ['ERR_JOSE_NOT_SUPPORTED', refused('the token uses a JWS feature that is not supported')],
  ['ERR_JWKS_NO_MATCHING_KEY', refused('no signing key of the issuer matches the token')],
  ['ERR_JWS_SIGNATURE_VERIFICATION_FAILED', refused('the token signature is invalid')],
  ['ERR_JWT_EXPIRED', refused('the token has expired')],
  ['ERR_JWT_CLAIM_VALIDATION_FAILED', refused('a claim of the token is not accepted')],
  ['ERR_TOKEN_INACTIVE', refused('the token is no longer active')],
  ['ERR_JWKS_FETCH_FAILED', KEYS_UNAVAILABLE],
  ['ERR_JWKS_TIMEOUT', KEYS_UNAVAILABLE],
  ['ERR_JWKS_RATE_LIMITED', KEYS_UNAVAILABLE],
  ['ERR_JWKS_INVALID', KEYS_UNAVAILABLE],
  ['ERR_REVALIDATION_FAILED', VALIDATION_UNAVAILABLE],
])

/** True when `code` means the provider cannot be had right now (503 + Retry-After): it says nothing of the token. */
function isUnavailable(code) {
  const errorClass = ERROR_CLASSES.get(code)
  return errorClass !== undefined && errorClass.status === 503
}

/** Retry-After (seconds) sent with a 503 when the error carries none. */
const DEFAULT_RETRY_AFTER = 5

/** Options of the entry points that are not Verifier options. */
const OWN_OPTIONS = ['verifier', 'getToken', 'credentialsRequired', 'realm', 'retryAfter']

/**
 * A quoted-string for an auth-param (RFC 7230/9110): `"` and `\` escaped, control and non-ASCII characters
 * replaced by `?` (RFC 6750 allows only printable ASCII in error_description), length bounded.
 */
function quote(value) {
  const text = String(value)
    .slice(0, 300)
    .replace(/[^\x20-\x7e]/g, '?')
    .replace(/["\\]/g, (c) => `\\${c}`)
  return `"${text}"`
}

/** `Bearer realm="…", error="…", error_description="…", scope="…"` (members left out when undefined). */
function challenge({ realm, error, description, scope } = {}) {
  const params = []
  if (realm !== undefined) params.push(`realm=${quote(realm)}`)
  if (error !== undefined) params.push(`error=${quote(error)}`)
  if (description !== undefined) params.push(`error_description=${quote(description)}`)
  if (scope !== undefined) params.push(`scope=${quote(scope)}`)
  return params.length ? `Bearer ${params.join(', ')}` : 'Bearer'
}

/**
 * Reads an `Authorization` header value (RFC 6750 section 2.1: `Bearer` 1*SP b64token; the scheme is
 * case-insensitive). Returns `{ token }`, `{ missing: true }` (no header) or `{ malformed: 'why' }`.
 * Only the header's shape is checked here; the token itself is judged by the verifier.
 */
function parseAuthorization(value) {
  if (value === undefined || value === null) return { missing: true }
  if (Array.isArray(value)) {
    if (value.length !== 1) return { malformed: 'several Authorization headers' }
    value = value[0]
  }
  const text = String(value).trim()
  if (text === '') return { malformed: 'empty Authorization header' }
  const match = /^(\S+)(?:[ \t]+(.*))?$/.exec(text)
  if (!match) return { malformed: 'malformed Authorization header' }
  const [, scheme, rest] = match
  if (scheme.toLowerCase() !== 'bearer') return { malformed: `the Authorization scheme must be Bearer, not ${scheme}` }
  if (rest === undefined || rest.trim() === '') return { malformed: 'no token after Bearer' }
  const parts = rest.trim().split(/[ \t]+/)
  if (parts.length !== 1) return { malformed: 'several tokens in the Authorization header' }
  return { token: parts[0] }
}

/** Seconds for `Retry-After`: the error's `retryAfter` when it has one, else `fallback`; a whole number >= 1. */
function retryAfterSeconds(err, fallback = DEFAULT_RETRY_AFTER) {
  const value = err && typeof err.retryAfter === 'number' && Number.isFinite(err.retryAfter) ? err.retryAfter : fallback
  return Math.max(1, Math.ceil(value))
}

/**
 * The HTTP answer for a failed `verify`: `{ status, headers, body }`, or `null` when the error is not about the
 * token or the provider (the caller then treats it as a server error).
 */
function failureAnswer(err, { realm, retryAfter = DEFAULT_RETRY_AFTER } = {}) {
  const code = err && err.code
  const errorClass = ERROR_CLASSES.get(code)
  if (errorClass === undefined) return null
  if (errorClass.status === 503) {
    const seconds = retryAfterSeconds(err, retryAfter)
    return {
      status: 503,
      headers: { 'retry-after': String(seconds), 'cache-control': 'no-store' },
      body: { error: 'temporarily_unavailable', error_description: errorClass.description, code },
    }
  }
  // Generic per code (the claim's name at most): the answer goes to whoever sent the token, and must not tell an
  // attacker the configuration (accepted issuers, audiences, kids). `err.message` stays detailed for the logs.
  const claim = typeof err.claim === 'string' && /^[\x21-\x7e]{1,64}$/.test(err.claim) ? err.claim : undefined
  let description = errorClass.description
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && claim) description = `the token's "${claim}" claim is not accepted`
  if (code === 'ERR_JWT_EXPIRED' && claim === 'iat') description = 'the token is older than the accepted age'
  return {
    status: 401,
    headers: { 'www-authenticate': challenge({ realm, error: 'invalid_token', description }) },
    body: { error: 'invalid_token', error_description: description, code },
  }
}

/** The answer for a request without a usable Authorization header (`parsed` from `parseAuthorization`). */
function missingOrMalformedAnswer(parsed, { realm } = {}) {
  if (parsed.malformed) {
    return {
      status: 400,
      headers: { 'www-authenticate': challenge({ realm, error: 'invalid_request', description: parsed.malformed }) },
      body: { error: 'invalid_request', error_description: parsed.malformed },
    }
  }
  return {
    status: 401,
    headers: { 'www-authenticate': challenge({ realm }) },
    body: { error: 'unauthorized', error_description: 'a bearer token is required' },
  }
}

/** Scopes granted by a payload: `scope` (space-separated string, RFC 8693/9068) and `scp` (string or array). */
function grantedScopes(payload) {
  const granted = new Set()
  if (!payload || typeof payload !== 'object') return granted
  for (const claim of [payload.scope, payload.scp]) {
    if (typeof claim === 'string') for (const s of claim.split(' ')) if (s) granted.add(s)
    if (Array.isArray(claim)) for (const s of claim) if (typeof s === 'string' && s) granted.add(s)
  }
  return granted
}

/** Requests an `authenticate` of ours has seen (so `requireScope` can tell "no token" from "no authenticate"). */
const authenticated = new WeakSet()

/**
 * The error for a `requireScope` that runs on a request no `authenticate` saw: a setup mistake (the route lacks
 * `authenticate`, or lists it after `requireScope`), answered as a server error rather than as the client's
 * missing token. `null` when the request was authenticated (by us, or by anything that set `auth`).
 */
function missingAuthenticateError(req, auth, { where, fix }) {
  if (auth || (req && typeof req === 'object' && authenticated.has(req))) return null
  const err = new Error(
    `requireScope ran on a request that no authenticate saw: ${where} has no authenticate before requireScope (${fix})`,
  )
  err.code = 'ERR_AUTHENTICATE_MISSING'
  return err
}

/**
 * `null` when `auth` grants every scope in `scopes`; otherwise the answer: 401 without auth, 403
 * insufficient_scope naming the scopes needed.
 */
function scopeAnswer(auth, scopes, { realm } = {}) {
  if (!auth) return missingOrMalformedAnswer({ missing: true }, { realm })
  const granted = grantedScopes(auth.payload)
  const missing = scopes.filter((s) => !granted.has(s))
  if (missing.length === 0) return null
  const description = `the token lacks the scope ${missing.join(' ')}`
  return {
    status: 403,
    headers: {
      'www-authenticate': challenge({ realm, error: 'insufficient_scope', description, scope: scopes.join(' ') }),
    },
    body: { error: 'insufficient_scope', error_description: description, scope: scopes.join(' ') },
  }
}

/** Flattens `requireScope('a', 'b')`, `requireScope(['a', 'b'])` and `requireScope('a b')` into `['a', 'b']`. */
function scopeList(args) {
  const scopes = args
    .flat(Infinity)
    .flatMap((s) => String(s).split(' '))
    .filter(Boolean)
  if (scopes.length === 0) throw new TypeError('requireScope: name at least one scope')
  return scopes
}

/**
 * Splits entry-point options into the verifier to use (given or made from the Verifier options) and the
 * entry point's own settings. `options` may also be a Verifier itself.
 */
function resolveOptions(options, name) {
  if (options === undefined || options === null || typeof options !== 'object') {
    throw new TypeError(`${name}: pass a Verifier or options ({ verifier } or Verifier options such as issuer)`)
  }
  if (typeof options.verify === 'function') options = { verifier: options }
  const own = {}
  const verifierOptions = {}
  for (const [key, value] of Object.entries(options)) {
    if (OWN_OPTIONS.includes(key)) own[key] = value
    else verifierOptions[key] = value
  }
  if (own.getToken !== undefined && typeof own.getToken !== 'function') {
    throw new TypeError(`${name}: getToken must be a function (req) => string | undefined`)
  }
  if (own.credentialsRequired !== undefined && typeof own.credentialsRequired !== 'boolean') {
    const got =
      own.credentialsRequired === null
        ? 'null'
        : `${typeof own.credentialsRequired} ${JSON.stringify(own.credentialsRequired)}`
    throw new TypeError(`${name}: credentialsRequired must be a boolean (true or false), got ${got}`)
  }
  if (own.retryAfter !== undefined && !(typeof own.retryAfter === 'number' && own.retryAfter > 0)) {
    throw new TypeError(`${name}: retryAfter must be a number of seconds > 0`)
  }
  let verifier = own.verifier
  let owned = false
  if (verifier !== undefined) {
    if (!verifier || typeof verifier.verify !== 'function') throw new TypeError(`${name}: verifier must be a Verifier`)
    if (Object.keys(verifierOptions).length > 0) {
      throw new TypeError(
        `${name}: pass either a verifier or Verifier options, not both (got ${Object.keys(verifierOptions).join(', ')})`,
      )
    }
  } else {
    // The addon is loaded when first needed: the CLI reads this module without it (decode, inspect).
    const { Verifier } = require('./load.js')
    verifier = new Verifier(verifierOptions) // throws ERR_INVALID_OPTIONS naming a wrong option
    owned = true
  }
  return {
    verifier,
    owned,
    getToken: own.getToken,
    credentialsRequired: own.credentialsRequired !== false,
    realm: own.realm,
    retryAfter: own.retryAfter ?? DEFAULT_RETRY_AFTER,
  }
}

/** True for a CORS preflight (OPTIONS with Access-Control-Request-Method) whose request will send `Authorization`. */
function isAuthorizationPreflight(req) {
  if (req.method !== 'OPTIONS' || !req.headers || req.headers['access-control-request-method'] === undefined)
    return false
  const names = String(req.headers['access-control-request-headers'] ?? '')
  return names.split(',').some((name) => name.trim().toLowerCase() === 'authorization')
}

/**
 * Runs one authentication: token from `getToken(req)` or the Authorization header, then `verify`.
 * Resolves `{ auth }` (auth undefined when there is no token and none is required) or `{ answer, error }`; rejects
 * with errors that are not about the token or the provider.
 */
async function authenticateRequest(req, settings) {
  if (req && typeof req === 'object') authenticated.add(req)
  // A CORS preflight for a request that will carry an Authorization header has none itself (Fetch standard): let
  // it reach the CORS handler. Only such a preflight: an OPTIONS that merely names a method stays authenticated,
  // so `app.all` handlers never answer it unauthenticated.
  if (isAuthorizationPreflight(req)) return { auth: undefined }
  let token
  if (settings.getToken) {
    token = await settings.getToken(req)
    if (token !== undefined && token !== null && typeof token !== 'string') {
      throw new TypeError('getToken must return a string, undefined or null')
    }
    if (token === '' || token === null) token = undefined
    if (token === undefined) {
      if (!settings.credentialsRequired) return { auth: undefined }
      return { answer: missingOrMalformedAnswer({ missing: true }, settings) }
    }
  } else {
    const parsed = parseAuthorization(req.headers ? req.headers.authorization : undefined)
    if (parsed.missing && !settings.credentialsRequired) return { auth: undefined }
    if (!parsed.token) return { answer: missingOrMalformedAnswer(parsed, settings) }
    token = parsed.token
  }
  let result
  try {
    result = await settings.verifier.verify(token)
  } catch (err) {
    const answer = failureAnswer(err, settings)
    if (answer) return { answer, error: err }
    throw err
  }
  const auth = { payload: result.payload, header: result.header, issuer: result.issuer, token }
  // `results: 'frozen'`: the request's auth is frozen as its parts are.
  return { auth: Object.isFrozen(result) ? Object.freeze(auth) : auth }
}

module.exports = {
  isUnavailable,
  challenge,
  parseAuthorization,
  failureAnswer,
  grantedScopes,
  scopeAnswer,
  scopeList,
  missingAuthenticateError,
  resolveOptions,
  authenticateRequest,
}
