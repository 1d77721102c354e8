// What the benchmark scripts (run.mjs, fleet.mjs) share: their flags, the machine they ran on,
// compilers running beside them, which addon build they load, the worker processes (worker.mjs)
// they time, what openssl speed verifies on the machine, and medians.

import { execFile, fork } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ADDON_ENTRY, ROOT } from './peers.mjs'

const HERE = path.dirname(fileURLToPath(import.meta.url))

/**
 * `--name` / `--name=value` arguments, each of `known` (`script` names the file whose header
 * documents them). Returns `{ flags, num(name, dflt), list(name) }`: a positive number, a
 * comma-separated list (null when absent). Throws on anything else.
 */
export function readFlags(argv, known, script) {
  const flags = {}
  for (const arg of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg)
    if (!m) throw new Error(`unknown argument ${arg} (see the header of ${script})`)
    flags[m[1]] = m[2] === undefined ? true : m[2]
  }
  for (const k of Object.keys(flags)) if (!known.includes(k)) throw new Error(`unknown flag --${k}; known: ${known.join(', ')}`)
  const num = (name, dflt) => {
    if (flags[name] === undefined) return dflt
    const n = Number(flags[name])
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} needs a positive number`)
    return n
  }
  const list = (name) =>
    typeof flags[name] === 'string'
      ? flags[name]
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : null
  return { flags, num, list }
}

export function machine() {
  let cpuModel = 'unknown'
  try {
    const line = fs
      .readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'))
    if (line) cpuModel = line.split(':').slice(1).join(':').trim()
  } catch {}
  return {
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpuModel,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    uvThreadpoolSize: process.env.UV_THREADPOOL_SIZE || '4 (default)'
  }
}

/** Compilers running beside us (the lead's cargo builds) would skew the numbers: note them. */
export function busyProcesses() {
  const names = new Set(['rustc', 'cargo', 'cc1', 'cc1plus', 'ld', 'ld.lld', 'lld', 'rust-lld'])
  const seen = {}
  let dirs = []
  try {
    dirs = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))
  } catch {
    return seen
  }
  for (const pid of dirs) {
    try {
      const comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
      if (names.has(comm)) seen[comm] = (seen[comm] || 0) + 1
    } catch {}
  }
  return seen
}

/** Section names of a 64-bit little-endian ELF file (null for anything else). */
function elfSectionNames(buf) {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) return null
  const shoff = Number(buf.readBigUInt64LE(0x28))
  const shentsize = buf.readUInt16LE(0x3a)
  const shnum = buf.readUInt16LE(0x3c)
  const shstrndx = buf.readUInt16LE(0x3e)
  if (!shoff || shstrndx >= shnum || shoff + shnum * shentsize > buf.length) return null
  const strOff = Number(buf.readBigUInt64LE(shoff + shstrndx * shentsize + 0x18))
  const names = []
  for (let i = 0; i < shnum; i++) {
    const nameOff = buf.readUInt32LE(shoff + i * shentsize)
    const end = buf.indexOf(0, strOff + nameOff)
    names.push(buf.toString('latin1', strOff + nameOff, end))
  }
  return names
}

/** Which addon binary the run loads, and whether it looks like a debug build (numbers meaningless). */
export function addonInfo() {
  if (!fs.existsSync(ADDON_ENTRY)) return { built: false }
  const dir = path.dirname(ADDON_ENTRY)
  const binary = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.node'))
    .map((f) => path.join(dir, f))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0]
  if (!binary) return { built: true, binary: null }
  const st = fs.statSync(binary)
  // A release build (profile: strip = "symbols") has no DWARF; `napi build` without --release does.
  const debugInfo = elfSectionNames(fs.readFileSync(binary))?.includes('.debug_info') ?? null
  return {
    built: true,
    binary: path.relative(ROOT, binary),
    sizeMB: +(st.size / 2 ** 20).toFixed(1),
    builtAt: st.mtime.toISOString(),
    debugInfo
  }
}

export function startWorker(peer) {
  const child = fork(path.join(HERE, 'worker.mjs'), [], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const pending = new Map()
  let seq = 0
  let exited = null
  child.on('message', (msg) => {
    const p = pending.get(msg.id)
    if (!p) return
    pending.delete(msg.id)
    msg.ok ? p.resolve(msg.result) : p.reject(new Error(msg.error))
  })
  child.on('exit', (code, signal) => {
    exited = `worker exited (${signal || code})`
    for (const p of pending.values()) p.reject(new Error(exited))
    pending.clear()
  })
  return {
    peer,
    child,
    /** One request; a worker that does not answer in time is killed (a hung verify must not hang the run). */
    call(msg, timeoutMs = 60_000) {
      if (exited) return Promise.reject(new Error(exited))
      const id = ++seq
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id)
          reject(new Error(`no answer to ${msg.type} within ${timeoutMs / 1000} s: worker killed`))
          child.kill('SIGKILL')
        }, timeoutMs)
        pending.set(id, {
          resolve: (v) => {
            clearTimeout(timer)
            resolve(v)
          },
          reject: (e) => {
            clearTimeout(timer)
            reject(e)
          }
        })
        child.send({ ...msg, id })
      })
    },
    async stop() {
      let info = null
      if (!exited) {
        try {
          info = await this.call({ type: 'close' }, 10_000)
        } catch {}
        try {
          child.disconnect()
        } catch {}
      }
      await new Promise((resolve) => (exited ? resolve() : child.once('exit', resolve)))
      return info
    }
  }
}

// ---------------------------------------------------------------- openssl speed

/** The `openssl speed` test of each algorithm of the benchmark: its ceiling. */
export const CEILING_TESTS = { RS256: 'rsa2048', ES256: 'ecdsap256', EdDSA: 'ed25519' }

/**
 * verify/s from the output of `openssl speed -mr`. The machine-readable `+F<n>:` line ends with
 * sign/s and verify/s for RSA (+F2), ECDSA (+F4) and EdDSA (+F6) alike, in OpenSSL 1.1 and 3.x;
 * the human-readable table is not used, its columns and units change between versions. With
 * -multi the parent prints the sum of its children as a plain `+F` line and echoes each child's
 * as `Got: +F… from <child>`; the children's lines are summed when the parent's is missing.
 */
export function parseOpensslSpeed(stdout) {
  const verifyOf = (line) => Number(line.split(':').at(-1))
  const lines = stdout.split('\n').map((l) => l.trim())
  const total = lines.find((l) => /^\+F\d+:/.test(l))
  if (total) return verifyOf(total)
  const children = lines.filter((l) => /^Got: \+F\d+:/.test(l)).map((l) => verifyOf(l.replace(/ from \d+$/, '')))
  return children.length && children.every(Number.isFinite) ? children.reduce((a, b) => a + b, 0) : NaN
}

function openssl(args, timeoutMs) {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout)
      if (err.code === 'ENOENT') return reject(new Error('openssl not found on PATH'))
      const why = String(stderr || err.message)
        .trim()
        .split('\n')[0]
      reject(new Error(`openssl ${args.join(' ')}: ${why}`))
    })
  })
}

/**
 * CPU ms used by the whole machine (/proc/stat) and by our finished children (/proc/self/stat,
 * cutime + cstime: openssl and, as it waits for them, its -multi children); both count 10 ms
 * ticks. Null where /proc is missing.
 */
function cpuMs() {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1, 9).map(Number)
    const self = fs.readFileSync('/proc/self/stat', 'utf8')
    const s = self.slice(self.lastIndexOf(')') + 2).split(' ')
    return { busy: (f.reduce((a, b) => a + b, 0) - f[3] - f[4]) * 10, children: (Number(s[13]) + Number(s[14])) * 10 }
  } catch {
    return null
  }
}

/**
 * One `openssl speed` test with `procs` processes (-multi), sign and verify each for `seconds`:
 * { verifyPerSec, otherCpuPct }. The CPU other processes used meanwhile (% of a core) says how far
 * to trust it: openssl gets only what they leave, and a low ceiling flatters every ratio to it.
 */
async function speedTest(test, procs, seconds) {
  const args = ['speed', '-mr', '-seconds', String(seconds), ...(procs > 1 ? ['-multi', String(procs)] : []), test]
  const [cpu0, t0] = [cpuMs(), Date.now()]
  // The margin covers start-up and a slow, busy machine.
  const out = await openssl(args, (2 * seconds + 30) * 1000)
  const [cpu1, wallMs] = [cpuMs(), Date.now() - t0]
  const verifyPerSec = parseOpensslSpeed(out)
  if (!Number.isFinite(verifyPerSec)) throw new Error(`openssl ${args.join(' ')}: no +F line with verify/s in its output`)
  const other = cpu0 && cpu1 ? cpu1.busy - cpu0.busy - (cpu1.children - cpu0.children) : null
  return { verifyPerSec, otherCpuPct: other == null ? null : Math.max(0, Math.round((other / wallMs) * 100)) }
}

/**
 * What OpenSSL verifies per second on this machine, with `-multi cores` and on one core, for each
 * of `algs`: the ceiling the signature work of a cell can reach. Measured in the run rather than
 * once, because the shared cores give a different share from hour to hour. Never throws: an
 * openssl that is missing or fails is reported in `error` (the whole, or one test's).
 */
export async function opensslCeilings({ algs, cores, seconds, log = () => {} }) {
  const out = { cores, seconds, loadavg1: +os.loadavg()[0].toFixed(2) }
  const t0 = Date.now()
  try {
    out.version = (await openssl(['version'], 10_000)).trim()
  } catch (err) {
    return { ...out, error: err.message }
  }
  for (const alg of algs) {
    const test = CEILING_TESTS[alg]
    try {
      const one = await speedTest(test, 1, seconds)
      const all = cores > 1 ? await speedTest(test, cores, seconds) : one
      out[test] = {
        verifyPerSec: all.verifyPerSec,
        verifyPerSecOneCore: one.verifyPerSec,
        otherCpuPct: all.otherCpuPct,
        otherCpuPctOneCore: one.otherCpuPct
      }
      log(
        `openssl speed ${test}: ${fmtOps(all.verifyPerSec)} verify/s on ${cores} cores, ${fmtOps(one.verifyPerSec)} on one ` +
          `(other processes: ${all.otherCpuPct ?? '?'}% / ${one.otherCpuPct ?? '?'}% of a core)`
      )
    } catch (err) {
      out[test] = { error: err.message }
      log(`openssl speed ${test}: ${err.message}`)
    }
  }
  out.durationS = Math.round((Date.now() - t0) / 1000)
  return out
}

export const median = (xs) => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return null
  const mid = v.length >> 1
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2
}

export const fmtOps = (n) => (n >= 1e6 ? (n / 1e6).toFixed(2) + 'M' : n >= 1e3 ? (n / 1e3).toFixed(1) + 'k' : n.toFixed(0))
