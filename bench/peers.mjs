// The libraries under test, each on its idiomatic path.
//
// An adapter: { id, label, kind: 'async' | 'sync', algs, missing, poolOnly?, note?, create(ctx) }.
// `create(ctx)` builds what an application builds once at start-up (a verifier, a remote key set,
// a client) and returns { prepare?(alg), forAlg(alg) -> verify(token), payloadOf(result),
// stats?(alg), close?() }.
// `verify` is exactly the call an application makes per request; the harness times that call.
// JWKS-capable libraries get only `ctx.jwksUri`; static-key ones (node:crypto, @node-rs) get keys
// built once from the same server's JWKS (`ctx.jwks`), as an application without JWKS support would.

import crypto from 'node:crypto'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
// JWKS_VERIFY_BENCH_ADDON points the benchmark at another build of the package (e.g. a copy kept
// for an A/B comparison); by default it loads the addon built in this checkout.
export const ADDON_ENTRY = process.env.JWKS_VERIFY_BENCH_ADDON
  ? path.resolve(process.env.JWKS_VERIFY_BENCH_ADDON)
  : path.join(ROOT, 'index.js')
// The package's face (lib/load.js: the Verifier with `results: 'frozen'`), for the `jwks-verify-frozen` row: this
// checkout's, or the one beside JWKS_VERIFY_BENCH_ADDON's index.js when that is set (a package copy's own face).
export const FACE_ENTRY = process.env.JWKS_VERIFY_BENCH_ADDON
  ? path.join(path.dirname(ADDON_ENTRY), 'lib', 'load.js')
  : path.join(ROOT, 'lib', 'load.js')
// JWKS_VERIFY_BENCH_BASELINE points at a second build (e.g. one from before a change): the four
// jwks-verify rows then run once more on it, as `…-baseline`, so one run compares the builds cell
// by cell (two runs on this shared machine differ by more than most changes).
export const BASELINE_ENTRY = process.env.JWKS_VERIFY_BENCH_BASELINE ? path.resolve(process.env.JWKS_VERIFY_BENCH_BASELINE) : null

const ALL = ['RS256', 'ES256', 'EdDSA']
const identity = (r) => r

const jose = {
  id: 'jose',
  label: 'jose 6',
  kind: 'async',
  algs: ALL,
  missing: {},
  note: 'createRemoteJWKSet + jwtVerify',
  async create({ issuer, audience, jwksUri, algorithms }) {
    const { createRemoteJWKSet, jwtVerify } = await import('jose')
    const JWKS = createRemoteJWKSet(new URL(jwksUri))
    const options = { issuer, audience, algorithms }
    const verify = (token) => jwtVerify(token, JWKS, options)
    return { forAlg: () => verify, payloadOf: (r) => r.payload }
  }
}

function fastJwt(cache) {
  return {
    id: cache ? 'fast-jwt-cache' : 'fast-jwt',
    label: cache ? 'fast-jwt 6 + get-jwks (cache: true)' : 'fast-jwt 6 + get-jwks',
    kind: 'async',
    algs: ['RS256', 'ES256'],
    missing: { EdDSA: 'get-jwks turns JWKs into PEM with jwk-to-pem, which has no OKP (Ed25519) keys' },
    note: cache
      ? 'createVerifier({ key: async getJwks.getPublicKey, cache: true }) (LRU of 1000 verified tokens)'
      : 'createVerifier({ key: async getJwks.getPublicKey })',
    async create({ issuer, audience, algorithms }) {
      const { createVerifier } = require('fast-jwt')
      const buildGetJwks = require('get-jwks')
      // get-jwks derives `${iss}/.well-known/jwks.json`; the whitelist keeps a forged `iss` from choosing the URL.
      const getJwks = buildGetJwks({ issuersWhitelist: [issuer] })
      const verify = createVerifier({
        key: async ({ header, payload }) => getJwks.getPublicKey({ kid: header.kid, alg: header.alg, domain: payload.iss }),
        algorithms,
        allowedIss: issuer,
        allowedAud: audience,
        cache
      })
      return { forAlg: () => verify, payloadOf: identity }
    }
  }
}

