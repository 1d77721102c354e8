'use strict'
// jwks-verify/express — Express (4 and 5) and Connect middleware: a thin layer over `Verifier#verify`.
//
//   const { authenticate, requireScope } = require('jwks-verify/express')
//   app.use('/api', authenticate({ issuer: 'https://id.example.com/', audience: 'my-api' }))
//   app.get('/api/orders', requireScope('orders:read'), (req, res) => res.json({ user: req.auth.payload.sub }))
//
// Answers follow RFC 6750 section 3:
//   valid token                     -> next(), `req.auth = { payload, header, issuer, token }`
//   no token (credentialsRequired)  -> 401, `WWW-Authenticate: Bearer` (no error code, as the RFC asks)
//   malformed Authorization header  -> 400, `WWW-Authenticate: Bearer error="invalid_request", error_description="…"`
//   token refused by the verifier   -> 401, `WWW-Authenticate: Bearer error="invalid_token", error_description="…"`
//   signing keys unavailable        -> 503 with `Retry-After` (never 401: the provider's outage is not the client's fault)
//   scope missing (requireScope)    -> 403, `WWW-Authenticate: Bearer error="insufficient_scope", scope="…"`
//   CORS preflight (OPTIONS with Access-Control-Request-Method) -> next() without auth (preflights carry no token)
// Any other error (a bug, a closed verifier...) goes to `next(err)`.
//
// The framework-neutral helpers below (`parseAuthorization`, `failureAnswer`, `scopeAnswer`, `challenge`) are
// also used by `jwks-verify/fastify` and `jwks-verify/apollo`, so every entry point answers alike.

const { Verifier } = require('../index.js')

/** Error codes meaning "the provider's signing keys cannot be had right now": 503, not 401. */
const KEYS_UNAVAILABLE = new Set(['ERR_JWKS_FETCH_FAILED', 'ERR_JWKS_TIMEOUT', 'ERR_JWKS_RATE_LIMITED', 'ERR_JWKS_INVALID'])

/** Error codes meaning "this token is not acceptable": 401 invalid_token. */
const TOKEN_REFUSED = new Set([
  'ERR_JWS_INVALID',
  'ERR_JWT_INVALID',
  'ERR_JOSE_ALG_NOT_ALLOWED',
  'ERR_JOSE_NOT_SUPPORTED',
  'ERR_JWKS_NO_MATCHING_KEY',
  'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
  'ERR_JWT_EXPIRED',
  'ERR_JWT_CLAIM_VALIDATION_FAILED',
  'ERR_JWT_REVOKED',
])

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
 * token or the keys (the caller then treats it as a server error).
 */
function failureAnswer(err, { realm, retryAfter = DEFAULT_RETRY_AFTER } = {}) {
  const code = err && err.code
  if (KEYS_UNAVAILABLE.has(code)) {
    const seconds = retryAfterSeconds(err, retryAfter)
    return {
      status: 503,
      headers: { 'retry-after': String(seconds), 'cache-control': 'no-store' },
      body: {
        error: 'temporarily_unavailable',
        error_description: 'the signing keys of the token issuer cannot be fetched right now; retry later',
        code,
      },
    }
  }
  if (TOKEN_REFUSED.has(code)) {
    const description = (err.message || code).split('\n')[0]
    return {
      status: 401,
      headers: { 'www-authenticate': challenge({ realm, error: 'invalid_token', description }) },
      body: { error: 'invalid_token', error_description: description, code },
    }
  }
  return null
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
  const scopes = args.flat(Infinity).flatMap((s) => String(s).split(' ')).filter(Boolean)
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

/**
 * Runs one authentication: token from `getToken(req)` or the Authorization header, then `verify`.
 * Resolves `{ auth }` (auth undefined when there is no token and none is required) or `{ answer }`; rejects
 * with errors that are not about the token or the keys.
 */
async function authenticateRequest(req, settings) {
  // A CORS preflight carries no credentials by design (Fetch standard): let it reach the CORS handler.
  if (req.method === 'OPTIONS' && req.headers && req.headers['access-control-request-method'] !== undefined) {
    return { auth: undefined }
  }
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
  return { auth: { payload: result.payload, header: result.header, issuer: result.issuer, token } }
}

/** Sends an answer with Node's own response API (works for Express, Connect and plain node:http). */
function send(res, answer) {
  if (res.headersSent) return void res.end()
  res.statusCode = answer.status
  for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value)
  const body = JSON.stringify(answer.body)
  res.setHeader('content-type', 'application/json; charset=utf-8')
  res.setHeader('content-length', Buffer.byteLength(body))
  res.end(body)
}

/**
 * Express/Connect middleware that verifies the request's bearer token.
 * @param options a Verifier, or `{ verifier }`, or Verifier options (issuer, audience, ...), plus
 *   `getToken(req)` (default: the `Authorization: Bearer` header), `credentialsRequired` (default true),
 *   `realm` (default none), `retryAfter` (seconds, default 5: sent with a 503 when the error has no retryAfter).
 * The middleware exposes the verifier it uses as `middleware.verifier`.
 */
function authenticate(options) {
  const settings = resolveOptions(options, 'authenticate')
  function jwksVerifyMiddleware(req, res, next) {
    authenticateRequest(req, settings).then(
      ({ auth, answer }) => {
        if (answer) return send(res, answer)
        if (auth) req.auth = auth
        next()
      },
      (err) => next(err),
    )
  }
  jwksVerifyMiddleware.verifier = settings.verifier
  return jwksVerifyMiddleware
}

/**
 * Middleware answering 403 insufficient_scope unless `req.auth` grants every named scope (from the token's
 * `scope` string or `scp` claim); 401 when the request was not authenticated. Use after `authenticate`.
 */
function requireScope(...scopes) {
  const needed = scopeList(scopes)
  function jwksVerifyRequireScope(req, res, next) {
    const answer = scopeAnswer(req.auth, needed)
    if (answer) return send(res, answer)
    next()
  }
  return jwksVerifyRequireScope
}

module.exports = authenticate
module.exports.default = authenticate
module.exports.authenticate = authenticate
module.exports.requireScope = requireScope
module.exports.parseAuthorization = parseAuthorization
module.exports.failureAnswer = failureAnswer
module.exports.scopeAnswer = scopeAnswer
module.exports.challenge = challenge
module.exports.grantedScopes = grantedScopes
// Internal to the jwks-verify entry points (not part of the typed API).
Object.defineProperty(module.exports, '_internal', {
  value: Object.freeze({ resolveOptions, authenticateRequest, missingOrMalformedAnswer, scopeList, KEYS_UNAVAILABLE }),
  enumerable: false,
})
