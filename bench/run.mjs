// Side-by-side benchmark: jwks-verify against the JWT/JWKS libraries users would pick instead.
//
//   node bench/run.mjs [--quick] [--only=jose,jwks-verify,...] [--alg=RS256,ES256]
//                      [--rounds=3] [--measure=1000] [--warmup=1000] [--pool=10000] [--no-memory] [--no-ceilings] [--docs]
//
// Every library verifies the same tokens (exp, iss and aud checked) against the same JWKS server
// on 127.0.0.1. Workloads: RS256 / ES256 / EdDSA x {one token repeated, a pool of distinct tokens}
// x {1, 64 in flight}. Libraries run one at a time, each in its own worker process, interleaved
// cell by cell and repeated for several rounds; the tables show medians across rounds. Before the
// cells, `openssl speed` measures what OpenSSL verifies per second on this machine (the ceilings).
// Results: markdown on stdout (and bench/results/latest.md), JSON in bench/results/latest.json.
// `node bench/chart.mjs` draws docs/benchmarks.svg from the JSON and `node bench/update-doc.mjs`
// refreshes the tables in docs/benchmarks.md; `--docs` does both after the run.

import { fork, execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startJwksServer } from './jwks-server.mjs'
import { ALGS, AUDIENCE, generateKeys, makeTokens } from './tokens.mjs'
import { PEERS, ROOT } from './peers.mjs'
import { formatReport, evaluateTargets } from './report.mjs'
import { readFlags, machine, busyProcesses, addonInfo, startWorker, median, fmtOps, opensslCeilings } from './harness.mjs'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const RESULTS_DIR = path.join(HERE, 'results')

// ---------------------------------------------------------------- options

class UsageError extends Error {}

function parseArgs(argv) {
  try {
    return parseFlags(argv)
  } catch (err) {
    throw new UsageError(err.message)
  }
}

function parseFlags(argv) {
  const known = ['quick', 'only', 'alg', 'rounds', 'measure', 'warmup', 'pool', 'no-memory', 'no-ceilings', 'docs']
  const { flags, num, list } = readFlags(argv, known, 'bench/run.mjs')
  const quick = flags.quick === true
  const algs = list('alg') || ALGS
  for (const a of algs) if (!ALGS.includes(a)) throw new Error(`--alg: ${a} is not one of ${ALGS.join(', ')}`)
  const only = list('only')
  const peers = only ? PEERS.filter((p) => only.some((name) => p.id === name || p.id.startsWith(name + '-'))) : PEERS
  if (only) {
    for (const name of only) {
      if (!PEERS.some((p) => p.id === name || p.id.startsWith(name + '-'))) {
        throw new Error(`--only: no library named ${name}; known: ${PEERS.map((p) => p.id).join(', ')}`)
      }
    }
  }
  const measure = num('measure', quick ? 400 : 1000)
  const warmup = num('warmup', quick ? 300 : 1000)
  return {
    quick,
    algs,
    peers,
    only,
    rounds: Math.round(num('rounds', quick ? 1 : 3)),
    measureMs: measure,
    warmupMs: warmup,
    // Later rounds only need to refill caches: the worker's JIT is already warm.
    rewarmMs: Math.min(warmup, quick ? 100 : 300),
    poolSize: Math.round(num('pool', 10000)),
    memory: flags['no-memory'] !== true,
    ceilings: flags['no-ceilings'] !== true,
    // openssl runs sign and verify for this long each, on all cores and then on one.
    ceilingSeconds: quick ? 1 : 3,
    docs: flags.docs === true
  }
}

// ---------------------------------------------------------------- schedule

const WORKLOADS = []
for (const alg of ALGS) {
  for (const set of ['same', 'pool']) {
    for (const conc of [1, 64]) WORKLOADS.push({ alg, set, conc })
  }
}

function appliesTo(peer, w) {
  if (peer.kind === 'sync' && w.conc !== 1) return false // a sync call has nothing in flight
  if (peer.poolOnly && w.set !== 'pool') return false
  return true
}

