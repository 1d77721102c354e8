// Types of jwks-verify/fastify (Fastify 4/5 plugin).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Verifier, VerifierOptions } from '../index'
import type { AuthInfo, EntryOptions } from './express'

declare namespace jwksVerify {
  /** A hook for `onRequest` / `preHandler`: answers the request itself when it must be refused. */
  export type AuthHook = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | void>

  /** Plugin options: `{ verifier, ...settings }` or Verifier options with the settings. */
  export type JwksVerifyPluginOptions =
    | (EntryOptions<FastifyRequest> & { verifier: Verifier })
    | (EntryOptions<FastifyRequest> & VerifierOptions & { verifier?: undefined })

  export { jwksVerify, jwksVerify as default, AuthInfo }
}

/**
 * Decorates `fastify.authenticate` (a hook verifying the bearer token; put it in the `onRequest` of the routes to
 * protect, or `fastify.addHook('onRequest', fastify.authenticate)` for all), `fastify.requireScope(...scopes)`,
 * `fastify.jwksVerifier` and `request.auth`. Not encapsulated (fastify-plugin semantics).
 */
declare function jwksVerify(instance: FastifyInstance, options: jwksVerify.JwksVerifyPluginOptions): Promise<void>

declare module 'fastify' {
  export interface FastifyInstance {
    /** Verifies the bearer token; on success sets `request.auth`, else answers 401/400/503 (RFC 6750). */
    authenticate: jwksVerify.AuthHook
    /** A hook answering 403 insufficient_scope unless `request.auth` grants every scope (401 without auth). */
    requireScope: (...scopes: Array<string | string[]>) => jwksVerify.AuthHook
    /** The Verifier the plugin uses. */
    jwksVerifier: Verifier
  }
  export interface FastifyRequest {
    /** The verified token once `fastify.authenticate` ran and accepted it; null otherwise. */
    auth: AuthInfo | null
  }
}

export = jwksVerify
