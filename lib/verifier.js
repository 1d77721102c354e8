'use strict'
// The package's Verifier: napi's class (../index.js), plus the `results: 'frozen'` option.
//
// With `results: 'frozen'` every result is deeply frozen, and a token verified before is answered from a Map here,
// in JS, with the very object it got the first time: no string copy into Rust, no lookup there, no JSON.parse. The
// engine says how long a copy may serve (`_resultCacheUntil`: the token cache entry's end, `exp` / `maxTokenAge`,
// the keys' freshness; 0 with `revalidate`, a test clock, or a key no longer current) and, at each use, whether
// anything it was made from has changed since (`_reuse`: the process-wide key generation; it also counts the use
// as a token-cache hit, so stats() and metrics() stay exact). With the default `results: 'fresh'` nothing here runs:
// verify and verifySync are napi's own.

const native = require('../index.js')

/** `tokenCache`'s default (crates/core/src/options/mod.rs `DEFAULT_TOKEN_CACHE`). */
const DEFAULT_TOKEN_CACHE = 10_000

/** Freezes a result and everything in it (results are JSON: objects, arrays, primitives). */
function deepFreeze(value) {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const key of Object.keys(value)) deepFreeze(value[key])
  }
  return value
}

/** How many results the JS cache keeps: the Verifier's `tokenCache` (already validated by the engine). */
function cacheSize(tokenCache) {
  if (tokenCache === undefined) return DEFAULT_TOKEN_CACHE
  return typeof tokenCache === 'number' ? tokenCache : 0
}

class Verifier extends native.Verifier {
  /** The results kept for `results: 'frozen'` (token -> { result, until, generation }); null otherwise. */
  #results = null

  constructor(options) {
    super(options) // the engine validates every option (`results` too) and throws ERR_INVALID_OPTIONS
    if (options.results !== 'frozen') return
    const size = cacheSize(options.tokenCache)
    const results = size > 0 ? new Map() : null
    this.#results = results

    /** Freezes a result the engine gave, and keeps it when the engine allows a copy. */
    const remember = (token, result) => {
      deepFreeze(result)
      if (results === null) return result
      const [until, generation] = this._resultCacheUntil(token)
      if (until > Date.now()) {
        results.delete(token) // a newer copy goes to the end of the insertion order
        results.set(token, { result, until, generation })
        if (results.size > size) results.delete(results.keys().next().value)
      }
      return result
    }
    /** The copy kept for `token` while it may serve (the use is counted), else undefined (and it is dropped). */
    const kept = (token) => {
      const entry = results.get(token)
      if (entry === undefined) return undefined
      if (Date.now() < entry.until && this._reuse(entry.generation)) return entry.result
      results.delete(token)
      return undefined
    }

    const own = (fn) => ({ value: fn, writable: true, configurable: true, enumerable: false })
    if (results === null) {
      Object.defineProperties(this, {
        verify: own((token) => super.verify(token).then(deepFreeze)),
        verifySync: own((token) => deepFreeze(super.verifySync(token))),
      })
      return
    }
    Object.defineProperties(this, {
      verify: own((token) => {
        const result = kept(token)
        if (result !== undefined) return Promise.resolve(result)
        return super.verify(token).then((r) => remember(token, r))
      }),
      verifySync: own((token) => {
        const result = kept(token)
        if (result !== undefined) return result
        return remember(token, super.verifySync(token))
      }),
    })
  }

  /** Forgets the results kept here, then closes the engine's side; later calls reject with ERR_VERIFIER_CLOSED. */
  close() {
    if (this.#results !== null) this.#results.clear()
    super.close()
  }
}

/** Same as `new Verifier(options)`. */
function createVerifier(options) {
  return new Verifier(options)
}

module.exports = { Verifier, createVerifier }
