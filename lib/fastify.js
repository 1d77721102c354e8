'use strict'
// jwks-verify/fastify — a Fastify (4 and 5) plugin: a thin layer over `Verifier#verify`.
//
//   const fastify = require('fastify')()
//   await fastify.register(require('jwks-verify/fastify'), { issuer: 'https://id.example.com/', audience: 'my-api' })
//   fastify.get('/me', { onRequest: fastify.authenticate }, async (request) => request.auth.payload)
//   fastify.get('/orders', { onRequest: [fastify.authenticate, fastify.requireScope('orders:read')] }, handler)
//   // every route: fastify.addHook('onRequest', fastify.authenticate)
//
// The choice made here: the plugin decorates
//   - `fastify.authenticate`: an async hook for `onRequest` (or `preHandler`) of the routes to protect;
//   - `fastify.requireScope(...scopes)`: returns a hook answering 403 insufficient_scope (use after authenticate);
//   - `fastify.jwksVerifier`: the Verifier in use;
//   - `request.auth`: `{ payload, header, issuer, token }` once authenticated, else null.
// It adds no global hook, so routes such as health checks stay open unless you protect them.
// Options: a Verifier (`{ verifier }`) or Verifier options, plus `getToken(request)`, `credentialsRequired`
// (default true), `realm`, `retryAfter` (seconds, default 5). A verifier the plugin made is closed with the app,
// and logs its key-source changes through `fastify.log` unless the options name another `logger`.
// The answers are the ones of jwks-verify/express (RFC 6750): 401 invalid_token, 400 invalid_request,
// 401 `WWW-Authenticate: Bearer` for a missing token, 503 + Retry-After when the keys cannot be had.
//
// The plugin is not encapsulated (fastify-plugin semantics, without needing the fastify-plugin package): the
// decorators are visible to the scope that registered it.

const {
  scopeAnswer,
  scopeList,
  missingAuthenticateError,
  resolveOptions,
  authenticateRequest,
} = require('./http-answers.js')

/** Options Fastify itself reads from `register(plugin, options)`; not Verifier options. */
const REGISTER_OPTIONS = ['prefix', 'logLevel', 'logSerializers']

function sendAnswer(reply, answer) {
  reply.code(answer.status).headers(answer.headers).send(answer.body)
  return reply
}

async function jwksVerify(fastify, options) {
  const rest = {}
  for (const [key, value] of Object.entries(options || {})) if (!REGISTER_OPTIONS.includes(key)) rest[key] = value
  // A Verifier the plugin makes logs its key-source changes through Fastify's logger.
  const makesVerifier = options && typeof options.verify !== 'function' && rest.verifier === undefined
  if (makesVerifier && rest.logger === undefined && fastify.log) rest.logger = fastify.log
  const settings = resolveOptions(rest, 'jwks-verify/fastify')

  fastify.decorateRequest('auth', null)
  fastify.decorate('jwksVerifier', settings.verifier)

  fastify.decorate('authenticate', async function authenticate(request, reply) {
    const { auth, answer } = await authenticateRequest(request, settings)
    if (answer) return sendAnswer(reply, answer)
    request.auth = auth || null
  })

  fastify.decorate('requireScope', function requireScope(...scopes) {
    const needed = scopeList(scopes)
    return async function requireScopeHook(request, reply) {
      const setupError = missingAuthenticateError(request, request.auth, {
        where: 'this route',
        fix: 'use { onRequest: [fastify.authenticate, fastify.requireScope(...)] }, authenticate first',
      })
      if (setupError) throw setupError
      const answer = scopeAnswer(request.auth, needed, { realm: settings.realm })
      if (answer) return sendAnswer(reply, answer)
    }
  })

  if (settings.owned) {
    fastify.addHook('onClose', async () => {
      settings.verifier.close()
    })
  }
}

// What fastify-plugin would set: no encapsulation, a display name, and the supported Fastify versions.
jwksVerify[Symbol.for('skip-override')] = true
jwksVerify[Symbol.for('fastify.display-name')] = 'jwks-verify'
jwksVerify[Symbol.for('plugin-meta')] = { name: 'jwks-verify', fastify: '4.x || 5.x' }

module.exports = jwksVerify
module.exports.default = jwksVerify
module.exports.jwksVerify = jwksVerify
