'use strict'
// The JavaScript end of a Verifier's events, evaluated once per Verifier by the addon
// (src/convert.rs `event_sink`, with `include_str!`): this file is a script whose value is the
// factory below, not a module (requiring it exports nothing).
//
// Every event the engine reports (fetch, error, stale, rotate, warning, info, revalidate) goes,
// on the JS thread, to
//   1. `onEvent` (the option), a throw inside it swallowed;
//   2. diagnostics_channel: `jwks-verify:fetch` gets every JWKS fetch outcome (`fetch` and `error`
//      events), `jwks-verify:revalidate` every validation-endpoint call (`revalidate` events): the
//      same objects `onEvent` gets, published only while the channel has subscribers (Node with
//      `process.getBuiltinModule`: 20.16+, 22.3+);
//   3. the `logger` (default: one `console.warn` line per change; `false`: off): a small state
//      machine per JWKS URL (and per validation endpoint) calls it once per change, never once per
//      request: ok -> failing (`warn`: fetching fails), ok -> stale (`warn`: keys used past their
//      freshness), failing|stale -> ok (`info`: recovered); a key rotation (`info`), engine
//      warnings (`warn`: unusable keys, Redis down, conflicting cache options) and notices
//      (`info`: Redis back). Lines carry URLs without credentials or query, and engine messages;
//      never a token or a secret (the engine puts neither in an event).
;(function makeEventHandler(onEvent, loggerOption) {
  const PREFIX = 'jwks-verify: '
  /** `null`: the default, every line through console.warn (stderr); `false`: off. */
  const logger =
    loggerOption === null || loggerOption === undefined
      ? { warn: (line) => console.warn(line), info: (line) => console.warn(line) }
      : loggerOption || null

  const channels = (() => {
    try {
      const dc =
        typeof process === 'object' && typeof process.getBuiltinModule === 'function'
          ? process.getBuiltinModule('node:diagnostics_channel')
          : undefined
      if (!dc) return null
      return { fetch: dc.channel('jwks-verify:fetch'), revalidate: dc.channel('jwks-verify:revalidate') }
    } catch {
      return null
    }
  })()

  /** The channel an event goes to, or undefined. */
  function channelOf(e) {
    if (!channels) return undefined
    if (e.type === 'fetch' || (e.type === 'error' && e.jwksUri)) return channels.fetch
    if (e.type === 'revalidate') return channels.revalidate
    return undefined
  }

  /** A URL for a log line: origin and path only (no credentials, no query that may carry a key). */
  function shown(url) {
    try {
      const u = new URL(url)
      return `${u.origin}${u.pathname}`
    } catch {
      return '(an unreadable URL)'
    }
  }

  /** An engine message with `url` shown as `shown(url)`. */
  function message(e, url) {
    const text = e.error && typeof e.error.message === 'string' ? e.error.message : 'no detail'
    return url ? text.split(url).join(shown(url)) : text
  }

  const states = new Map()
  function entry(key) {
    let s = states.get(key)
    if (!s) {
      s = { state: 'ok', hadKeys: false }
      states.set(key, s)
    }
    return s
  }

  function log(e) {
    const uri = e.jwksUri
    switch (e.type) {
      case 'fetch': {
        const s = entry(uri)
        const was = s.state
        s.state = 'ok'
        s.hadKeys = true
        if (was !== 'ok') {
          const n = Array.isArray(e.kids) ? e.kids.length : 0
          logger.info(
            `${PREFIX}the signing keys at ${shown(uri)} are fetched again (${n} key${n === 1 ? '' : 's'}): recovered`,
          )
        }
        return
      }
      case 'error': {
        const s = entry(uri)
        if (s.state !== 'ok') return
        s.state = 'failing'
        const code = e.error && e.error.code ? ` (${e.error.code})` : ''
        const consequence = s.hadKeys
          ? 'the last good keys stay in use (up to cache.maxStale)'
          : 'tokens that need these keys are refused until it answers'
        const detail = message(e, uri)
        // The engine's message names the URL already, most of the time.
        const where = detail.includes(shown(uri)) ? '' : ` at ${shown(uri)}`
        logger.warn(
          `${PREFIX}cannot fetch the signing keys${where}: ${detail}${code}; ${consequence}; retrying with backoff`,
        )
        return
      }
      case 'stale': {
        const s = entry(uri)
        if (s.state !== 'ok') return
        s.state = 'stale'
        const why = e.error ? `: ${message(e, uri)}` : ''
        logger.warn(
          `${PREFIX}the signing keys at ${shown(uri)} are used past their freshness while a refresh is late or failing${why}`,
        )
        return
      }
      case 'rotate': {
        const list = (l) => (Array.isArray(l) && l.length ? l.join(', ') : 'none')
        logger.info(
          `${PREFIX}the signing keys at ${shown(uri)} changed: added ${list(e.added)}; removed ${list(e.removed)}`,
        )
        return
      }
      case 'warning':
        logger.warn(`${PREFIX}${message(e, uri)}`)
        return
      case 'info':
        logger.info(`${PREFIX}${message(e, uri)}`)
        return
      case 'revalidate': {
        const endpoint = e.endpoint
        if (typeof endpoint !== 'string') return
        const s = entry(`revalidate ${endpoint}`)
        if (e.error) {
          if (s.state !== 'ok') return
          s.state = 'failing'
          logger.warn(
            `${PREFIX}the validation endpoint ${shown(endpoint)} fails: ${message(e, endpoint)} (${e.error.code}); answers cached within revalidate.staleIfError still serve`,
          )
        } else if (s.state !== 'ok') {
          s.state = 'ok'
          logger.info(`${PREFIX}the validation endpoint ${shown(endpoint)} answers again: recovered`)
        }
        return
      }
      default:
    }
  }

  return function jwksVerifyEvent(e) {
    if (onEvent) {
      try {
        onEvent(e)
      } catch {
        // A throw inside onEvent must not reach the engine.
      }
    }
    const channel = channelOf(e)
    if (channel && channel.hasSubscribers) channel.publish(e)
    if (logger) {
      try {
        log(e)
      } catch {
        // Nor a throw inside the logger.
      }
    }
  }
})
