// What the benchmark scripts (run.mjs, fleet.mjs) share: their flags, the machine they ran on,
// compilers running beside them, which addon build they load, the worker processes (worker.mjs)
// they time, and medians.

import { fork } from 'node:child_process'
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

export const median = (xs) => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return null
  const mid = v.length >> 1
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2
}

export const fmtOps = (n) => (n >= 1e6 ? (n / 1e6).toFixed(2) + 'M' : n >= 1e3 ? (n / 1e3).toFixed(1) + 'k' : n.toFixed(0))
