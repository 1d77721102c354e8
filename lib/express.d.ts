// Types of jwks-verify/express (Express 4/5 and Connect middleware).
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Verifier, VerifierOptions, JwtPayload, VerifyResult } from '../index'

declare namespace authenticate {
  /** What a verified request carries as `req.auth`. */
  /**
   * What `req.auth` holds: the verification result plus the token. `header` is null (and `issuer` may be) only for
   * an opaque token accepted through `revalidate.opaque`.
   */
  export type AuthInfo<T = JwtPayload> = VerifyResult<T> & {
    /** The token itself (for calls made on the caller's behalf). Do not log it. */
    token: string
  }

  /** Settings of the entry points that are not Verifier options. */
  export interface EntryOptions<Req = IncomingMessage & { [key: string]: any }> {
    /**
     * Where the token comes from; return undefined/null/'' when there is none.
     * Default: the `Authorization: Bearer <token>` header (RFC 6750 section 2.1).
     */
    getToken?: (req: Req) => string | undefined | null | Promise<string | undefined | null>
    /** Refuse requests without a token (401 `WWW-Authenticate: Bearer`). Default true. */
    credentialsRequired?: boolean
    /** `realm` auth-param of the `WWW-Authenticate` challenges. Default: none. */
    realm?: string
    /** Seconds sent as `Retry-After` with a 503 when the error carries no `retryAfter`. Default 5. */
    retryAfter?: number
  }

  /** A Verifier, `{ verifier, ...settings }`, or Verifier options with the settings (a Verifier is then made). */
  export type AuthenticateOptions<Req = IncomingMessage & { [key: string]: any }> =
    | Verifier
    | (EntryOptions<Req> & { verifier: Verifier })
    | (EntryOptions<Req> & VerifierOptions & { verifier?: undefined })

  /** The middleware; `verifier` is the Verifier it uses. */
  export interface AuthenticateMiddleware {
    (req: IncomingMessage, res: ServerResponse, next: (err?: any) => void): void
    readonly verifier: Verifier
  }

  export interface ScopeMiddleware {
    (req: IncomingMessage, res: ServerResponse, next: (err?: any) => void): void
  }

  /** An HTTP answer: status, headers (lower-case names) and a JSON body. */
  export interface Answer {
    status: number
    headers: Record<string, string>
    body: { error: string; error_description: string; code?: string; scope?: string }
  }

  /**
   * Middleware answering 403 `insufficient_scope` unless `req.auth` grants every named scope (token claim `scope`,
   * space-separated, or `scp`, string or array); 401 when the request is not authenticated.
   */
  export function requireScope(...scopes: Array<string | string[]>): ScopeMiddleware

  /** Reads an Authorization header value: `{ token }`, `{ missing: true }` or `{ malformed: reason }`. */
  export function parseAuthorization(
    value: string | string[] | undefined | null,
  ): { token: string; missing?: undefined; malformed?: undefined }
    | { missing: true; token?: undefined; malformed?: undefined }
    | { malformed: string; token?: undefined; missing?: undefined }

  /**
   * The RFC 6750 answer for an error of `verify`: 401 invalid_token for a refused token, 503 + Retry-After
   * when the keys cannot be had; null for other errors.
   */
  export function failureAnswer(err: unknown, options?: { realm?: string; retryAfter?: number }): Answer | null

  /** null when `auth` grants every scope; else the 401 / 403 answer. */
  export function scopeAnswer(auth: AuthInfo | null | undefined, scopes: string[], options?: { realm?: string }): Answer | null

  /** A `WWW-Authenticate: Bearer …` value with the given auth-params (quoted, `"` and `\` escaped). */
  export function challenge(params?: { realm?: string; error?: string; description?: string; scope?: string }): string

  /** Scopes granted by a token payload (`scope` and `scp`). */
  export function grantedScopes(payload: unknown): Set<string>

  export { authenticate, authenticate as default }
}

/**
 * Express/Connect middleware verifying the request's bearer token with jwks-verify and setting `req.auth`.
 * Answers per RFC 6750: 401 invalid_token, 400 invalid_request (malformed header), 401 `Bearer` (no token),
 * 503 + Retry-After when the issuer's keys cannot be fetched.
 */
declare function authenticate(options: authenticate.AuthenticateOptions): authenticate.AuthenticateMiddleware

declare global {
  namespace Express {
    interface Request {
      /** Set by jwks-verify/express once the bearer token is verified; undefined otherwise. */
      auth?: authenticate.AuthInfo
    }
  }
}

export = authenticate
