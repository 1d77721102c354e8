// Keys and tokens for the benchmarks: one signing key per algorithm, a JWKS holding the public
// halves, and per algorithm one "same" token, a pool of distinct tokens and a few bad tokens that
// every library must refuse (so a peer that checks nothing cannot pass the correctness gate).

import crypto from 'node:crypto'

export const ALGS = ['RS256', 'ES256', 'EdDSA']
export const AUDIENCE = 'bench-api'

const KEYGEN = {
  RS256: ['rsa', { modulusLength: 2048 }],
  ES256: ['ec', { namedCurve: 'P-256' }],
  EdDSA: ['ed25519', {}]
}
const HASH = { RS256: 'sha256', ES256: 'sha256', EdDSA: null }

const b64url = (v) => Buffer.from(v).toString('base64url')

/** One key pair per algorithm, with its public JWK (kid, alg, use). */
export function generateKeys() {
  const keys = {}
  for (const alg of ALGS) {
    const [type, opts] = KEYGEN[alg]
    const { privateKey, publicKey } = crypto.generateKeyPairSync(type, opts)
    const kid = `bench-${alg.toLowerCase()}`
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' }
    keys[alg] = { alg, kid, privateKey, jwk }
  }
  return keys
}

function signingInput(key, payload, header = {}) {
  const h = b64url(JSON.stringify({ alg: key.alg, typ: 'JWT', kid: key.kid, ...header }))
  return h + '.' + b64url(JSON.stringify(payload))
}

function signAsync(key, input) {
  return new Promise((resolve, reject) => {
    crypto.sign(HASH[key.alg], Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' }, (err, sig) =>
      err ? reject(err) : resolve(input + '.' + b64url(sig))
    )
  })
}

/** A realistic access-token payload (about the size identity providers issue). */
function claims(issuer, alg, i, now, overrides = {}) {
  return {
    iss: issuer,
    sub: `user-${i}`,
    aud: AUDIENCE,
    iat: now,
    nbf: now - 5,
    exp: now + 3 * 3600,
    jti: `${alg}-${i}`,
    scope: 'openid profile email read:orders write:orders',
    client_id: 'bench-client',
    ...overrides
  }
}

/**
 * Tokens for one algorithm. `same` is the pool's first token, so a Verifier whose token cache
 * holds exactly the pool (10,000 by default) never sees more distinct valid tokens than that;
 * `outside` is a valid token that is not in the pool (the memory probe warms up with it);
 * `revoked` is a valid token that the validation endpoint refuses (the `revalidate` rows must too).
 * @returns {Promise<{ same: string, outside: string, revoked: string, pool: string[], bad: Record<string, string> }>}
 */
export async function makeTokens(key, { issuer, poolSize }) {
  const now = Math.floor(Date.now() / 1000)
  const alg = key.alg
  const outside = await signAsync(key, signingInput(key, claims(issuer, alg, 'outside', now)))
  const revoked = await signAsync(key, signingInput(key, claims(issuer, alg, 'revoked', now)))
  const pool = new Array(poolSize)
  const BATCH = 256
  for (let start = 0; start < poolSize; start += BATCH) {
    const batch = []
    for (let i = start; i < Math.min(poolSize, start + BATCH); i++) {
      batch.push(
        signAsync(key, signingInput(key, claims(issuer, alg, i, now))).then((t) => {
          pool[i] = t
        })
      )
    }
    await Promise.all(batch)
  }
  const same = pool[0]
  // Tokens that must fail: expired, wrong audience, wrong issuer, tampered signature.
  const bad = {
    expired: await signAsync(
      key,
      signingInput(key, claims(issuer, alg, 'expired', now, { iat: now - 7200, nbf: now - 7200, exp: now - 3600 }))
    ),
    wrongAudience: await signAsync(key, signingInput(key, claims(issuer, alg, 'aud', now, { aud: 'another-api' }))),
    wrongIssuer: await signAsync(key, signingInput(key, claims(issuer + '/other', alg, 'iss', now))),
    badSignature: tamper(same)
  }
  return { same, outside, revoked, pool, bad }
}

/** Changes one signature byte (not the last character, whose low bits may be padding). */
function tamper(token) {
  const dot = token.lastIndexOf('.')
  const sig = Buffer.from(token.slice(dot + 1), 'base64url')
  sig[Math.floor(sig.length / 2)] ^= 0x01
  return token.slice(0, dot + 1) + b64url(sig)
}

/** The `jti` the correctness gate expects for a token. */
export function expectedJti(token) {
  const payload = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString())
  return payload.jti
}