// ---------------------------------------------------------------- main

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  const started = new Date()
  const log = (...a) => process.stderr.write(a.join(' ') + '\n')
  const addon = addonInfo()
  const addonBuilt = addon.built
  if (addon.debugInfo) log(`warning: ${addon.binary} carries debug info: probably a debug build (npm run build makes a release one)`)

  log(
    `jwks-verify bench: ${opts.quick ? 'quick' : 'full'} run, rounds=${opts.rounds}, warm-up ${opts.warmupMs}/${opts.rewarmMs} ms, measure ${opts.measureMs} ms, pool ${opts.poolSize}`
  )
  const busyAtStart = busyProcesses()
  if (Object.keys(busyAtStart).length) log(`warning: compilers running (${JSON.stringify(busyAtStart)}): numbers may be skewed`)

  // Keys, JWKS server, tokens.
  const keys = generateKeys()
  const jwks = { keys: ALGS.map((a) => keys[a].jwk) }
  const server = await startJwksServer({ jwks })
  const issuer = server.origin
  const t0 = Date.now()
  const tokens = {}
  for (const alg of opts.algs) {
    tokens[alg] = await makeTokens(keys[alg], { issuer, poolSize: opts.poolSize })
    server.revoke(tokens[alg].revoked)
  }
  log(`signed ${opts.algs.length} x ${opts.poolSize} tokens in ${((Date.now() - t0) / 1000).toFixed(1)} s; JWKS at ${server.url}`)
  const tokensFile = path.join(os.tmpdir(), `jwks-verify-bench-${process.pid}.json`)
  fs.writeFileSync(tokensFile, JSON.stringify(tokens))

  // The ceilings before any worker starts, so that none of ours competes with openssl for the cores.
  const ceilings = opts.ceilings
    ? await opensslCeilings({ algs: opts.algs, cores: machine().nproc, seconds: opts.ceilingSeconds, log })
    : null
  if (ceilings?.error) log(`openssl speed ceilings not measured: ${ceilings.error}`)

  const ctx = {
    issuer,
    audience: AUDIENCE,
    jwksUri: server.url,
    algorithms: ALGS,
    jwks,
    validateUrl: server.validateUrl,
    validationCountUrl: server.validationCountUrl
  }
  const peerInfo = []
  const workers = []
  try {
    // Start the workers one at a time and pass each through the correctness gate.
    for (const peer of opts.peers) {
      const info = { id: peer.id, label: peer.label, kind: peer.kind, note: peer.note, gate: {}, available: true }
      peerInfo.push(info)
      if (peer.id.startsWith('jwks-verify') && !addonBuilt) {
        info.available = false
        info.reason = 'addon not built (index.js missing): run `npm run build` first'
        for (const alg of opts.algs) info.gate[alg] = { ok: false, reason: info.reason }
        log(`skip ${peer.id}: ${info.reason}`)
        continue
      }
      const w = startWorker(peer)
      try {
        const r = await w.call({ type: 'init', peerId: peer.id, ctx, tokensFile, algs: opts.algs }, 180_000)
        info.gate = r.gate
        workers.push(w)
        for (const [alg, g] of Object.entries(r.gate)) {
          if (!g.ok && !g.unsupported) log(`CORRECTNESS FAILURE ${peer.id} ${alg}: ${g.reason} (excluded from timing)`)
        }
      } catch (err) {
        info.available = false
        info.reason = err.message
        for (const alg of opts.algs) info.gate[alg] = { ok: false, reason: err.message }
        log(`CORRECTNESS FAILURE ${peer.id}: cannot start: ${err.message}`)
        await w.stop()
      }
    }

    // Rounds: every workload, every library, one cell each; the library order rotates.
    const cells = new Map() // key -> { peer, alg, set, conc, rounds: [] }
    const warmed = new Set()
    const busyByRound = []
    const workloads = WORKLOADS.filter((w) => opts.algs.includes(w.alg))
    const info = (w) => peerInfo.find((p) => p.id === w.peer.id)
    const planned = workloads.reduce((n, wl) => n + workers.filter((w) => info(w).gate[wl.alg]?.ok && appliesTo(w.peer, wl)).length, 0)
    const estimate = planned * (opts.measureMs + opts.warmupMs) + (opts.rounds - 1) * planned * (opts.measureMs + opts.rewarmMs)
    log(`${planned} cells per round, about ${Math.ceil(estimate / 60000 + 0.3)} min`)

    for (let round = 0; round < opts.rounds; round++) {
      busyByRound.push(busyProcesses())
      const roundStart = Date.now()
      for (const [wi, wl] of workloads.entries()) {
        const eligible = workers.filter((w) => info(w).gate[wl.alg]?.ok && appliesTo(w.peer, wl))
        const shift = eligible.length ? (round + wi) % eligible.length : 0
        const order = eligible.slice(shift).concat(eligible.slice(0, shift))
        const line = []
        for (const w of order) {
          const key = `${w.peer.id}|${wl.alg}|${wl.set}|${wl.conc}`
          const warmupMs = warmed.has(key) ? opts.rewarmMs : opts.warmupMs
          warmed.add(key)
          let cell = cells.get(key)
          if (!cell) {
            cell = { peer: w.peer.id, ...wl, rounds: [] }
            cells.set(key, cell)
          }
          try {
            const validationsBefore = server.validations()
            const r = await w.call({ type: 'run', ...wl, warmupMs, measureMs: opts.measureMs })
            // Every answer of the validation endpoint is cached before timing: a call during a
            // cell means the row measured something else (a refresh, an evicted answer).
            r.endpointCalls = server.validations() - validationsBefore
            if (r.endpointCalls && !r.errors) {
              r.errors = r.endpointCalls
              r.firstError = `${r.endpointCalls} validation endpoint calls during the cell`
            }
            cell.rounds.push(r)
            if (r.errors) log(`  ${w.peer.id} ${wl.alg}: ${r.errors} failed verifications (${r.firstError}): cell excluded`)
            line.push(`${w.peer.id} ${fmtOps(r.opsPerSec)}`)
          } catch (err) {
            cell.rounds.push({ error: err.message })
            line.push(`${w.peer.id} ERROR`)
            log(`  ${w.peer.id} ${wl.alg} ${wl.set} ${wl.conc}: ${err.message}`)
          }
        }
        log(`round ${round + 1}/${opts.rounds} ${wl.alg} ${wl.set === 'same' ? 'same token' : 'distinct'} x${wl.conc}: ${line.join(', ')}`)
      }
      log(`round ${round + 1} took ${((Date.now() - roundStart) / 1000).toFixed(0)} s`)
    }

    // Workers' whole-process peak RSS.
    for (const w of workers.splice(0)) {
      const r = await w.stop()
      const pi = info(w)
      if (r) pi.maxRssMB = r.maxRssMB
    }

    // Memory held by 10,000 cached verifications.
    let memory = null
    if (opts.memory && opts.algs.includes('RS256') && opts.peers.some((p) => p.id.startsWith('jwks-verify'))) {
      memory = addonBuilt ? await memoryProbe({ tokensFile, issuer, jwksUri: server.url }) : { error: 'addon not built' }
      if (memory.error) log(`memory probe: ${memory.error}`)
    }

    // Aggregate: medians across rounds of valid cells (peak RSS: the maximum).
    const results = []
    for (const cell of cells.values()) {
      const good = cell.rounds.filter((r) => !r.error && !r.errors)
      const agg = { peer: cell.peer, alg: cell.alg, set: cell.set, conc: cell.conc, n: good.length, rounds: cell.rounds }
      if (good.length) {
        for (const k of ['opsPerSec', 'p50us', 'p99us', 'eldP99ms', 'cpuPct', 'otherCpuPct']) agg[k] = median(good.map((r) => r[k]))
        agg.peakRssMB = Math.max(...good.map((r) => r.peakRssMB))
        const hits = good.map((r) => r.tokenCacheHitRate).filter((x) => x != null)
        if (hits.length) agg.tokenCacheHitRate = median(hits)
      } else {
        agg.error = cell.rounds.map((r) => r.error || r.firstError).filter(Boolean)[0] || 'no valid round'
      }
      results.push(agg)
    }
    for (const r of results) {
      const jose = results.find((x) => x.peer === 'jose' && x.alg === r.alg && x.set === r.set && x.conc === r.conc)
      r.ratioToJose = jose?.opsPerSec && r.opsPerSec ? r.opsPerSec / jose.opsPerSec : null
    }

    const busyAtEnd = busyProcesses()
    const report = {
      version: 1,
      date: started.toISOString(),
      durationS: Math.round((Date.now() - started.getTime()) / 1000),
      machine: { ...machine(), loadavgAtEnd: os.loadavg().map((x) => +x.toFixed(2)) },
      options: {
        quick: opts.quick,
        rounds: opts.rounds,
        warmupMs: opts.warmupMs,
        rewarmMs: opts.rewarmMs,
        measureMs: opts.measureMs,
        poolSize: opts.poolSize,
        algs: opts.algs,
        only: opts.only,
        ceilings: opts.ceilings
      },
      concurrentBuilds: { atStart: busyAtStart, perRound: busyByRound, atEnd: busyAtEnd },
      jwksServerRequests: { ...server.requests },
      validationRequests: server.validations(),
      addonBuilt,
      addon,
      peers: peerInfo,
      results,
      memory,
      ceilings
    }
    report.targets = evaluateTargets(report)

    fs.mkdirSync(RESULTS_DIR, { recursive: true })
    const jsonPath = path.join(RESULTS_DIR, 'latest.json')
    fs.writeFileSync(jsonPath, JSON.stringify(report, null, 2) + '\n')
    const markdown = formatReport(report)
    fs.writeFileSync(path.join(RESULTS_DIR, 'latest.md'), markdown)
    process.stdout.write(markdown)
    log(`\nJSON: ${path.relative(ROOT, jsonPath)} (markdown: bench/results/latest.md)`)
    if (opts.docs) {
      execFileSync(process.execPath, [path.join(HERE, 'chart.mjs'), jsonPath], { stdio: 'inherit' })
      execFileSync(process.execPath, [path.join(HERE, 'update-doc.mjs'), jsonPath], { stdio: 'inherit' })
    } else {
      log('docs: node bench/chart.mjs && node bench/update-doc.mjs (or run with --docs)')
    }
    const broken = peerInfo.filter(
      (p) => Object.values(p.gate).some((g) => !g.ok && !g.unsupported) && !(p.id.startsWith('jwks-verify') && !addonBuilt)
    )
    if (broken.length) {
      log(`correctness gate failed for: ${broken.map((p) => p.id).join(', ')}`)
      process.exitCode = 1
    }
  } finally {
    for (const w of workers) await w.stop()
    await server.close()
    fs.rmSync(tokensFile, { force: true })
  }
}

