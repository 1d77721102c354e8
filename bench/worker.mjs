// One benchmark worker process per library (forked by run.mjs). It builds the library's verifier
// once, proves it verifies and refuses the right tokens, then runs measurement cells on request.
// Keeping each library in its own process keeps its JIT warm between rounds and makes its RSS
// its own; only one worker runs at a time, so they do not compete for the CPU.

import fs from 'node:fs'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { peerById } from './peers.mjs'
import { expectedJti } from './tokens.mjs'

const LAT_CAP = 1 << 18 // the last 262,144 latencies of a cell are kept (2 MiB)
const MASK = LAT_CAP - 1
const latencies = new Float64Array(LAT_CAP)

let peer = null
let instance = null
let tokens = null
const verifyFns = new Map() // alg -> function
const cursors = new Map() // alg -> { i } position in the pool, kept across cells

const immediate = () => new Promise((resolve) => setImmediate(resolve))

/** System-wide CPU time in ms from /proc/stat: { busy, total } (null where unavailable). */
function systemCpu() {
  try {
    const first = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]
    const f = first.trim().split(/\s+/).slice(1).map(Number)
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0)
    const idle = f[3] + (f[4] || 0)
    return { busy: (total - idle) * 10, total: total * 10 }
  } catch {
    return null
  }
}

process.on('message', (msg) => {
  handle(msg).then(
    (result) => process.send({ id: msg.id, ok: true, result }),
    (err) => process.send({ id: msg.id, ok: false, error: describe(err) })
  )
})
process.on('disconnect', () => process.exit(0))

async function handle(msg) {
  switch (msg.type) {
    case 'init':
      return init(msg)
    case 'run':
      return runCell(msg)
    case 'close': {
      try {
        instance?.close?.()
      } catch {}
      return { maxRssMB: process.resourceUsage().maxRSS / 1024 }
    }
    default:
      throw new Error(`unknown message ${msg.type}`)
  }
}

function describe(err) {
  if (!err) return 'unknown error'
  const code = err.code ? `${err.code}: ` : ''
  return code + (err.message || String(err))
}

async function init({ peerId, ctx, tokensFile, algs }) {
  peer = peerById(peerId)
  if (!peer) throw new Error(`unknown library ${peerId}`)
  tokens = JSON.parse(fs.readFileSync(tokensFile, 'utf8'))
  instance = await peer.create(ctx)
  const gate = {}
  for (const alg of algs) {
    if (!peer.algs.includes(alg)) {
      gate[alg] = { ok: false, unsupported: true, reason: peer.missing[alg] || 'not supported' }
      continue
    }
    try {
      await instance.prepare?.(alg)
      const fn = instance.forAlg(alg)
      const pool = tokens[alg].pool
      const prime = async (f, sync) => {
        const p = await drive(f, pool, { i: 0 }, sync ? 1 : 64, 0, false, sync, pool.length)
        if (p.errors) throw new Error(`${p.errors} failures while priming the caches: ${describe(p.firstError)}`)
      }
      if (peer.revalidate) {
        // The endpoint's answer for every token of the pool is cached before anything is timed.
        await checkRevoked(fn, tokens[alg])
        await prime(instance.primer(alg), false)
      }
      await checkCorrectness(fn, tokens[alg])
      if (peer.primePool && !peer.revalidate) await prime(fn, peer.kind === 'sync')
      if (peer.revalidate) await checkAnswersCached(fn, pool, ctx.validationCountUrl)
      verifyFns.set(alg, fn)
      cursors.set(alg, { i: 0 })
      gate[alg] = { ok: true }
    } catch (err) {
      gate[alg] = { ok: false, reason: describe(err) }
    }
  }
  return { gate, rssMB: process.memoryUsage.rss() / 2 ** 20 }
}

/** The first results must be right, and every bad token must be refused. */
async function checkCorrectness(fn, set) {
  const call = async (token) => instance.payloadOf(await fn(token))
  for (const token of [set.pool[0], set.pool[1], set.pool[set.pool.length - 1]]) {
    const payload = await call(token)
    const want = expectedJti(token)
    if (!payload || payload.jti !== want) {
      throw new Error(`wrong result: expected payload.jti ${want}, got ${JSON.stringify(payload)?.slice(0, 120)}`)
    }
  }
  for (const [name, token] of Object.entries(set.bad)) {
    let accepted = false
    try {
      await call(token)
      accepted = true
    } catch {}
    if (accepted) throw new Error(`accepted a token it must refuse (${name})`)
  }
}

