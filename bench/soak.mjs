// Soak: mixed traffic for a long time against a JWKS server that rotates and misbehaves, reporting memory,
// handles and event-loop delay every minute. Not part of CI.
//
//   node bench/soak.mjs [--minutes=30] [--inflight=64] [--minute-ms=60000]
//
// Traffic: valid tokens (70 %), forged signatures (10 %), expired tokens (10 %), random kids (10 %), 64 in flight.
// Every minute the signing key rotates (the new key is published first, the old one removed a minute later);
// every fifth minute the provider misbehaves for 20 s (500, then 429 with Retry-After, then stalls, in turn).
// Valid tokens must never fail: keys are cached, so outages are served from stale keys. The run exits 1 when a
// valid token failed, or when RSS grew by more than 20 % between the first report after warm-up and the last.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { createRequire } from 'node:module'
import { generateKey, signJwt, toJwks } from '../__test__/support/keys.mjs'
import { startJwksServer } from '../__test__/support/jwks-server.mjs'

const require = createRequire(import.meta.url)
const { Verifier } = require('../index.js')

const flag = (name, fallback) => {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`))
  return hit ? Number(hit.split('=')[1]) : fallback
}
const MINUTES = flag('minutes', 30)
const INFLIGHT = flag('inflight', 64)
const MINUTE_MS = flag('minute-ms', 60_000)
const ISSUER = 'https://soak.jwks-verify.test'

const now = () => Math.floor(Date.now() / 1000)
let keys = [generateKey('ES256', { kid: 'soak-0' })]
let current = keys[0]
const server = await startJwksServer({ jwks: toJwks(keys) })
server.setHeaders({ 'cache-control': 'max-age=30' })
const verifier = new Verifier({ issuer: ISSUER, jwksUri: server.url, cache: { maxAge: '30s', cooldown: '5s', maxStale: '1h' } })
await verifier.ready()

const forger = generateKey('ES256', { kid: 'soak-0' })
let serial = 0
function nextToken() {
  const r = Math.random()
  const claims = { iss: ISSUER, sub: 'soak', jti: `s${++serial}`, iat: now(), exp: now() + 300 }
  if (r < 0.7) return { valid: true, token: signJwt(current, claims) }
  if (r < 0.8) return { valid: false, token: signJwt(forger, claims, { kid: current.kid }) }
  if (r < 0.9) return { valid: false, token: signJwt(current, { ...claims, iat: now() - 600, exp: now() - 300 }) }
  return { valid: false, token: signJwt(current, claims, { kid: `random-${serial}` }) }
}

const delay = monitorEventLoopDelay({ resolution: 10 })
delay.enable()
let outage = false
let done = false
const counts = { ok: 0, refused: 0, validFailed: 0, byCode: {} }
const firstFailures = []

async function lane() {
  while (!done) {
    const { valid, token } = nextToken()
    try {
      await verifier.verify(token)
      counts.ok++
      if (!valid) counts.byCode.ACCEPTED_INVALID = (counts.byCode.ACCEPTED_INVALID ?? 0) + 1
    } catch (err) {
      counts.refused++
      counts.byCode[err.code] = (counts.byCode[err.code] ?? 0) + 1
      if (valid) {
        counts.validFailed++
        if (firstFailures.length < 5) firstFailures.push(`${err.code}: ${err.message}`)
      }
    }
  }
}

async function schedule() {
  const modes = [{ type: 'status', status: 500 }, { type: 'status', status: 429, headers: { 'retry-after': '10' } }, { type: 'stall' }]
  for (let minute = 1; minute <= MINUTES && !done; minute++) {
    await sleep(MINUTE_MS / 2)
    if (minute % 5 === 0) {
      outage = true
      server.setMode(modes[(minute / 5 - 1) % modes.length])
      await sleep(Math.min(20_000, MINUTE_MS / 3))
      server.setMode({ type: 'ok' })
      outage = false
    } else {
      // Rotate: publish the next key beside the current one; sign with it once the verifier's cache has it (the
      // provider's max-age is 30 s), as a provider would; the oldest key goes at the next rotation.
      const next = generateKey('ES256', { kid: `soak-${minute}` })
      keys = [...keys.slice(-1), next]
      server.setJwks(toJwks(keys))
      const until = Date.now() + 45_000
      while (!done && Date.now() < until && !verifier.health()[0].kids.includes(next.kid)) await sleep(250)
      current = next
    }
  }
}

const reports = []
async function report() {
  const start = Date.now()
  let last = { ...counts }
  for (let minute = 1; minute <= MINUTES; minute++) {
    await sleep(start + minute * MINUTE_MS - Date.now())
    const rss = process.memoryUsage().rss / 2 ** 20
    const handles = process._getActiveHandles().length
    const rate = (counts.ok + counts.refused - last.ok - last.refused) / (MINUTE_MS / 1000)
    const row = {
      minute,
      rssMb: +rss.toFixed(1),
      handles,
      p99Ms: +(delay.percentile(99) / 1e6).toFixed(2),
      perSecond: Math.round(rate),
      validFailed: counts.validFailed,
      outage
    }
    reports.push(row)
    console.log(JSON.stringify(row))
    delay.reset()
    last = { ...counts }
  }
  done = true
}

console.log(`soak: ${MINUTES} min, ${INFLIGHT} in flight, a minute is ${MINUTE_MS} ms`)
await Promise.all([report(), schedule(), ...Array.from({ length: INFLIGHT }, lane)])
const finalStats = verifier.stats()
verifier.close()
await server.close()
console.log(
  JSON.stringify({
    fetches: finalStats.fetches,
    fetchErrors: finalStats.fetchErrors,
    staleServes: finalStats.staleServes,
    cooldownRefusals: finalStats.cooldownRefusals
  })
)
const warm = reports[Math.min(2, reports.length - 1)]
const end = reports[reports.length - 1]
const growth = end.rssMb / warm.rssMb - 1
console.log(
  JSON.stringify({
    verifications: counts.ok + counts.refused,
    byCode: counts.byCode,
    validFailed: counts.validFailed,
    rssGrowthAfterWarmup: +(growth * 100).toFixed(1) + '%'
  })
)
if (firstFailures.length) console.log('first failures of valid tokens:', firstFailures)
process.exit(counts.validFailed > 0 || growth > 0.2 ? 1 : 0)