function memoryProbe({ tokensFile, issuer, jwksUri }) {
  const one = (mode) =>
    new Promise((resolve) => {
      const child = fork(path.join(HERE, 'memory.mjs'), [tokensFile, issuer, jwksUri, mode], {
        execArgv: ['--expose-gc'],
        stdio: ['ignore', 'pipe', 'inherit', 'ipc']
      })
      let out = ''
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
      child.stdout.on('data', (d) => {
        out += d
      })
      child.on('exit', () => {
        clearTimeout(timer)
        try {
          resolve(JSON.parse(out.trim().split('\n').pop()))
        } catch {
          resolve({ mode, error: `memory probe produced no result: ${out.slice(0, 200)}` })
        }
      })
    })
  // Three probes each, alternating, and the median of each: RSS moves by a megabyte or two between runs.
  return (async () => {
    const runs = { cached: [], uncached: [] }
    for (let k = 0; k < 3; k++) {
      for (const mode of ['cached', 'uncached']) runs[mode].push(await one(mode))
    }
    const pick = (list) => {
      const failed = list.find((r) => r.error)
      if (failed) return failed
      const sorted = [...list].sort((a, b) => a.rssDeltaMB - b.rssDeltaMB)
      return { ...sorted[1], allRssDeltaMB: list.map((r) => +r.rssDeltaMB.toFixed(2)) }
    }
    const cached = pick(runs.cached)
    const uncached = pick(runs.uncached)
    const error = cached.error || uncached.error
    return {
      cached,
      uncached,
      error,
      // The whole RSS growth of the process whose Verifier holds the cache.
      rssForCacheMB: cached.error ? null : cached.rssDeltaMB,
      // The same work without a token cache grows RSS too (allocator arenas, JIT): the cache's own share is the difference.
      rssCacheOnlyMB: error ? null : cached.rssDeltaMB - uncached.rssDeltaMB
    }
  })()
}

main().catch((err) => {
  console.error(err instanceof UsageError ? `bench: ${err.message}` : err)
  process.exitCode = err instanceof UsageError ? 2 : 1
})
