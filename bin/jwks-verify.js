#!/usr/bin/env node
'use strict'
// jwks-verify command line: verify a token and say why it fails, list an issuer's keys, decode a token.
// The verdict always comes from the addon's `Verifier#verify`; this file only reads the token and the JWKS again
// to explain the verdict in words a person can act on. The rules come from the engine too: documents are fetched with
// its `fetchJson` (the key cache's https policy, redirects, size cap, timeout), keys judged by its `explainKeys`,
// URLs by `urlRefusal`, durations by `parseDuration`. What came from the network or the token is printed through
// `printable`.

const crypto = require('node:crypto')
const { parseArgs } = require('node:util')
const { isUnavailable } = require('../lib/http-answers.js')

const USAGE = `Usage:
  jwks-verify verify <token|-> --issuer <url> [--jwks-uri <url>] [--audience <aud>]... [options]
  jwks-verify inspect <jwks-uri | issuer> [--json] [--allow-http] [--timeout <duration>]
  jwks-verify decode <token|-> [--json]
  jwks-verify token (--token-url <url> | --issuer <url>) --client-id <id> [--client-secret-env <NAME>] [options]

Commands:
  verify    verify the token's signature against the issuer's JWKS and check its claims;
            prints the header, the payload and the verdict, and on failure explains why
  inspect   list the keys a JWKS publishes (kid, kty, alg, size/curve, use, x5c subject and expiry);
            given an issuer, the JWKS is found through its /.well-known/openid-configuration
  decode    show the header and payload WITHOUT verifying anything (labelled UNVERIFIED)
  token     obtain an access token by client credentials and print "Bearer <token>", e.g.
            curl -H "Authorization: $(jwks-verify token --token-url <url> --client-id <id> --client-secret-env SECRET)"

Options of verify:
  --issuer <url>            the exact "iss" accepted (required)
  --jwks-uri <url>          the JWKS; default: jwks_uri of the issuer's discovery document
  --audience <aud>          an accepted "aud"; repeat for several (default: aud not checked)
  --algorithms <list>       accepted algorithms, comma-separated (default: every asymmetric one)
  --clock-tolerance <dur>   leeway for exp/nbf/iat, e.g. 30s (default 0)
  --max-token-age <dur>     "iat" must be within this age, e.g. 1h
  --subject <sub>           the "sub" required
  --typ <typ>               the header "typ" required, e.g. at+jwt
  --timeout <dur>           HTTP timeout (default 5s)
  --allow-http              allow plain http for a non-loopback JWKS (loopback never needs it)
  --json                    print one JSON document instead of text

Is the token still live? (after the signature and claims pass, ask the issuer; tokens get revoked)
  --validate-url <url>      a bearer validation endpoint (SCAYLE .../v1/oauth/token/validate, Genesys
                            .../api/v2/tokens/me?preserveIdleTTL=true): the token goes as Authorization: Bearer
  --validate-method <m>     GET (default), HEAD or POST
  --introspect [url]        RFC 7662 introspection (an empty url: introspection_endpoint from discovery), with
  --client-id <id>          the client that may introspect, and its secret read from the environment:
  --client-secret-env <NAME>  the variable holding the client secret (never put a secret on the command line)
  --opaque                  accept a token that is not a JWT, on the endpoint's word alone (Genesys)
Options of token (the client secret is never an argument: it comes from the environment or standard input):
  --token-url <url>         the token endpoint (or --issuer: its token_endpoint from discovery)
  --issuer <url>            an issuer whose /.well-known/openid-configuration names the token endpoint
  --client-id <id>          the OAuth client (required)
  --client-secret-env <NAME>  read the client secret from the environment variable NAME;
                            without it (and without --private-key-file) it is read from standard input
  --private-key-file <path> private_key_jwt: a private JWK (JSON) or PEM key file, instead of a secret
  --auth-method <method>    client_secret_basic (default), client_secret_post or private_key_jwt
  --scope <scope>           a scope; repeat for several
  --audience <aud>          the "audience" parameter (Auth0)
  --resource <uri>          an RFC 8707 resource indicator; repeat for several
  --raw                     print the bare token instead of "Bearer <token>"
  --json                    print { accessToken, tokenType, expiresAt, scope }
  --timeout <dur>, --allow-http   as for verify

A token of "-" is read from standard input; a leading "Bearer " is removed.
Durations: seconds, or <number><ms|s|m|h|d>.
Fetches follow the Verifier's rules: https only (loopback excepted, or --allow-http), at most 3 redirects
under the same rule (and never from https to http), at most 1 MiB, --timeout. Text from the network or the
token is printed with control characters escaped (as \\u001b).

Exit codes:
  0  the token is valid (verify), or the command succeeded (inspect, decode, token)
  1  the token is invalid (verify), cannot be decoded (decode), or the token endpoint refused or failed (token)
  2  usage error (unknown command or option, missing argument, invalid option value)
  3  the signing keys are unavailable (JWKS or discovery unreachable, failing, rate limited or invalid),
     or the validation endpoint is (--validate-url, --introspect)
`

const EXIT = { OK: 0, INVALID: 1, USAGE: 2, KEYS_UNAVAILABLE: 3 }

class UsageError extends Error {}
class KeysUnavailableError extends Error {}

// ---------------------------------------------------------------- small helpers

/** The addon, loaded when first needed: `decode` works without it. */
const engine = () => require('../lib/load.js')