/** With `revalidate`: a token the validation endpoint refuses must be refused as inactive. */
async function checkRevoked(fn, set) {
  // verifySync has no answer cached for it yet: it says ERR_REVALIDATION_PENDING and asks in the background.
  for (let attempt = 0; ; attempt++) {
    let code = null
    try {
      await fn(set.revoked)
    } catch (err) {
      code = err.code
    }
    if (code === 'ERR_TOKEN_INACTIVE') return
    if (code !== 'ERR_REVALIDATION_PENDING' || attempt === 100)
      throw new Error(`a revoked token: expected ERR_TOKEN_INACTIVE, got ${code ?? 'accepted'}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/**
 * With `revalidate`, after the priming pass: a second pass over the whole pool must make no
 * endpoint call (counted by the endpoint itself), so the measured phases make none either.
 */
async function checkAnswersCached(fn, pool, countUrl) {
  const count = async () => (await (await fetch(countUrl)).json()).count
  const before = await count()
  for (const token of pool) await fn(token)
  const calls = (await count()) - before
  if (calls !== 0) throw new Error(`${calls} validation endpoint calls for tokens whose answer should be cached`)
}

/**
 * Runs `conc` lanes until the deadline (or, with `maxOps`, until that many verifications have
 * started); each verification starts in its own macrotask, as a request would in a server.
 */
async function drive(fn, list, cursor, conc, durationMs, record, sync, maxOps = Infinity) {
  const n = list.length
  const deadline = maxOps === Infinity ? performance.now() + durationMs : Infinity
  let started = 0
  let ops = 0
  let errors = 0
  let firstError = null
  // A sync call is not awaited: awaiting would add a microtask turn the library does not cost.
  const lane = async () => {
    for (;;) {
      if (started++ >= maxOps) return
      const i = cursor.i
      cursor.i = i + 1 === n ? 0 : i + 1
      const start = performance.now()
      try {
        if (sync) fn(list[i])
        else await fn(list[i])
      } catch (err) {
        errors++
        firstError ??= err
      }
      const end = performance.now()
      if (record) latencies[ops & MASK] = end - start
      ops++
      if (end >= deadline) return
      await immediate()
    }
  }
  const lanes = []
  for (let k = 0; k < conc; k++) lanes.push(lane())
  await Promise.all(lanes)
  return { ops, errors, firstError }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[idx]
}

async function runCell({ alg, set, conc, warmupMs, measureMs }) {
  const fn = verifyFns.get(alg)
  if (!fn) throw new Error(`${peer.id} has no verifier for ${alg}`)
  const sync = peer.kind === 'sync'
  const list = set === 'same' ? [tokens[alg].same] : tokens[alg].pool
  const cursor = set === 'same' ? { i: 0 } : cursors.get(alg)

  if (warmupMs > 0) {
    const w = await drive(fn, list, cursor, conc, warmupMs, false, sync)
    if (w.errors) throw new Error(`${w.errors} verifications failed during warm-up: ${describe(w.firstError)}`)
  }
  globalThis.gc?.()
  await immediate()

  const statsBefore = instance.stats?.(alg)
  const eld = monitorEventLoopDelay({ resolution: 1 })
  let peakRss = process.memoryUsage.rss()
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss())
  }, 50)
  eld.enable()
  const sys0 = systemCpu()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const m = await drive(fn, list, cursor, conc, measureMs, true, sync)
  const wallMs = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  const sys1 = systemCpu()
  eld.disable()
  clearInterval(sampler)
  peakRss = Math.max(peakRss, process.memoryUsage.rss())
  const statsAfter = instance.stats?.(alg)

  const kept = Math.min(m.ops, LAT_CAP)
  const sorted = latencies.slice(0, kept).sort()
  const result = {
    ops: m.ops,
    errors: m.errors,
    firstError: m.errors ? describe(m.firstError) : null,
    wallMs,
    opsPerSec: m.ops / (wallMs / 1000),
    p50us: percentile(sorted, 50) * 1000,
    p99us: percentile(sorted, 99) * 1000,
    eldP99ms: eld.percentile(99) / 1e6,
    eldMaxMs: eld.max / 1e6,
    cpuPct: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
    peakRssMB: peakRss / 2 ** 20
  }
  // CPU other processes used meanwhile (100 = one core): the lead's builds, other test runs.
  // /proc/stat counts in 10 ms ticks, so this is coarse; it flags noisy cells, nothing more.
  if (sys0 && sys1) {
    result.otherCpuPct = Math.max(0, ((sys1.busy - sys0.busy) / wallMs) * 100 - result.cpuPct)
  }
  if (statsBefore && statsAfter) {
    const verifications = statsAfter.verifications - statsBefore.verifications
    const hits = statsAfter.tokenCacheHits - statsBefore.tokenCacheHits
    result.tokenCacheHitRate = verifications > 0 ? hits / verifications : null
  }
  return result
}
