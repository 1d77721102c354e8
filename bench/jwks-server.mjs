// A small JWKS server for the benchmarks, on 127.0.0.1 only.
//
// Serves one key set at `/.well-known/jwks.json` (the path get-jwks derives from the issuer) and
// the matching OpenID discovery document, with `Cache-Control: max-age=600` and an `ETag`.
// It counts requests per User-Agent, so the run can show how often each library fetched.
// For the `revalidate` rows it also is a bearer validation endpoint of SCAYLE's shape
// (`GET /v1/oauth/token/validate`, the token as `Authorization: Bearer`: 200, or 401 for a token
// passed to `revoke`), counted apart; `GET /bench/validation-requests` tells the count as
// `{ "count": n }`, so a worker can check that its measured phase makes no endpoint calls.

import http from 'node:http'
import { createHash } from 'node:crypto'

export const JWKS_PATH = '/.well-known/jwks.json'
export const VALIDATE_PATH = '/v1/oauth/token/validate'
export const VALIDATION_COUNT_PATH = '/bench/validation-requests'

/**
 * @param {{ jwks: { keys: object[] }, port?: number }} options
 * @returns {Promise<{ url: string, origin: string, port: number, requests: Record<string, number>,
 *   total: () => number, validateUrl: string, validationCountUrl: string, validations: () => number,
 *   revoke: (token: string) => void, close: () => Promise<void> }>}
 */
export async function startJwksServer({ jwks, port = 0 }) {
  const body = Buffer.from(JSON.stringify(jwks))
  const etag = '"' + createHash('sha256').update(body).digest('base64url').slice(0, 16) + '"'
  const requests = Object.create(null)
  const revoked = new Set()
  let validations = 0
  let origin = ''

  const server = http.createServer((req, res) => {
    const path = (req.url || '/').split('?')[0]
    if (path === VALIDATE_PATH) {
      validations++
      const token = /^Bearer (\S+)$/.exec(String(req.headers.authorization || ''))?.[1]
      const live = token !== undefined && !revoked.has(token)
      res.writeHead(live ? 200 : 401, { 'content-type': 'application/json' }).end(live ? '{}' : '{"error":"invalid_token"}')
      return
    }
    if (path === VALIDATION_COUNT_PATH) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ count: validations }))
      return
    }
    const agent = String(req.headers['user-agent'] || 'unknown').split(/[\s/]/)[0] || 'unknown'
    requests[agent] = (requests[agent] || 0) + 1
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end()
      return
    }
    if (path === JWKS_PATH || path === '/jwks.json') {
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { etag, 'cache-control': 'public, max-age=600' }).end()
        return
      }
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': body.length,
        'cache-control': 'public, max-age=600',
        etag
      })
      res.end(req.method === 'HEAD' ? undefined : body)
      return
    }
    if (path === '/.well-known/openid-configuration') {
      const doc = Buffer.from(JSON.stringify({ issuer: origin, jwks_uri: origin + JWKS_PATH }))
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': doc.length })
      res.end(doc)
      return
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}')
  })
  server.keepAliveTimeout = 60_000

  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })
  const actual = /** @type {import('node:net').AddressInfo} */ (server.address()).port
  origin = `http://127.0.0.1:${actual}`

  return {
    url: origin + JWKS_PATH,
    origin,
    port: actual,
    requests,
    total: () => Object.values(requests).reduce((a, b) => a + b, 0),
    validateUrl: origin + VALIDATE_PATH,
    validationCountUrl: origin + VALIDATION_COUNT_PATH,
    validations: () => validations,
    revoke: (token) => {
      revoked.add(token)
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.()
        server.close(() => resolve())
      })
  }
}