/**
 * `text` safe for a terminal: C0 and C1 control characters, DEL, and the Unicode line separators and bidi controls
 * (which can reorder what a reader sees) become JSON-style escapes such as `\u001b`. Idempotent.
 */
function printable(text) {
  return String(text).replace(
    /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
}

/** Writes `lines` to `stream`, each through `printable`: no value can reach the terminal raw or break a line. */
function writeLines(lines, stream = process.stdout) {
  stream.write(`${lines.map(printable).join('\n')}\n`)
}

/** Runs `fn`; the engine's ERR_INVALID_OPTIONS becomes a usage error (exit 2) with the engine's message. */
function asUsage(fn) {
  try {
    return fn()
  } catch (err) {
    if (err && err.code === 'ERR_INVALID_OPTIONS') throw new UsageError(err.message)
    throw err
  }
}

/** "3 min 20 s", "2 h 5 min", "1 d 3 h", "45 s" (the two largest units). */
function formatDuration(seconds) {
  let s = Math.round(Math.abs(seconds))
  if (s < 60) return `${s} s`
  const units = [
    ['d', 86400],
    ['h', 3600],
    ['min', 60],
    ['s', 1],
  ]
  const parts = []
  for (const [name, size] of units) {
    const n = Math.floor(s / size)
    if (n > 0 || parts.length > 0) parts.push([n, name])
    s -= n * size
    if (parts.length === 2) break
  }
  return parts
    .filter(([n], i) => n > 0 || i === 0)
    .map(([n, name]) => `${n} ${name}`)
    .join(' ')
}

/**
 * A duration argument, read by the engine: `{ value, seconds }`, `value` as the Verifier options take it (argv holds
 * only strings, so a bare number becomes a number: seconds). A duration the engine refuses is a usage error.
 */
function durationArg(text, option) {
  const value = /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text
  return { value, seconds: asUsage(() => engine().parseDuration(value, option)) / 1000 }
}

const nowSeconds = () => Date.now() / 1000

function isoDate(seconds) {
  const d = new Date(seconds * 1000)
  return Number.isNaN(d.getTime()) ? String(seconds) : d.toISOString().replace('.000Z', 'Z')
}

/** "in 4 min 10 s" / "3 min 20 s ago" for an epoch time in seconds. */
function relative(seconds) {
  const delta = seconds - nowSeconds()
  return delta >= 0 ? `in ${formatDuration(delta)}` : `${formatDuration(delta)} ago`
}

/** A usage error unless the engine would fetch `url` (its https policy); `what` names the argument. */
function checkUrl(url, allowHttp, what) {
  const why = engine().urlRefusal(url, allowHttp)
  if (why === null) return
  const hint = !allowHttp && engine().urlRefusal(url, true) === null ? '; use https, or --allow-http' : ''
  throw new UsageError(`${what}: ${url} ${why}${hint}`)
}

/** Decodes a compact JWS for display only: `{ header, payload, parts, problem }` (nothing is verified). */
function decodeToken(token) {
  const parts = token.split('.')
  const out = { header: undefined, payload: undefined, parts: parts.length, problem: undefined }
  if (parts.length === 5) {
    out.problem = 'the token has 5 parts: it is an encrypted token (JWE), not a signed one (JWS)'
    return out
  }
  if (parts.length !== 3) {
    out.problem = `a compact JWS has 3 parts separated by ".", this token has ${parts.length}`
    return out
  }
  const decodePart = (text, name) => {
    if (!/^[A-Za-z0-9_-]*$/.test(text))
      throw new Error(`the ${name} is not base64url (characters outside A-Z a-z 0-9 - _)`)
    const json = Buffer.from(text, 'base64url').toString('utf8')
    try {
      return JSON.parse(json)
    } catch {
      throw new Error(`the ${name} is not JSON`)
    }
  }
  try {
    out.header = decodePart(parts[0], 'header')
    out.payload = decodePart(parts[1], 'payload')
  } catch (err) {
    out.problem = err.message
  }
  return out
}

/** Reads a token argument ("-" = standard input), trimming whitespace and a "Bearer " prefix. */
async function readToken(arg) {
  let text = arg
  if (arg === '-') {
    const chunks = []
    for await (const chunk of process.stdin) chunks.push(chunk)
    text = Buffer.concat(chunks).toString('utf8')
  }
  text = text.trim().replace(/^bearer\s+/i, '')
  if (text === '') throw new UsageError('the token is empty')
  return text
}

/**
 * `{ url, status, headers, body }` of a JSON document fetched by the engine under the key cache's rules (`http`: the
 * Verifier's `http` option). The 503-class codes become a KeysUnavailableError (exit 3) keeping `code`, `status` and
 * `retryAfter`; `what` names the document in the message.
 */
async function fetchJson(url, http, what) {
  try {
    return await engine().fetchJson(url, http)
  } catch (err) {
    if (!err || !isUnavailable(err.code)) throw err
    const { code, status, retryAfter } = err
    throw Object.assign(new KeysUnavailableError(`cannot fetch ${what}: ${err.message}`), { code, status, retryAfter })
  }
}

/** `{ jwksUri, issuer }` for an issuer through its discovery document. */
async function discover(issuer, http) {
  const discoveryUrl = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`
  const { body } = await fetchJson(discoveryUrl, http, 'the discovery document')
  if (!body || typeof body.jwks_uri !== 'string') {
    throw new KeysUnavailableError(`the discovery document ${discoveryUrl} has no jwks_uri`)
  }
  return { jwksUri: body.jwks_uri, issuer: body.issuer, discoveryUrl }
}

const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value)

/**
 * Facts about one JWK for display: kid, kty, alg, use, size or curve, x5c certificate, notes; `usable` and `reason`
 * are the engine's verdict (`explainKeys`), the only judge of whether jwks-verify uses the key.
 */
function describeKey(value, verdict) {
  const jwk = isObject(value) ? value : {}
  const info = {
    kid: jwk.kid ?? null,
    kty: jwk.kty ?? null,
    alg: jwk.alg ?? null,
    use: jwk.use ?? null,
    size: null,
    curve: jwk.crv ?? null,
    x5c: null,
    usable: verdict.usable,
    ...(verdict.usable ? {} : { reason: verdict.reason }),
    notes: verdict.usable ? [] : [`not used by jwks-verify: ${verdict.reason}`],
  }
  let keyObject
  const members = { ...jwk }
  delete members.x5c
  try {
    if (jwk.kty === 'oct') {
      info.size = typeof jwk.k === 'string' ? Buffer.from(jwk.k, 'base64url').length * 8 : null
    } else if ((jwk.kty === 'RSA' && jwk.n) || jwk.x) {
      keyObject = crypto.createPublicKey({ key: members, format: 'jwk' })
    }
  } catch {
    // not a key node can read: the verdict says why
  }
  if (Array.isArray(jwk.x5c) && typeof jwk.x5c[0] === 'string') {
    try {
      const cert = new crypto.X509Certificate(Buffer.from(jwk.x5c[0], 'base64'))
      const validTo = new Date(cert.validTo)
      info.x5c = {
        subject: cert.subject.replace(/\n/g, ', '),
        issuer: cert.issuer.replace(/\n/g, ', '),
        validFrom: new Date(cert.validFrom).toISOString(),
        validTo: validTo.toISOString(),
        expired: validTo.getTime() < Date.now(),
        chainLength: jwk.x5c.length,
      }
      if (keyObject) {
        const same = cert.publicKey
          .export({ format: 'der', type: 'spki' })
          .equals(keyObject.export({ format: 'der', type: 'spki' }))
        info.x5c.matchesKey = same
      } else {
        keyObject = cert.publicKey
      }
      if (info.x5c.expired) info.notes.push('the x5c certificate has expired (jwks-verify uses the key, not the dates)')
    } catch {
      // not a certificate node can read: the verdict says why
    }
  }
  if (keyObject) {
    const details = keyObject.asymmetricKeyDetails || {}
    if (details.modulusLength) info.size = details.modulusLength
    if (details.namedCurve)
      info.curve =
        { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' }[details.namedCurve] || details.namedCurve
    if (keyObject.asymmetricKeyType === 'ed25519' || keyObject.asymmetricKeyType === 'ed448')
      info.curve = info.curve || (keyObject.asymmetricKeyType === 'ed25519' ? 'Ed25519' : 'Ed448')
  }
  return info
}

/** The JWKS for an explanation (never for the verdict); `null` and a reason when it cannot be had. */
async function fetchKeysForExplanation(jwksUri, http) {
  try {
    const { body } = await fetchJson(jwksUri, http, 'the JWKS')
    if (!body || !Array.isArray(body.keys)) return { keys: null, problem: `${jwksUri} is not a JWKS (no "keys" array)` }
    return { keys: body.keys }
  } catch (err) {
    return { keys: null, problem: err.message }
  }
}

function keyLabel(value) {
  const jwk = isObject(value) ? value : {}
  const bits = [jwk.kty, jwk.alg, jwk.use && `use ${jwk.use}`].filter(Boolean).join(', ')
  return `"${jwk.kid ?? '(no kid)'}"${bits ? ` (${bits})` : ''}`
}

/** The key type an algorithm needs, to explain why a key published under the token's kid does not fit it. */
const KTY_FOR = (alg) =>
  /^(RS|PS)/.test(alg)
    ? 'RSA'
    : /^ES/.test(alg)
      ? 'EC'
      : alg === 'EdDSA' || alg === 'Ed25519'
        ? 'OKP'
        : /^HS/.test(alg)
          ? 'oct'
          : null

// ---------------------------------------------------------------- explanations of a failed verify

async function explain(err, ctx) {
  const header = isObject(ctx.decoded.header) ? ctx.decoded.header : {}
  const payload = isObject(ctx.decoded.payload) ? ctx.decoded.payload : {}
  const lines = []
  const code = err.code
  const tol = ctx.clockTolerance || 0
  const tolText = tol ? ` (clock tolerance ${formatDuration(tol)})` : ''
  switch (code) {
    case 'ERR_JWS_INVALID':
      lines.push(`The token is not a well-formed signed JWT: ${err.message}.`)
      if (ctx.decoded.problem) lines.push(`Decoding it: ${ctx.decoded.problem}.`)
      if (/\s/.test(ctx.token)) lines.push('It contains whitespace: was it copied with a line break?')
      break
    case 'ERR_JWT_INVALID':
      lines.push(`The payload is not a JSON object of claims: ${err.message}.`)
      break
    case 'ERR_JOSE_ALG_NOT_ALLOWED': {
      const alg = header.alg
      const { asymmetric, symmetric } = engine().algorithms()
      const allowed = ctx.algorithms || asymmetric
      if (alg === undefined) lines.push('The token header names no algorithm ("alg" is missing).')
      else if (String(alg).toLowerCase() === 'none')
        lines.push('The token is unsigned (alg "none"); unsigned tokens are never accepted.')
      else if (symmetric.includes(alg) && !allowed.includes(alg)) {
        lines.push(
          `The token is signed with ${alg}, a shared-secret algorithm; the issuer's public keys cannot verify it.`,
        )
        lines.push(
          `Accepted algorithms: ${allowed.join(', ')}. A token made with a public key as HMAC secret is a known forgery.`,
        )
      } else
        lines.push(
          `The algorithm ${alg} was refused: accepted algorithms are ${allowed.join(', ')} (see --algorithms).`,
        )
      break
    }
    case 'ERR_JOSE_NOT_SUPPORTED':
      lines.push(`The token uses a JWS feature that is not supported: ${err.message}.`)
      if (header.crit) lines.push(`Its header marks as critical: ${[].concat(header.crit).join(', ')}.`)
      break
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED': {
      const jwksUri = await ctx.jwksUri()
      const { keys, problem } = jwksUri
        ? await fetchKeysForExplanation(jwksUri, ctx.http)
        : { keys: null, problem: 'the JWKS URL is unknown' }
      const kid = header.kid
      if (code === 'ERR_JWKS_NO_MATCHING_KEY') {
        lines.push(
          kid !== undefined
            ? `The token names kid "${kid}" (alg ${header.alg}), and no usable key with that kid is published.`
            : `The token names no kid, and no published key fits its alg ${header.alg}.`,
        )
      } else {
        lines.push(
          `The signature does not verify${kid !== undefined ? ` with the published key "${kid}"` : ''}: the token was altered, or signed by a different key` +
            `${kid !== undefined ? ' published under the same kid (another environment or tenant of the provider?)' : ''}.`,
        )
      }
      if (keys) {
        const kids = keys.map((k) => keyLabel(k))
        lines.push(
          `The JWKS at ${jwksUri} has ${keys.length} key${keys.length === 1 ? '' : 's'}${keys.length ? `: ${kids.join(', ')}` : ''}.`,
        )
        if (code === 'ERR_JWKS_NO_MATCHING_KEY' && kid !== undefined) {
          const verdicts = engine().explainKeys({ keys })
          const same = keys.filter((k) => isObject(k) && k.kid === kid)
          if (same.length === 0) {
            lines.push(
              `The kid "${kid}" is not in it: the token comes from another issuer or environment, or the key was rotated out.`,
            )
          } else {
            for (const k of same) {
              const verdict = verdicts[keys.indexOf(k)]
              const why = []
              const wantKty = KTY_FOR(header.alg)
              if (wantKty && k.kty !== wantKty) why.push(`it is a ${k.kty} key and ${header.alg} needs ${wantKty}`)
              if (k.alg && k.alg !== header.alg) why.push(`its alg is ${k.alg}, the token's ${header.alg}`)
              if (!verdict.usable) why.push(verdict.reason)
              lines.push(
                `A key "${kid}" is published but cannot verify this token${why.length ? `: ${why.join('; ')}` : ''}.`,
              )
            }
          }
        }
      } else if (problem) {
        lines.push(`(The JWKS could not be fetched for details: ${problem}.)`)
      }
      break
    }
    case 'ERR_JWT_EXPIRED': {
      if (
        err.claim === 'iat' ||
        (err.claim === undefined &&
          ctx.maxTokenAge &&
          typeof payload.iat === 'number' &&
          !(typeof payload.exp === 'number' && payload.exp < nowSeconds()))
      ) {
        const age = nowSeconds() - payload.iat
        lines.push(
          `The token is too old: issued ${formatDuration(age)} ago (iat ${isoDate(payload.iat)}), more than the maximum age ${formatDuration(ctx.maxTokenAge || 0)}${tolText}.`,
        )
      } else if (typeof payload.exp === 'number') {
        lines.push(
          `The token expired ${formatDuration(nowSeconds() - payload.exp)} ago (exp ${isoDate(payload.exp)})${tolText}.`,
        )
        if (typeof payload.iat === 'number')
          lines.push(
            `It was issued ${formatDuration(nowSeconds() - payload.iat)} ago and lived ${formatDuration(payload.exp - payload.iat)}: get a fresh token.`,
          )
      } else lines.push(`The token has expired: ${err.message}.`)
      break
    }
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const claim = err.claim
      const value = claim ? payload[claim] : undefined
      const show = (v) => (v === undefined ? 'absent' : JSON.stringify(v))
      if (claim === 'iss') {
        lines.push(
          `The token's issuer is ${show(payload.iss)}; the issuer expected is ${JSON.stringify(ctx.issuer)} (--issuer).`,
        )
        if (
          typeof payload.iss === 'string' &&
          payload.iss.replace(/\/+$/, '') === String(ctx.issuer).replace(/\/+$/, '')
        ) {
          lines.push('They differ only by a trailing "/": issuers are compared exactly; pass the value from the token.')
        }
      } else if (claim === 'aud') {
        lines.push(
          `The token's audience is ${show(payload.aud)}; expected ${ctx.audience && ctx.audience.length > 1 ? 'one of ' : ''}${ctx.audience ? ctx.audience.map((a) => JSON.stringify(a)).join(', ') : '(none configured)'} (--audience).`,
        )
      } else if (claim === 'nbf' && typeof payload.nbf === 'number') {
        lines.push(
          `The token is not valid yet: nbf ${isoDate(payload.nbf)}, ${formatDuration(payload.nbf - nowSeconds())} from now${tolText}. Is a clock wrong?`,
        )
      } else if (claim === 'iat' && typeof payload.iat === 'number') {
        lines.push(
          `The token claims to be issued in the future: iat ${isoDate(payload.iat)}, ${formatDuration(payload.iat - nowSeconds())} ahead of this clock${tolText}. Is a clock wrong?`,
        )
      } else if (claim === 'sub') {
        lines.push(`The token's subject is ${show(payload.sub)}; expected ${JSON.stringify(ctx.subject)} (--subject).`)
      } else if (claim === 'typ') {
        lines.push(`The token's header typ is ${show(header.typ)}; expected ${JSON.stringify(ctx.typ)} (--typ).`)
      } else if (claim && value === undefined) {
        lines.push(`The claim "${claim}" is required and the token does not have it.`)
      } else {
        lines.push(
          `The ${claim ? `claim "${claim}" (${show(value)})` : 'claims'} failed: ${err.message}${err.reason ? ` (${err.reason})` : ''}.`,
        )
      }
      break
    }
    case 'ERR_TOKEN_INACTIVE':
      lines.push('The signature and claims are fine, but the issuer says the token is no longer active:')
      lines.push("it was revoked, it expired on the issuer's side, or the issuer does not know it.")
      break
    case 'ERR_REVALIDATION_FAILED':
      lines.push(`The validation endpoint gave no answer: ${err.message}.`)
      if (err.status === 401 || err.status === 403)
        lines.push('For introspection, check --client-id and the secret in --client-secret-env.')
      if (typeof err.retryAfter === 'number') lines.push(`It asks to retry after ${formatDuration(err.retryAfter)}.`)
      lines.push('This says nothing about the token itself; try again later.')
      break
    default:
      if (isUnavailable(code)) {
        const jwksUri = ctx.configuredJwksUri || (await ctx.jwksUri({ fetch: false }))
        lines.push(`The issuer's signing keys could not be had${jwksUri ? ` from ${jwksUri}` : ''}: ${err.message}.`)
        if (err.status) lines.push(`The endpoint answered HTTP ${err.status}.`)
        if (typeof err.retryAfter === 'number')
          lines.push(`The provider asks to retry after ${formatDuration(err.retryAfter)}.`)
        lines.push('This says nothing about the token: try again later, or check --issuer / --jwks-uri.')
      } else {
        lines.push(`${err.code ? `${err.code}: ` : ''}${err.message}`)
      }
  }
  return lines
}

