// A small JWKS server for the benchmarks, on 127.0.0.1 only.
//
// Serves one key set at `/.well-known/jwks.json` (the path get-jwks derives from the issuer) and
// the matching OpenID discovery document, with `Cache-Control: max-age=600` and an `ETag`.
// It counts requests per User-Agent, so the run can show how often each library fetched.

import http from 'node:http'
import { createHash } from 'node:crypto'

export const JWKS_PATH = '/.well-known/jwks.json'

/**
 * @param {{ jwks: { keys: object[] }, port?: number }} options
 * @returns {Promise<{ url: string, origin: string, port: number, requests: Record<string, number>,
 *   total: () => number, close: () => Promise<void> }>}
 */
export async function startJwksServer ({ jwks, port = 0 }) {
  const body = Buffer.from(JSON.stringify(jwks))
  const etag = '"' + createHash('sha256').update(body).digest('base64url').slice(0, 16) + '"'
  const requests = Object.create(null)
  let origin = ''

  const server = http.createServer((req, res) => {
    const agent = String(req.headers['user-agent'] || 'unknown').split(/[\s/]/)[0] || 'unknown'
    requests[agent] = (requests[agent] || 0) + 1
    const path = (req.url || '/').split('?')[0]
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
    close: () => new Promise((resolve) => {
      server.closeAllConnections?.()
      server.close(() => resolve())
    })
  }
}