const jsonwebtoken = {
  id: 'jsonwebtoken',
  label: 'jsonwebtoken 9 + jwks-rsa 4',
  kind: 'async',
  algs: ['RS256', 'ES256'],
  missing: { EdDSA: 'jsonwebtoken 9 has no EdDSA' },
  note: 'jwksClient({ cache: true }); jwt.verify(token, getKey) where getKey calls client.getSigningKey(kid)',
  async create({ issuer, audience, jwksUri, algorithms }) {
    const jwt = require('jsonwebtoken')
    const jwksClient = require('jwks-rsa')
    const client = jwksClient({ jwksUri, cache: true })
    const getKey = (header, callback) => {
      client.getSigningKey(header.kid, (err, key) => (err ? callback(err) : callback(null, key.getPublicKey())))
    }
    const options = { algorithms: algorithms.filter((a) => a !== 'EdDSA'), issuer, audience }
    const verify = (token) =>
      new Promise((resolve, reject) => {
        jwt.verify(token, getKey, options, (err, payload) => (err ? reject(err) : resolve(payload)))
      })
    return { forAlg: () => verify, payloadOf: identity }
  }
}

const awsJwtVerify = {
  id: 'aws-jwt-verify',
  label: 'aws-jwt-verify 5',
  kind: 'async',
  algs: ALL,
  missing: {},
  // Its built-in fetcher uses https.request only, so an http:// JWKS URI fails with "Protocol
  // "http:" not supported". It accepts a custom Fetcher, so keys still come from jwksUri through
  // its own JWKS cache (kid lookup, penalty box); only the transport is plain http.
  note: 'JwtVerifier.create({ issuer, audience, jwksUri }) with SimpleJwksCache({ fetcher }) over http (its own fetcher is https-only)',
  async create({ issuer, audience, jwksUri }) {
    const { JwtVerifier } = require('aws-jwt-verify')
    const { SimpleJwksCache } = require('aws-jwt-verify/jwk')
    const fetcher = {
      async fetch(uri) {
        const res = await fetch(uri)
        if (res.status !== 200) throw new Error(`JWKS status ${res.status}`)
        return res.arrayBuffer()
      }
    }
    const verifier = JwtVerifier.create({ issuer, audience, jwksUri }, { jwksCache: new SimpleJwksCache({ fetcher }) })
    const verify = (token) => verifier.verify(token)
    return { forAlg: () => verify, payloadOf: identity }
  }
}

/** KeyObjects by kid, built once from the JWKS the server publishes. */
function staticKeys(jwks) {
  const byKid = new Map()
  for (const jwk of jwks.keys) byKid.set(jwk.kid, { alg: jwk.alg, key: crypto.createPublicKey({ key: jwk, format: 'jwk' }) })
  return byKid
}
function kidOfAlg(jwks, alg) {
  return jwks.keys.find((k) => k.alg === alg).kid
}

const nodeRs = {
  id: 'node-rs',
  label: '@node-rs/jsonwebtoken (static key)',
  kind: 'async',
  algs: ALL,
  missing: {},
  note: 'verify(token, pem, validation): no JWKS support, so the PEM is built once from the JWKS',
  async create({ issuer, audience, jwks }) {
    const { verify } = require('@node-rs/jsonwebtoken')
    const keys = staticKeys(jwks)
    return {
      forAlg(alg) {
        const pem = keys.get(kidOfAlg(jwks, alg)).key.export({ type: 'spki', format: 'pem' })
        const validation = { aud: [audience], iss: [issuer], algorithms: [alg], leeway: 0, validateExp: true, validateNbf: true }
        return (token) => verify(token, pem, validation)
      },
      payloadOf: identity
    }
  }
}

// ---- node:crypto reference: parse, verify with a pre-built KeyObject, check exp/nbf/iss/aud ----

