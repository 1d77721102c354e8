// Shared helpers of the key-cache suites (cache, outage, observability): tokens dated on the addon's clock,
// polling, rejections, bursts of verifications, and a JWKS server with a factory of Verifiers on its URL.
// Each suite makes its own set with `cacheHarness({ issuer, jtiPrefix, settleMs })`; the rest is stateless.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import addon from '../../index.js';
import { generateKey, signJwt, toJwks } from './keys.mjs';
import { startJwksServer } from './jwks-server.mjs';
import { clockMs, testClock } from './expect.mjs';

// The test clock (expect.mjs), which every Verifier made here reads: `advance(ms)` moves it (forward only),
// `clockMs()` reads it, `clockOffsetMs()` says how far it has been moved in this process.
export { advanceClock as advance, clockMs, clockOffsetMs } from './expect.mjs';

const { Verifier } = addon;

/** A fresh Ed25519 key (`generateKey('EdDSA')`). */
export const ed = () => generateKey('EdDSA');

/** Polls `predicate` every 10 ms for at most `timeoutMs` of real time. */
export async function waitFor(predicate, what, timeoutMs = 2000) {
  const end = Date.now() + timeoutMs;
  for (let i = 0; i < 100_000; i++) {
    if (await predicate()) return;
    if (Date.now() > end) break;
    await sleep(10);
  }
  assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** The error `promise` rejects with (fails the test if it resolves). */
export async function failure(promise) {
  let result;
  try {
    result = await promise;
  } catch (err) {
    return err;
  }
  assert.fail(`expected a rejection, got a result: ${JSON.stringify(result?.payload)}`);
}

/** Verifies every token at once; all must succeed. */
export async function verifyAll(verifier, tokens) {
  const results = await Promise.allSettled(tokens.map((t) => verifier.verify(t)));
  const bad = results.filter((r) => r.status === 'rejected');
  assert.equal(bad.length, 0, `${bad.length} of ${tokens.length} failed, first: ${bad[0]?.reason?.code} ${bad[0]?.reason?.message}`);
  return results.map((r) => r.value);
}

/** `[make(0), make(1), ..., make(n - 1)]`. */
export const many = (n, make) => Array.from({ length: n }, (_, i) => make(i));

/**
 * The helpers that depend on the suite: `issuer` (the tokens' `iss` and the Verifiers' `issuer`), `jtiPrefix`
 * (tokens get `jti` = prefix + a serial number of this set) and `settleMs` (how long `settle()` waits).
 */
export function cacheHarness({ issuer, jtiPrefix, settleMs }) {
  let serial = 0;

  /** A token for `key` dated on the addon's clock: valid for `ttl` seconds (3600 unless told), unique `jti`. */
  function token(key, { kid = key.kid, ttl = 3600, claims = {} } = {}) {
    const iat = Math.floor(clockMs() / 1000);
    return signJwt(key, { iss: issuer, sub: 'user-1', jti: `${jtiPrefix}${++serial}`, iat, exp: iat + ttl, ...claims }, { kid });
  }

  /** Lets background work finish, or get its chance to happen (before asserting that it did not). */
  const settle = () => sleep(settleMs);

  /**
   * A JWKS server with `keys` and a factory of Verifiers on its URL; everything is closed after the test.
   * `make(extra, factory)` builds `factory({ issuer, jwksUri: server.url, testClock, ...options, ...extra })`
   * (`factory` defaults to `new Verifier(o)`; pass `createVerifier` to test the factory function).
   */
  async function setup(t, keys, options = {}) {
    const server = await startJwksServer({ jwks: toJwks(keys) });
    const verifiers = [];
    const make = (extra = {}, factory = (o) => new Verifier(o)) => {
      const v = factory({ issuer, jwksUri: server.url, testClock, ...options, ...extra });
      verifiers.push(v);
      return v;
    };
    t.after(async () => {
      try {
        for (const v of verifiers) v.close();
      } finally {
        await server.close();
      }
    });
    return { server, make };
  }

  return { token, settle, setup };
}