// ---------------------------------------------------------------- output

/**
 * One JSON document. JSON.stringify escapes C0 controls but leaves DEL, C1 and the bidi controls raw; `writeLines`
 * escapes those too (they occur only inside strings, so the document parses to the same value).
 */
function printJson(value) {
  writeLines(JSON.stringify(value, null, 2).split('\n'))
}

function claimTimes(payload) {
  const lines = []
  if (!payload || typeof payload !== 'object') return lines
  for (const claim of ['iat', 'nbf', 'exp']) {
    if (typeof payload[claim] === 'number')
      lines.push(`  ${claim.padEnd(3)}  ${isoDate(payload[claim])}  (${relative(payload[claim])})`)
  }
  return lines
}

function printDecoded(label, decoded) {
  const out = []
  out.push(`Header (${label}):`)
  out.push(...(JSON.stringify(decoded.header, null, 2) ?? '(none)').split('\n'))
  out.push(`Payload (${label}):`)
  out.push(...(JSON.stringify(decoded.payload, null, 2) ?? '(none)').split('\n'))
  out.push(...claimTimes(decoded.payload))
  writeLines(out)
}

// ---------------------------------------------------------------- commands

const COMMON = {
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
}

/** Levenshtein distance, for "did you mean" hints. */
function editDistance(a, b) {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    row = next
  }
  return row[b.length]
}

