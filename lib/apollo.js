'use strict'
// jwks-verify/apollo — the bearer token of an Apollo Server (v4, v5) request, verified once, in the context.
//
//   const { authContext, requireScope } = require('jwks-verify/apollo')
//   const context = authContext({ issuer: 'https://id.example.com/', audience: 'my-api' })
//   await startStandaloneServer(server, { context })            // or expressMiddleware(server, { context })
//   // resolvers: (_, args, ctx) => { requireScope(ctx, 'orders:read'); return ctx.auth.payload.sub }
//
// `authContext(options)` returns an async `({ req }) => ({ auth })` function. Options: a Verifier (`{ verifier }`) or
// Verifier options, plus `getToken(req)`, `credentialsRequired` (default **false** here: GraphQL schemas usually mix
// public and private fields, so a request without a token gets `auth: null` and resolvers decide with
// `requireAuth` / `requireScope`; set it to true to refuse such requests as a whole), `realm`, `retryAfter`
// (seconds, default 5), and `context(args, auth)` to add your own members to the context.
//
// A token that is present but refused always fails the whole request: a GraphQLError with
// `extensions.code = 'UNAUTHENTICATED'` and HTTP 401 + `WWW-Authenticate: Bearer error="invalid_token", …`.
// A malformed Authorization header: 'BAD_REQUEST', HTTP 400. Keys unavailable (the provider's outage):
// 'SERVICE_UNAVAILABLE', HTTP 503 + `Retry-After`, never 401. `extensions.reason` carries the jwks-verify error code.
// The GraphQLError class is taken from the application's `graphql` package (the copy Apollo Server checks errors
// against); pass `GraphQLError` in the options if your setup resolves another copy.
//
// When jwks-verify/express (or anything else) already set `req.auth` for this request, it is reused, and a
// request is verified once however many times the context function runs for it.

const { scopeAnswer, scopeList, resolveOptions, authenticateRequest } = require('./http-answers.js')

/** GraphQLError from the application's `graphql` (the copy Apollo Server uses; loaded when first needed). */
function graphQLErrorClass(settings) {
  if (settings.GraphQLError) return settings.GraphQLError
  return require('graphql').GraphQLError
}

const CODES = { 400: 'BAD_REQUEST', 401: 'UNAUTHENTICATED', 403: 'FORBIDDEN', 503: 'SERVICE_UNAVAILABLE' }

/** A GraphQLError carrying an HTTP answer of ./http-answers.js (`{ status, headers, body }`). */
function answerToGraphQLError(answer, GraphQLError, cause) {
  const message = answer.body.error_description || answer.body.error
  return new GraphQLError(message, {
    originalError: cause,
    extensions: {
      code: CODES[answer.status] || 'UNAUTHENTICATED',
      ...(answer.body.error ? { error: answer.body.error } : {}),
      ...(answer.body.code ? { reason: answer.body.code } : {}),
      // Apollo Server reads status and headers (a Map) from here and removes `http` from the response body.
      http: { status: answer.status, headers: new Map(Object.entries(answer.headers)) },
    },
  })
}

const verified = new WeakMap()

/**
 * An Apollo Server `context` function verifying the request's bearer token once and returning `{ auth }`
 * (`{ payload, header, issuer, token }`, or null without a token when credentials are not required).
 */
function authContext(options) {
  const rest = { ...(options && typeof options.verify === 'function' ? { verifier: options } : options) }
  const extend = rest.context
  const GraphQLErrorOption = rest.GraphQLError
  delete rest.context
  delete rest.GraphQLError
  if (extend !== undefined && typeof extend !== 'function')
    throw new TypeError('authContext: context must be a function')
  if (!('credentialsRequired' in rest)) rest.credentialsRequired = false
  const settings = resolveOptions(rest, 'authContext')
  settings.GraphQLError = GraphQLErrorOption

  async function authFor(req) {
    if (!req || typeof req !== 'object') throw new TypeError('authContext: the context argument has no req')
    if (req.auth && typeof req.auth === 'object' && req.auth.payload) return req.auth
    let pending = verified.get(req)
    if (!pending) {
      pending = authenticateRequest(req, settings)
      verified.set(req, pending)
    }
    const { auth, answer, error } = await pending
    if (answer) throw answerToGraphQLError(answer, graphQLErrorClass(settings), error)
    return auth || null
  }

  async function jwksVerifyContext(args) {
    const auth = await authFor(args && args.req)
    if (!extend) return { auth }
    return { ...(await extend(args, auth)), auth }
  }
  jwksVerifyContext.verifier = settings.verifier
  return jwksVerifyContext
}

/**
 * Throws UNAUTHENTICATED (HTTP 401) unless the context holds a verified token; returns `ctx.auth`. A context
 * without an `auth` member (authContext is not the server's context function) is a setup mistake: an Error with
 * code ERR_AUTHENTICATE_MISSING (a server error), not a 401.
 */
function requireAuth(ctx, options = {}) {
  if (!ctx || typeof ctx !== 'object' || !('auth' in ctx)) {
    const err = new Error(
      "requireAuth/requireScope: the context has no auth member: use authContext(...) as the server's context function (its context option adds your own members)",
    )
    err.code = 'ERR_AUTHENTICATE_MISSING'
    throw err
  }
  const auth = ctx.auth
  if (auth && auth.payload) return auth
  const answer = scopeAnswer(null, ['-'], options)
  throw answerToGraphQLError(answer, graphQLErrorClass(options))
}

/**
 * Throws UNAUTHENTICATED (401) without a verified token, FORBIDDEN (403, insufficient_scope) when the token lacks one
 * of `scopes` (from its `scope` string or `scp` claim); returns `ctx.auth`.
 */
function requireScope(ctx, ...scopes) {
  const needed = scopeList(scopes)
  const auth = requireAuth(ctx)
  const answer = scopeAnswer(auth, needed)
  if (answer) throw answerToGraphQLError(answer, graphQLErrorClass({}))
  return auth
}

module.exports = authContext
module.exports.default = authContext
module.exports.authContext = authContext
module.exports.requireAuth = requireAuth
module.exports.requireScope = requireScope
