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
// The answers come from ./http-answers.js, shared with `jwks-verify/fastify` and `jwks-verify/apollo`, so every entry
// point answers alike; its framework-neutral helpers (`parseAuthorization`, `failureAnswer`, `scopeAnswer`,
// `challenge`, `grantedScopes`) are exported here too.

const {
  challenge,
  parseAuthorization,
  failureAnswer,
  grantedScopes,
  scopeAnswer,
  scopeList,
  missingAuthenticateError,
  resolveOptions,
  authenticateRequest,
} = require('./http-answers.js')

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
 * `scope` string or `scp` claim); 401 when the request carried no token. Use after `authenticate`: on a request
 * no `authenticate` saw it calls `next(err)` (a 500, code ERR_AUTHENTICATE_MISSING) naming the mistake.
 */
function requireScope(...scopes) {
  const needed = scopeList(scopes)
  function jwksVerifyRequireScope(req, res, next) {
    const setupError = missingAuthenticateError(req, req.auth, {
      where: 'this route',
      fix: "add app.use(authenticate(...)) or list authenticate(...) first in the route's middleware",
    })
    if (setupError) return next(setupError)
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