const HASH = { RS256: 'sha256', ES256: 'sha256', EdDSA: null }
function referenceParts(token, keys, issuer, audience) {
  const first = token.indexOf('.')
  const second = token.indexOf('.', first + 1)
  if (first < 0 || second < 0 || token.indexOf('.', second + 1) >= 0) throw new Error('not a compact JWS')
  const header = JSON.parse(Buffer.from(token.slice(0, first), 'base64url').toString())
  const entry = keys.get(header.kid)
  if (!entry || entry.alg !== header.alg) throw new Error('no matching key')
  const payload = JSON.parse(Buffer.from(token.slice(first + 1, second), 'base64url').toString())
  const now = Math.floor(Date.now() / 1000)
  if (typeof payload.exp !== 'number' || payload.exp <= now) throw new Error('"exp" claim timestamp check failed')
  if (typeof payload.nbf === 'number' && payload.nbf > now) throw new Error('"nbf" claim timestamp check failed')
  if (payload.iss !== issuer) throw new Error('unexpected "iss" claim value')
  const aud = payload.aud
  if (!(aud === audience || (Array.isArray(aud) && aud.includes(audience)))) throw new Error('unexpected "aud" claim value')
  return {
    hash: HASH[header.alg],
    data: Buffer.from(token.slice(0, second)),
    key: { key: entry.key, dsaEncoding: 'ieee-p1363' },
    signature: Buffer.from(token.slice(second + 1), 'base64url'),
    payload
  }
}

const cryptoAsync = {
  id: 'crypto-async',
  label: 'node:crypto verify (KeyObject, async callback)',
  kind: 'async',
  algs: ALL,
  missing: {},
  note: 'reference: crypto.verify(..., callback) on the libuv pool, claims checked in JS',
  async create({ issuer, audience, jwks }) {
    const keys = staticKeys(jwks)
    const verify = (token) =>
      new Promise((resolve, reject) => {
        let p
        try {
          p = referenceParts(token, keys, issuer, audience)
        } catch (err) {
          reject(err)
          return
        }
        crypto.verify(p.hash, p.data, p.key, p.signature, (err, ok) => {
          if (err) reject(err)
          else if (!ok) reject(new Error('signature verification failed'))
          else resolve(p.payload)
        })
      })
    return { forAlg: () => verify, payloadOf: identity }
  }
}

const cryptoSync = {
  id: 'crypto-sync',
  label: 'node:crypto verify (KeyObject, sync)',
  kind: 'sync',
  algs: ALL,
  missing: {},
  note: 'reference: crypto.verify(...) on the JS thread, claims checked in JS',
  async create({ issuer, audience, jwks }) {
    const keys = staticKeys(jwks)
    const verify = (token) => {
      const p = referenceParts(token, keys, issuer, audience)
      if (!crypto.verify(p.hash, p.data, p.key, p.signature)) throw new Error('signature verification failed')
      return p.payload
    }
    return { forAlg: () => verify, payloadOf: identity }
  }
}

// ---- jwks-verify ----

// `revalidate`: the same Verifier with a bearer validation endpoint (bench/jwks-server.mjs) and
// `interval: '1h'`, so that no cached answer comes due during a run (with the default 5 minutes a
// run longer than 4 minutes would refresh answers in the background). The worker asks about every
// token of the pool before timing, so the rows measure verifications whose answer is cached: what
// `revalidate` costs on the hot path, which is nearly every request of a service.
// `shared`: the same Verifier with the shared tier on (`ctx.shared`, a Redis the caller started);
// bench/fleet.mjs compares it with the plain one on the hot path.
export const REVALIDATE_INTERVAL = '1h'

