// Assertions on the addon's errors (by `code` and detail fields) and a view of its test clock.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

/**
 * A validator for assert.throws/rejects: an Error whose `code` is `code` and whose fields match `fields`
 * (a RegExp tests String(value), a function is a predicate, anything else is deepEqual), e.g.
 * `{ claim: 'exp' }`, `{ message: /audience/ }`, `{ retryAfter: (s) => s > 0 && s <= 120 }`.
 */
export function errorWith(code, fields = {}) {
  return (err) => {
    assert.ok(err instanceof Error, `expected an Error, got ${typeof err}: ${String(err)}`);
    assert.equal(err.code, code, `code (message: ${err.message})`);
    for (const [name, expected] of Object.entries(fields)) {
      const actual = err[name];
      if (expected instanceof RegExp) assert.match(String(actual), expected, `${name} of ${code}`);
      else if (typeof expected === 'function') assert.ok(expected(actual), `${name} of ${code}: ${actual}`);
      else assert.deepEqual(actual, expected, `${name} of ${code}`);
    }
    return true;
  };
}

/** `fn()` (or the promise) rejects, not throws synchronously, with `code` and `fields`. */
export async function rejectsWith(fnOrPromise, code, fields) {
  await assert.rejects(fnOrPromise, errorWith(code, fields));
}

/** `fn()` throws synchronously with `code` and `fields`. */
export function throwsWith(fn, code, fields) {
  assert.throws(fn, errorWith(code, fields));
}

/** `verifier.verify(token)` rejects and `verifier.verifySync(token)` throws, both with `code` and `fields`. */
export async function verifyFails(verifier, token, code, fields) {
  await rejectsWith(() => verifier.verify(token), code, fields);
  throwsWith(() => verifier.verifySync(token), code, fields);
}

const require = createRequire(import.meta.url);

// Time in tests: one manual clock per test process (`TestClock`, a seam refused unless
// JWKS_VERIFY_TEST_CLOCK=1). A Verifier reads it only when built with `testClock` (the harnesses
// pass it); moving it moves no other Verifier's time.
process.env.JWKS_VERIFY_TEST_CLOCK = '1';
/** The manual clock of this test process: pass it as the `testClock` option. */
export const testClock = new (require('../../index.js').TestClock)();

/** Moves `testClock` forward by `ms`. */
export function advanceClock(ms) {
  testClock.advance(ms);
}

/** How far `advanceClock` has moved `testClock` in this process so far, in milliseconds. */
export function clockOffsetMs() {
  return testClock.offsetMs;
}

/** `testClock`'s current time in milliseconds: real time plus every `advanceClock` of this process. */
export function clockMs() {
  return testClock.now();
}

/** `testClock`'s current time in whole seconds. */
export function clockNow() {
  return Math.floor(clockMs() / 1000);
}
