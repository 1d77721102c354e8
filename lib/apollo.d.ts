// Types of jwks-verify/apollo (Apollo Server 4/5 context helper).
import type { IncomingMessage } from 'node:http'
import type { Verifier, VerifierOptions, JwtPayload } from '../index'
import type { AuthInfo, EntryOptions } from './express'

declare namespace authContext {
  /** The context members this helper provides. */
  export interface AuthContext<T = JwtPayload> {
    /** The verified token, or null when the request had none (and `credentialsRequired` is false). */
    auth: AuthInfo<T> | null
  }

  /** What the context function receives (Apollo's standalone and Express integrations both pass `req`). */
  export interface ContextArgument {
    req: IncomingMessage & { auth?: AuthInfo }
  }

  export interface ApolloOptions<TExtra extends object> extends EntryOptions<IncomingMessage & { [key: string]: any }> {
    /** Default **false** here: requests without a token get `auth: null`; resolvers decide (requireAuth/requireScope). */
    credentialsRequired?: boolean
    /** Adds your own members to the context; receives Apollo's argument and the verified auth (or null). */
    context?: (args: ContextArgument, auth: AuthInfo | null) => TExtra | Promise<TExtra>
    /** The GraphQLError class to throw (default: `require('graphql').GraphQLError`, the copy Apollo uses). */
    GraphQLError?: new (message: string, options?: any) => Error
  }

  export type AuthContextOptions<TExtra extends object> =
    | Verifier
    | (ApolloOptions<TExtra> & { verifier: Verifier })
    | (ApolloOptions<TExtra> & VerifierOptions & { verifier?: undefined })

  export interface ContextFunction<TContext> {
    (args: ContextArgument): Promise<TContext>
    /** The Verifier in use. */
    readonly verifier: Verifier
  }

  /** Throws a GraphQLError UNAUTHENTICATED (HTTP 401) unless `ctx.auth` holds a verified token; returns it. */
  export function requireAuth(ctx: { auth?: AuthInfo | null } | null | undefined): AuthInfo

  /**
   * Throws UNAUTHENTICATED (401) without a verified token, FORBIDDEN (403, insufficient_scope) when the token lacks
   * one of `scopes` (`scope` claim, space-separated, or `scp`); returns `ctx.auth`.
   */
  export function requireScope(ctx: { auth?: AuthInfo | null } | null | undefined, ...scopes: Array<string | string[]>): AuthInfo

  export { authContext, authContext as default, AuthInfo }
}

/**
 * An Apollo Server `context` function: verifies the bearer token once per request and returns `{ auth }`
 * (plus the members of your own `context` option). A refused token fails the request: GraphQLError
 * UNAUTHENTICATED with HTTP 401; keys unavailable: SERVICE_UNAVAILABLE with HTTP 503 and Retry-After.
 */
declare function authContext<TExtra extends object = {}>(
  options: authContext.AuthContextOptions<TExtra>,
): authContext.ContextFunction<TExtra & authContext.AuthContext>

export = authContext