/** node's parseArgs errors in the CLI's words: `unknown option --isuer (did you mean --issuer?)`. */
function argsError(err, options) {
  const option = /'(-[^' ]+)/.exec(err.message)?.[1]
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option) {
    const given = option.replace(/^-+/, '').split('=')[0]
    const closest = Object.keys(options)
      .map((name) => [editDistance(given.toLowerCase(), name.toLowerCase()), name])
      .filter(([d, name]) => (d <= 2 && d < given.length) || (given.length >= 3 && name.startsWith(given)))
      .sort((x, y) => x[0] - y[0])[0]
    return `unknown option ${option}${closest ? ` (did you mean --${closest[1]}?)` : ''}`
  }
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option) {
    return /argument missing/.test(err.message)
      ? `option ${option} needs a value (${option} <value>)`
      : `option ${option} takes no value`
  }
  return err.message.replace(/\n/g, ' ')
}

function parse(args, options) {
  const all = { ...COMMON, ...options }
  try {
    return parseArgs({ args, options: all, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError(argsError(err, all))
  }
}

async function commandDecode(args) {
  const { values, positionals } = parse(args, {})
  if (positionals.length !== 1) throw new UsageError('decode takes one token (or "-" for standard input)')
  const token = await readToken(positionals[0])
  const decoded = decodeToken(token)
  if (values.json) {
    printJson({
      verified: false,
      note: 'UNVERIFIED: decoded only, the signature and claims were not checked',
      header: decoded.header ?? null,
      payload: decoded.payload ?? null,
      ...(decoded.problem ? { problem: decoded.problem } : {}),
    })
  } else {
    writeLines(['UNVERIFIED: decoded only; the signature and the claims were NOT checked.'])
    if (decoded.problem) writeLines([`Cannot decode the token: ${decoded.problem}.`])
    else printDecoded('UNVERIFIED', decoded)
  }
  return decoded.problem ? EXIT.INVALID : EXIT.OK
}

async function commandInspect(args) {
  const { values, positionals } = parse(args, {
    'allow-http': { type: 'boolean', default: false },
    timeout: { type: 'string' },
  })
  if (positionals.length !== 1) throw new UsageError('inspect takes one JWKS URL or issuer')
  const allowHttp = values['allow-http']
  const http = {
    ...(allowHttp ? { allowHttp: true } : {}),
    ...(values.timeout ? { timeout: durationArg(values.timeout, '--timeout').value } : {}),
  }
  const target = positionals[0]
  checkUrl(target, allowHttp, 'inspect')
  let jwksUri
  let issuer
  let doc
  if (/\/\.well-known\/openid-configuration$/.test(new URL(target).pathname)) {
    ;({ jwksUri, issuer } = await discover(target.replace(/\/\.well-known\/openid-configuration$/, ''), http))
  } else {
    let first
    try {
      first = await fetchJson(target, http, target)
    } catch (err) {
      first = { error: err }
    }
    if (first.body && Array.isArray(first.body.keys)) {
      jwksUri = target
      doc = first
    } else if (first.body && typeof first.body.jwks_uri === 'string') {
      jwksUri = first.body.jwks_uri
      issuer = first.body.issuer
    } else {
      try {
        ;({ jwksUri, issuer } = await discover(target, http))
      } catch (err) {
        const firstWhy = first.error ? first.error.message : `${target} is not a JWKS (no "keys" array)`
        throw new KeysUnavailableError(`${firstWhy}; as an issuer: ${err.message}`)
      }
    }
  }
  if (!doc) {
    checkUrl(jwksUri, allowHttp, 'jwks_uri')
    doc = await fetchJson(jwksUri, http, 'the JWKS')
    if (!doc.body || !Array.isArray(doc.body.keys))
      throw new KeysUnavailableError(`${jwksUri} is not a JWKS (no "keys" array)`)
  }
  const verdicts = engine().explainKeys(doc.body)
  const keys = doc.body.keys.map((k, i) => describeKey(k, verdicts[i]))
  const cacheControl = doc.headers['cache-control']
  if (values.json) {
    printJson({ jwksUri, ...(issuer ? { issuer } : {}), cacheControl: cacheControl ?? null, keys })
    return EXIT.OK
  }
  const out = []
  if (issuer) out.push(`Issuer:   ${issuer}`)
  out.push(`JWKS:     ${jwksUri}`)
  out.push(
    `Caching:  ${cacheControl ? `Cache-Control: ${cacheControl}` : 'no Cache-Control (jwks-verify keeps keys 10 min by default)'}`,
  )
  out.push(`Keys:     ${keys.length}`)
  for (const k of keys) {
    out.push('')
    out.push(`  kid    ${k.kid ?? '(none)'}`)
    out.push(`  kty    ${k.kty ?? '(none)'}`)
    out.push(`  alg    ${k.alg ?? '(none: any algorithm of its type)'}`)
    out.push(
      `  ${k.kty === 'RSA' || k.kty === 'oct' ? 'size ' : 'curve'}  ${k.kty === 'RSA' || k.kty === 'oct' ? (k.size ? `${k.size} bits` : '?') : (k.curve ?? '?')}`,
    )
    out.push(`  use    ${k.use ?? '(none)'}`)
    if (k.x5c) {
      out.push(
        `  x5c    subject ${k.x5c.subject}; expires ${k.x5c.validTo}${k.x5c.expired ? ' (EXPIRED)' : ` (${relative(Date.parse(k.x5c.validTo) / 1000)})`}`,
      )
    }
    for (const note of k.notes) out.push(`  note   ${note}`)
  }
  writeLines(out)
  return EXIT.OK
}

/** The Verifier's `revalidate` option from --validate-url / --introspect (or undefined). */
function revalidateOption(values) {
  const validate = values['validate-url']
  const introspect = values.introspect
  if (validate !== undefined && introspect !== undefined)
    throw new UsageError('give either --validate-url or --introspect, not both')
  if (values.opaque && validate === undefined && introspect === undefined)
    throw new UsageError(
      '--opaque needs --validate-url or --introspect: only the endpoint can vouch for an opaque token',
    )
  const common = { interval: 0, ...(values.opaque ? { opaque: true } : {}) }
  if (validate !== undefined) {
    const method = values['validate-method']?.toUpperCase()
    if (method !== undefined && !['GET', 'HEAD', 'POST'].includes(method))
      throw new UsageError(`--validate-method: "${values['validate-method']}" is not GET, HEAD or POST`)
    return { endpoint: validate, ...(method ? { method } : {}), ...common }
  }
  if (introspect === undefined) return undefined
  const clientId = values['client-id']
  const envName = values['client-secret-env']
  if (!clientId || !envName)
    throw new UsageError(
      '--introspect needs --client-id and --client-secret-env <NAME> (the variable holding the secret)',
    )
  const clientSecret = process.env[envName]
  if (!clientSecret)
    throw new UsageError(`--client-secret-env: the environment variable ${envName} is empty or not set`)
  return {
    introspection: { ...(introspect !== '' ? { endpoint: introspect } : {}), clientId, clientSecret },
    ...common,
  }
}

async function commandVerify(args) {
  const { values, positionals } = parse(args, {
    issuer: { type: 'string' },
    'jwks-uri': { type: 'string' },
    audience: { type: 'string', multiple: true },
    algorithms: { type: 'string' },
    'clock-tolerance': { type: 'string' },
    'max-token-age': { type: 'string' },
    subject: { type: 'string' },
    typ: { type: 'string' },
    timeout: { type: 'string' },
    'allow-http': { type: 'boolean', default: false },
    'validate-url': { type: 'string' },
    'validate-method': { type: 'string' },
    introspect: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret-env': { type: 'string' },
    opaque: { type: 'boolean', default: false },
  })
  if (positionals.length !== 1) throw new UsageError('verify takes one token (or "-" for standard input)')
  if (!values.issuer) throw new UsageError('verify needs --issuer <url> (the exact "iss" to accept)')
  const revalidate = revalidateOption(values)
  const token = await readToken(positionals[0])
  const allowHttp = values['allow-http']
  if (values['jwks-uri']) checkUrl(values['jwks-uri'], allowHttp, '--jwks-uri')
  const durations = {}
  for (const [option, name] of [
    ['clock-tolerance', 'clockTolerance'],
    ['max-token-age', 'maxTokenAge'],
    ['timeout', 'timeout'],
  ]) {
    if (values[option] !== undefined) durations[name] = durationArg(values[option], `--${option}`)
  }
  const http = {
    ...(allowHttp ? { allowHttp: true } : {}),
    ...(durations.timeout ? { timeout: durations.timeout.value } : {}),
  }

  const ctx = {
    token,
    decoded: decodeToken(token),
    issuer: values.issuer,
    audience: values.audience,
    algorithms: values.algorithms
      ? values.algorithms
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : undefined,
    clockTolerance: durations.clockTolerance ? durations.clockTolerance.seconds : 0,
    maxTokenAge: durations.maxTokenAge ? durations.maxTokenAge.seconds : undefined,
    subject: values.subject,
    typ: values.typ,
    http,
    configuredJwksUri: values['jwks-uri'],
  }
  const options = {
    issuer: values.issuer,
    ...(values['jwks-uri'] ? { jwksUri: values['jwks-uri'] } : {}),
    ...(ctx.audience ? { audience: ctx.audience.length === 1 ? ctx.audience[0] : ctx.audience } : {}),
    ...(ctx.algorithms ? { algorithms: ctx.algorithms } : {}),
    ...(durations.clockTolerance ? { clockTolerance: durations.clockTolerance.value } : {}),
    ...(durations.maxTokenAge ? { maxTokenAge: durations.maxTokenAge.value } : {}),
    ...(values.subject ? { subject: values.subject } : {}),
    ...(values.typ ? { typ: values.typ } : {}),
    http,
    tokenCache: false,
    // The CLI explains failures itself (and its output may be JSON): no log lines.
    logger: false,
    ...(revalidate ? { revalidate } : {}),
  }
  const { Verifier } = engine()
  const verifier = asUsage(() => new Verifier(options))
  let discovered
  ctx.jwksUri = async ({ fetch: mayFetch = true } = {}) => {
    if (values['jwks-uri']) return values['jwks-uri']
    try {
      const health = verifier.health()
      if (health && health[0] && health[0].jwksUri) return health[0].jwksUri
    } catch {}
    if (!mayFetch) return undefined
    if (discovered === undefined) {
      discovered = await discover(values.issuer, http).then(
        (d) => d.jwksUri,
        () => null,
      )
    }
    return discovered || undefined
  }

  try {
    let result
    let error
    try {
      result = await verifier.verify(token)
    } catch (err) {
      error = err
    }
    if (result && result.header === null) {
      const verdict =
        'LIVE: the validation endpoint accepts this opaque token (nothing else was checked: it is not a JWT).'
      if (values.json) printJson({ valid: true, header: null, payload: result.payload, issuer: result.issuer, verdict })
      else writeLines([`Endpoint answer: ${JSON.stringify(result.payload)}`, '', verdict])
      return EXIT.OK
    }
    if (result) {
      const jwksUri = await ctx.jwksUri({ fetch: false })
      const exp = result.payload && typeof result.payload.exp === 'number' ? result.payload.exp : undefined
      const verdict = `VALID: signature verified with key ${result.header.kid !== undefined ? `"${result.header.kid}" ` : ''}(${result.header.alg}) of issuer ${result.issuer}${jwksUri ? ` from ${jwksUri}` : ''}; claims accepted${revalidate ? '; the validation endpoint says it is live' : ''}${exp !== undefined ? `; expires ${relative(exp)}` : ''}.`
      if (values.json)
        printJson({
          valid: true,
          header: result.header,
          payload: result.payload,
          issuer: result.issuer,
          jwksUri: jwksUri ?? null,
          verdict,
        })
      else {
        printDecoded('verified', result)
        writeLines(['', verdict])
      }
      return EXIT.OK
    }
    if (!error || typeof error !== 'object') error = new Error(String(error))
    if (error.code === 'ERR_INVALID_OPTIONS') throw new UsageError(error.message)
    const lines = await explain(error, ctx)
    const exit = isUnavailable(error.code) ? EXIT.KEYS_UNAVAILABLE : EXIT.INVALID
    const verdictWord =
      error.code === 'ERR_REVALIDATION_FAILED'
        ? 'VALIDATION ENDPOINT UNAVAILABLE'
        : error.code === 'ERR_TOKEN_INACTIVE'
          ? 'REVOKED OR INACTIVE'
          : exit === EXIT.KEYS_UNAVAILABLE
            ? 'KEYS UNAVAILABLE'
            : 'INVALID'
    if (values.json) {
      printJson({
        valid: false,
        code: error.code ?? null,
        message: error.message,
        ...(error.claim !== undefined ? { claim: error.claim } : {}),
        ...(error.reason !== undefined ? { reason: error.reason } : {}),
        ...(error.kid !== undefined ? { kid: error.kid } : {}),
        ...(error.status !== undefined ? { status: error.status } : {}),
        ...(error.retryAfter !== undefined ? { retryAfter: error.retryAfter } : {}),
        explanation: lines,
        header: ctx.decoded.header ?? null,
        payload: ctx.decoded.payload ?? null,
      })
    } else {
      if (ctx.decoded.header !== undefined) printDecoded('UNVERIFIED', ctx.decoded)
      writeLines(['', `${verdictWord} (${error.code ?? 'error'}): ${error.message}`, ...lines.map((l) => `  ${l}`)])
    }
    return exit
  } finally {
    verifier.close()
  }
}

/** The client secret of `token`: the environment variable named, or standard input (one trailing newline dropped). */
async function readClientSecret(envName) {
  if (envName !== undefined) {
    const secret = process.env[envName]
    if (!secret) throw new UsageError(`--client-secret-env: the environment variable ${envName} is not set or empty`)
    return secret
  }
  if (process.stdin.isTTY) {
    throw new UsageError(
      'token needs the client secret: --client-secret-env NAME, or on standard input (never as an argument)',
    )
  }
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  const secret = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '')
  if (secret === '')
    throw new UsageError('the client secret on standard input is empty (or give --client-secret-env NAME)')
  return secret
}

async function commandToken(args) {
  const { values, positionals } = parse(args, {
    'token-url': { type: 'string' },
    issuer: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret-env': { type: 'string' },
    'private-key-file': { type: 'string' },
    'auth-method': { type: 'string' },
    scope: { type: 'string', multiple: true },
    audience: { type: 'string' },
    resource: { type: 'string', multiple: true },
    raw: { type: 'boolean', default: false },
    timeout: { type: 'string' },
    'allow-http': { type: 'boolean', default: false },
  })
  if (positionals.length)
    throw new UsageError(
      'token takes no arguments: the client secret comes from --client-secret-env NAME or standard input',
    )
  if (!values['client-id']) throw new UsageError('token needs --client-id <id>')
  if (!values['token-url'] === !values.issuer)
    throw new UsageError('token needs --token-url <url> or --issuer <url> (one of them)')
  const keyFile = values['private-key-file']
  let credential
  if (keyFile !== undefined) {
    if (values['client-secret-env'] !== undefined)
      throw new UsageError('--private-key-file and --client-secret-env exclude each other')
    let text
    try {
      text = require('node:fs').readFileSync(keyFile, 'utf8')
    } catch (err) {
      throw new UsageError(`--private-key-file: cannot read ${keyFile} (${err.code ?? err.message})`)
    }
    let jwk
    try {
      jwk = JSON.parse(text)
    } catch {
      // not JSON: a PEM key
    }
    credential = { privateKey: jwk ?? text }
  } else {
    credential = { clientSecret: await readClientSecret(values['client-secret-env']) }
  }
  const options = {
    ...(values['token-url'] ? { tokenUrl: values['token-url'] } : { issuer: values.issuer }),
    clientId: values['client-id'],
    ...credential,
    ...(values['auth-method'] ? { authMethod: values['auth-method'] } : {}),
    ...(values.scope ? { scope: values.scope } : {}),
    ...(values.audience ? { audience: values.audience } : {}),
    ...(values.resource ? { resource: values.resource } : {}),
    http: {
      allowHttp: values['allow-http'],
      ...(values.timeout ? { timeout: durationArg(values.timeout, '--timeout').value } : {}),
    },
  }
  const { TokenSource } = engine()
  const source = asUsage(() => new TokenSource(options))
  try {
    const token = await source.getToken()
    if (values.json)
      printJson({
        accessToken: token.accessToken,
        tokenType: token.tokenType,
        expiresAt: token.expiresAt,
        scope: token.scope ?? null,
      })
    else process.stdout.write(`${values.raw ? token.accessToken : `${token.tokenType} ${token.accessToken}`}\n`)
  } finally {
    source.close()
  }
  return EXIT.OK
}

async function main(argv) {
  const [command, ...rest] = argv
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE)
    return command === undefined ? EXIT.USAGE : EXIT.OK
  }
  if (command === '--version' || command === '-v') {
    process.stdout.write(`${require('../package.json').version}\n`)
    return EXIT.OK
  }
  const commands = { verify: commandVerify, inspect: commandInspect, decode: commandDecode, token: commandToken }
  const run = commands[command]
  if (!run) throw new UsageError(`unknown command "${command}" (commands: verify, inspect, decode, token)`)
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(USAGE)
    return EXIT.OK
  }
  return run(rest)
}

if (require.main === module) {
  const json = process.argv.includes('--json')
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      let code = EXIT.INVALID
      if (err instanceof UsageError) code = EXIT.USAGE
      else if (err instanceof KeysUnavailableError) code = EXIT.KEYS_UNAVAILABLE
      if (json)
        printJson({
          error: err.message,
          exitCode: code,
          ...(code === EXIT.USAGE ? { usage: 'jwks-verify --help' } : {}),
        })
      writeLines(
        [`jwks-verify: ${err.message}`, ...(code === EXIT.USAGE ? ['Run "jwks-verify --help" for usage.'] : [])],
        process.stderr,
      )
      process.exit(code)
    },
  )
}

module.exports = { main, formatDuration, decodeToken, describeKey, EXIT }
