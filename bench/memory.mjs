// Memory probe, run as a child by run.mjs with --expose-gc:
//   node --expose-gc bench/memory.mjs <tokensFile> <issuer> <jwksUri> <cached|uncached>
// Verifies the RS256 pool once (10,000 distinct tokens), drops the results, collects garbage, and
// reports how much RSS the process gained. With the default token cache the Verifier then holds
// 10,000 verifications (checked by a second pass that must be all token-cache hits); with
// `tokenCache: false` the same work holds none, which separates cache memory from allocator growth.

import fs from 'node:fs'
import { createRequire } from 'node:module'
import { ADDON_ENTRY } from './peers.mjs'

const [tokensFile, issuer, jwksUri, mode] = process.argv.slice(2)
const require = createRequire(import.meta.url)

const settle = async () => {
  for (let k = 0; k < 4; k++) {
    globalThis.gc()
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
const mem = () => {
  const m = process.memoryUsage()
  return { rss: m.rss / 2 ** 20, heapUsed: m.heapUsed / 2 ** 20, external: m.external / 2 ** 20 }
}

async function pass(v, pool) {
  let next = 0
  const lane = async () => {
    while (next < pool.length) {
      const token = pool[next++]
      await v.verify(token)
    }
  }
  await Promise.all(Array.from({ length: 64 }, lane))
}

async function main() {
  const all = JSON.parse(fs.readFileSync(tokensFile, 'utf8'))
  const { outside, pool } = all.RS256
  const { Verifier } = require(ADDON_ENTRY)
  const v = new Verifier({ issuer, jwksUri, audience: 'bench-api', ...(mode === 'cached' ? {} : { tokenCache: false }) })
  await v.ready()
  // Warm the code paths and the allocator with a token outside the pool.
  for (let k = 0; k < 200; k++) await v.verify(outside)
  await settle()
  const before = mem()
  await pass(v, pool)
  await settle()
  const after = mem()
  const s0 = v.stats()
  await pass(v, pool)
  const s1 = v.stats()
  await settle()
  const afterSecond = mem()
  v.close()
  const out = {
    mode,
    tokens: pool.length,
    before,
    after,
    afterSecond,
    rssDeltaMB: after.rss - before.rss,
    heapDeltaMB: after.heapUsed - before.heapUsed,
    secondPassHits: s1.tokenCacheHits - s0.tokenCacheHits,
    maxRssMB: process.resourceUsage().maxRSS / 1024
  }
  process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0))
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ mode, error: (err.code ? err.code + ': ' : '') + err.message }) + '\n', () => process.exit(1))
})