// `frozen`: the same Verifier with `results: 'frozen'` (deeply frozen results; a repeated token answered from the
// JS-side cache with the object it got before), loaded from the package face (FACE_ENTRY).
function jwksVerify({ sync, tokenCache, revalidate = false, baseline = false, shared = false, frozen = false }) {
  const suffix =
    (frozen ? '-frozen' : '') +
    (sync ? '-sync' : '') +
    (shared ? '-shared' : '') +
    (tokenCache ? '' : '-nocache') +
    (revalidate ? '-revalidate' : '') +
    (baseline ? '-baseline' : '')
  return {
    id: 'jwks-verify' + suffix,
    label:
      'jwks-verify ' +
      (sync ? 'verifySync' : 'verify') +
      (frozen ? " (results: 'frozen')" : '') +
      (shared ? ' + shared' : '') +
      (tokenCache ? '' : ' (tokenCache: false)') +
      (revalidate ? ' + revalidate (answers cached)' : '') +
      (baseline ? ' (baseline build)' : ''),
    kind: sync ? 'sync' : 'async',
    algs: ALL,
    missing: {},
    // Without the token cache the distinct pool measures parsing + signature + claims; with the
    // default cache (10,000 entries) a pool of 10,000 tokens is fully cached after one pass.
    poolOnly: !tokenCache,
    // With the cache on, the worker verifies the pool once before timing, so "distinct tokens"
    // measures the steady state (every token of the pool cached) instead of a warm-up mix. With
    // `revalidate` always: that pass caches the endpoint's answer for every token.
    primePool: tokenCache || revalidate,
    revalidate,
    note:
      (sync ? 'await v.ready(); v.verifySync(token)' : 'await v.verify(token)') +
      (tokenCache ? ' (default token cache, 10,000 entries)' : ' with tokenCache: false') +
      (frozen ? `, results: 'frozen', loaded from ${path.relative(ROOT, FACE_ENTRY) || FACE_ENTRY}` : '') +
      (revalidate ? `, revalidate: { endpoint, interval: '${REVALIDATE_INTERVAL}' }, every answer cached before timing` : '') +
      (shared ? ', shared: { redis, secret }' : '') +
      (baseline ? `, loaded from ${BASELINE_ENTRY}` : ''),
    async create({ issuer, audience, jwksUri, validateUrl, shared: sharedOptions }) {
      if (shared && !sharedOptions) throw new Error('this row needs ctx.shared (a Redis; see bench/fleet.mjs)')
      const { Verifier } = require(baseline ? BASELINE_ENTRY : frozen ? FACE_ENTRY : ADDON_ENTRY)
      // One Verifier per algorithm, as for an application whose provider signs with that
      // algorithm: each token cache then sees one pool (the key cache is shared per URL anyway).
      const verifiers = new Map()
      const extra = {
        ...(tokenCache ? {} : { tokenCache: false }),
        ...(revalidate ? { revalidate: { endpoint: validateUrl, interval: REVALIDATE_INTERVAL } } : {}),
        ...(shared ? { shared: sharedOptions } : {}),
        ...(frozen ? { results: 'frozen' } : {})
      }
      return {
        async prepare(alg) {
          const v = new Verifier({ issuer, jwksUri, audience, ...extra })
          if (sync) await v.ready()
          verifiers.set(alg, v)
        },
        forAlg(alg) {
          const v = verifiers.get(alg)
          return sync ? (token) => v.verifySync(token) : (token) => v.verify(token)
        },
        // verifySync never asks the endpoint (ERR_REVALIDATION_PENDING): the worker caches the
        // answers through the same Verifier's verify().
        primer: (alg) => {
          const v = verifiers.get(alg)
          return (token) => v.verify(token)
        },
        payloadOf: (r) => r.payload,
        stats: (alg) => verifiers.get(alg)?.stats(),
        close: () => {
          for (const v of verifiers.values()) v.close()
        }
      }
    }
  }
}

export const PEERS = [
  jose,
  fastJwt(false),
  fastJwt(true),
  jsonwebtoken,
  awsJwtVerify,
  nodeRs,
  cryptoAsync,
  cryptoSync,
  // Each jwks-verify row next to its twins (with `revalidate`; on the baseline build when one is
  // given), so the tables show them side by side and every round runs them one after the other.
  ...[
    [false, true],
    [false, false],
    [true, true],
    [true, false]
  ].flatMap(([sync, tokenCache]) => [
    jwksVerify({ sync, tokenCache }),
    jwksVerify({ sync, tokenCache, revalidate: true }),
    ...(BASELINE_ENTRY ? [jwksVerify({ sync, tokenCache, baseline: true })] : []),
    // The same-token rows of issue 12 are judged on the fastest async row with a token cache: this one too.
    ...(!sync && tokenCache ? [jwksVerify({ sync, tokenCache, frozen: true })] : [])
  ])
]

// Rows only bench/fleet.mjs runs (they need a Redis), beside their plain twins in PEERS.
const SHARED_PEERS = [
  jwksVerify({ sync: false, tokenCache: true, shared: true }),
  jwksVerify({ sync: false, tokenCache: false, shared: true })
]

export function peerById(id) {
  return PEERS.find((p) => p.id === id) || SHARED_PEERS.find((p) => p.id === id)
}
