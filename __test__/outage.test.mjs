// Outages of the JWKS endpoint (DESIGN.md "Rules of the key cache" / Failure, and "Precise rules"): 5xx, backoff,
// Retry-After, stale serving and maxStale, timeouts, bodies that are not a JWKS, size limits, redirects.
// Every test starts its own JWKS server (a fresh process-wide key cache) and asserts the requests it saw.
//
// Time: the Verifiers read the test clock (`testClock`, see support/expect.mjs), moved with `advanceClock` (forward only); tokens and HTTP-dates are
// computed on that clock (`clockMs`). Real time also passes, so "not yet" checks stay a few hundred ms short of a
// boundary and "now" checks go a little past it.
import test from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { toJwks } from './support/keys.mjs';
import { errorWith } from './support/expect.mjs';
import { advance, cacheHarness, clockMs, clockOffsetMs, ed, failure, many, verifyAll, waitFor } from './support/cache-harness.mjs';

const ISSUER = 'https://issuer.outage.test';

// ---- helpers ----

const { token, settle, setup } = cacheHarness({ issuer: ISSUER, jtiPrefix: 'o', settleMs: 120 });

/**
 * A point in the addon's time (real time plus advances), taken right after an event such as a failed request;
 * `advanceTo(ms)` advances the clock so that `ms` have passed since then (never backwards).
 */
function mark() {
  const real = Date.now();
  const adv = clockOffsetMs();
  return {
    advanceTo(ms) {
      const passed = Date.now() - real + (clockOffsetMs() - adv);
      if (ms > passed) advance(Math.ceil(ms - passed));
    },
  };
}

/** Verifies `n` fresh tokens of `key` at once; all must succeed. */
const verifyMany = (verifier, key, n = 20) =>
  verifyAll(
    verifier,
    many(n, () => token(key)),
  );

/** `n` verifications that must all fail with `code` (and `fields`), quickly. */
async function failMany(verifier, key, n, code, fields) {
  const started = Date.now();
  const results = await Promise.allSettled(Array.from({ length: n }, () => verifier.verify(token(key))));
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    errorWith(code, fields)(r.reason);
  }
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 1000, `failing at once should be fast, took ${elapsed} ms`);
}

const status = (code, headers = {}) => ({ type: 'status', status: code, headers, body: 'upstream trouble' });

// ---- Retry-After as an HTTP-date (first: see inside) ----

test('Retry-After as an HTTP-date (503, cold): ERR_JWKS_RATE_LIMITED until that date', async (t) => {
  const key = ed();
  const { server, make } = await setup(t, [key]);
  // First in this file, while the clock offset is still 0: an HTTP-date then means the same on the addon's
  // clock, on real time and against the response's Date header.
  assert.equal(clockOffsetMs(), 0, 'this test must run before any advanceClock');
  const at = new Date(clockMs() + 8_000).toUTCString(); // 7-8 s from now
  server.setMode(status(503, { 'Retry-After': at }));
  const v = make();
  const err = await failure(v.verify(token(key)));
  errorWith('ERR_JWKS_RATE_LIMITED', { retryAfter: (s) => typeof s === 'number' && s >= 6 && s <= 8 })(err);
  assert.equal(server.count, 1);
  advance(5_000);
  errorWith('ERR_JWKS_RATE_LIMITED')(await failure(v.verify(token(key))));
  await settle();
  assert.equal(server.count, 1, 'no request before the date');
  server.setMode({ type: 'ok' });
  advance(3_500);
  assert.equal((await v.verify(token(key))).payload.sub, 'user-1');
  assert.equal(server.count, 2);
});

// ---- 5xx with and without cached keys ----

test('500 after expiry: known tokens still verify (stale) and requests back off 1 s doubling up to the cooldown', async (t) => {
  const key = ed();
  const { server, make } = await setup(t, [key], { cache: { maxAge: 60, cooldown: 10, maxStale: '1h' } });
  const v = make();
  const known = token(key);
  await v.verify(known);
  assert.equal(server.count, 1);
  server.setMode(status(500));
  advance(61_000);
  await v.verify(known);
  await verifyMany(v, key);
  await waitFor(() => server.count === 2, 'the failing refresh');
  let since = mark(); // time is measured from each failed request, real time included

  await verifyMany(v, key, 200); // a burst inside the first backoff window
  assert.equal((await v.verify(known)).payload.sub, 'user-1');
  await settle();
  assert.equal(server.count, 2, 'a burst of stale verifications makes no request inside the backoff');

  let expected = 2;
  for (const seconds of [1, 2, 4, 8, 10, 10]) {
    since.advanceTo(seconds * 1000 - 350);
    await verifyMany(v, key);
    await settle();
    assert.equal(server.count, expected, `no request before ${seconds} s of backoff`);
    since.advanceTo(seconds * 1000 + 150);
    await verifyMany(v, key);
    expected += 1;
    await waitFor(() => server.count === expected, `the request after ${seconds} s of backoff`);
    since = mark();
    await settle();
  }
  assert.equal((await v.verify(known)).payload.sub, 'user-1', 'still served stale');
  assert.equal(server.count, expected);
});

test('maxStale exceeded: ERR_JWKS_FETCH_FAILED with status 500', async (t) => {
  const key = ed();
  const { server, make } = await setup(t, [key], { cache: { maxAge: 60, cooldown: 10, maxStale: 120 } });
  const v = make();
  await v.verify(token(key));
  server.setMode(status(500));
  advance(61_000); // expired 1 s ago
  await verifyMany(v, key);
  await waitFor(() => server.count === 2, 'the failing refresh');
  await settle();
  advance(100_000); // 101 s stale: still within maxStale (120 s from expiry)
  await verifyMany(v, key);
  await waitFor(() => server.count === 3, 'the next attempt');
  await settle();
  advance(25_000); // 126 s stale
  const err = await failure(v.verify(token(key)));
  errorWith('ERR_JWKS_FETCH_FAILED', { status: 500 })(err);
  await settle();
  assert.ok(server.count <= 4, `at most one attempt for the failing verification, saw ${server.count}`);
  const seen = server.count;
  await failMany(v, key, 20, 'ERR_JWKS_FETCH_FAILED', { status: 500 });
  await settle();
  assert.equal(server.count, seen, 'failing at once without I/O during the backoff');
});

test('cold cache + 500: ERR_JWKS_FETCH_FAILED (status 500), then failing at once without I/O during backoff', async (t) => {
  const key = ed();
  const { server, make } = await setup(t, [key]);
  server.setMode(status(500));
  const v = make();
  errorWith('ERR_JWKS_FETCH_FAILED', { status: 500 })(await failure(v.verify(token(key))));
  assert.equal(server.count, 1);
  await failMany(v, key, 50, 'ERR_JWKS_FETCH_FAILED', { status: 500 });
  await settle();
  assert.equal(server.count, 1, 'no I/O during the 1 s backoff');

  advance(1_100);
  errorWith('ERR_JWKS_FETCH_FAILED', { status: 500 })(await failure(v.verify(token(key))));
  assert.equal(server.count, 2, 'one attempt after the backoff');

  server.setMode({ type: 'ok' });
  advance(1_000); // the backoff is now 2 s
  errorWith('ERR_JWKS_FETCH_FAILED', { status: 500 })(await failure(v.verify(token(key))));
  assert.equal(server.count, 2, 'still inside the doubled backoff');
  advance(1_200);
  assert.equal((await v.verify(token(key))).payload.sub, 'user-1');
  assert.equal(server.count, 3);
});

test('503 without Retry-After: ERR_JWKS_FETCH_FAILED with status 503', async (t) => {
  const key = ed();
  const { server, make } = await setup(t, [key]);
  server.setMode(status(503));
  const v = make();
  errorWith('ERR_JWKS_FETCH_FAILED', { status: 503 })(await failure(v.verify(token(key))));
  assert.equal(server.count, 1);
});

// ---- Retry-After ----

test('429 with Retry-After: 5 (cold): ERR_JWKS_RATE_LIMITED, and no request for 5 s', async (t) => {
  const key = ed();
  const { server, make } = await setup(t, [key]);
  server.setMode(status(429, { 'Retry-After': '5' }));
  const v = make();
  const err = await failure(v.verify(token(key)));
  errorWith('ERR_JWKS_RATE_LIMITED', { retryAfter: (s) => typeof s === 'number' && s >= 4 && s <= 5 })(err);
  assert.equal(server.count, 1);
  await failMany(v, key, 20, 'ERR_JWKS_RATE_LIMITED', { retryAfter: (s) => s > 3 && s <= 5 });
  assert.equal(server.count, 1);

  advance(4_000);
  const later = await failure(v.verify(token(key)));
  errorWith('ERR_JWKS_RATE_LIMITED', { retryAfter: (s) => s >= 0 && s <= 1.5 })(later);
  await settle();
  assert.equal(server.count, 1, 'no request before Retry-After passed (even though the 1 s backoff did)');

  server.setMode({ type: 'ok' });
  advance(1_300);
  assert.equal((await v.verify(token(key))).payload.sub, 'user-1');
  assert.equal(server.count, 2);
});

test('Retry-After is capped at 10 minutes', async (t) => {
  const key = ed();
  const { server, make } = await setup(t, [key]);
  server.setMode(status(429, { 'Retry-After': '86400' }));
  const v = make();
  const err = await failure(v.verify(token(key)));
  errorWith('ERR_JWKS_RATE_LIMITED', { retryAfter: (s) => s >= 590 && s <= 600 })(err);
  advance(590_000);
  errorWith('ERR_JWKS_RATE_LIMITED')(await failure(v.verify(token(key))));
  assert.equal(server.count, 1);
  server.setMode({ type: 'ok' });
  advance(11_000);
  assert.equal((await v.verify(token(key))).payload.sub, 'user-1');
  assert.equal(server.count, 2);
});

test('Retry-After is obeyed while stale keys serve (longer than the backoff and the cooldown)', async (t) => {
  const key = ed();
  const { server, make } = await setup(t, [key], { cache: { maxAge: 60, cooldown: 10, maxStale: '1h' } });
  const v = make();
  await v.verify(token(key));
  server.setMode(status(503, { 'Retry-After': '20' }));
  advance(61_000);
  await verifyMany(v, key);
  await waitFor(() => server.count === 2, 'the refresh answered 503');
  const since = mark();
  await settle();
  for (const at of [2_000, 7_000, 19_500]) {
    since.advanceTo(at);
    await verifyMany(v, key);
    await settle();
    assert.equal(server.count, 2, `no request ${at} ms after the 503 (Retry-After: 20)`);
  }
  since.advanceTo(20_200);
  await verifyMany(v, key);
  await waitFor(() => server.count === 3, 'the request once Retry-After passed');
});

// ---- timeouts ----

test('stalled endpoint, cold cache, http.timeout 500ms: ERR_JWKS_TIMEOUT in under 1.5 s', async (t) => {
  const key = ed();
  const { server, make } = await setup(t, [key], { http: { timeout: '500ms' } });
  server.setMode({ type: 'stall' });
  const v = make();
  const started = Date.now();
  const err = await failure(v.verify(token(key)));
  const elapsed = Date.now() - started;
  errorWith('ERR_JWKS_TIMEOUT')(err);
  assert.ok(elapsed < 1500, `took ${elapsed} ms`);
  assert.ok(elapsed >= 400, `gave up before the timeout: ${elapsed} ms`);
  assert.equal(server.count, 1);
  await failMany(v, key, 20, 'ERR_JWKS_TIMEOUT'); // the last error's code, at once
  assert.equal(server.count, 1);
});

test('a timed-out refresh with cached keys: stale keys serve and the timeout backs off like a failure', async (t) => {
  const key = ed();
  const { server, make } = await setup(t, [key], { cache: { maxAge: 60, cooldown: 10 }, http: { timeout: '300ms' } });
  const v = make();
  await v.verify(token(key));
  server.setMode({ type: 'stall' });
  advance(61_000);
  const started = Date.now();
  await verifyMany(v, key);
  assert.ok(Date.now() - started < 300, 'stale keys serve without waiting');
  await waitFor(() => server.count === 2, 'the stalled refresh');
  await sleep(600); // the 300 ms timeout passes (real time)
  await verifyMany(v, key, 100);
  await settle();
  assert.equal(server.count, 2, 'no retry inside the backoff');
  advance(1_200);
  await verifyMany(v, key);
  await waitFor(() => server.count === 3, 'the retry after the backoff');
});

// ---- bodies that are not a JWKS, size limits ----

for (const chunked of [false, true]) {
  const how = chunked ? 'chunked, no Content-Length' : 'with Content-Length';
  const refused = (err) => {
    assert.ok(
      ['ERR_JWKS_FETCH_FAILED', 'ERR_JWKS_INVALID'].includes(err?.code),
      `an over-size body is refused as a fetch failure or an invalid JWKS, got ${err?.code}: ${err?.message}`,
    );
  };

  test(`a 5 MB body (${how}) is refused on a cold cache`, async (t) => {
    const key = ed();
    const { server, make } = await setup(t, [key]);
    server.setMode({ type: 'huge', bytes: 5 * 1024 * 1024, chunked });
    const v = make();
    const started = Date.now();
    refused(await failure(v.verify(token(key))));
    assert.ok(Date.now() - started < 3000, 'refused without a long read');
    assert.equal(server.count, 1);
  });

  test(`a 5 MB body (${how}) never replaces good keys`, async (t) => {
    const key = ed();
    const stranger = ed();
    const { server, make } = await setup(t, [key], { cache: { maxAge: 60, cooldown: 10 } });
    const v = make();
    await v.verify(token(key));
    server.setMode({ type: 'huge', bytes: 5 * 1024 * 1024, chunked });
    await failure(v.verify(token(stranger))); // unknown kid: a refetch that gets the huge body
    assert.equal(server.count, 2);
    await verifyMany(v, key);
    advance(61_000); // and a scheduled refresh that gets it too
    await verifyMany(v, key);
    await waitFor(() => server.count === 3, 'the refresh');
    await settle();
    await verifyMany(v, key);
  });
}

test('http.maxBytes: a JWKS larger than the limit is refused, the same JWKS under a larger limit is accepted', async (t) => {
  const keys = Array.from({ length: 8 }, () => ed());
  const size = JSON.stringify(toJwks(keys)).length;
  assert.ok(size > 1024, `the test JWKS must exceed 1024 bytes (is ${size})`);
  const small = await setup(t, keys, { http: { maxBytes: 1024 } });
  const err = await failure(small.make().verify(token(keys[0])));
  assert.ok(['ERR_JWKS_FETCH_FAILED', 'ERR_JWKS_INVALID'].includes(err.code), `got ${err.code}: ${err.message}`);
  assert.equal(small.server.count, 1);

  const large = await setup(t, keys, { http: { maxBytes: 64 * 1024 } });
  assert.equal((await large.make().verify(token(keys[7]))).payload.sub, 'user-1');
  assert.equal(large.server.count, 1);
});

for (const body of ['not json', '{}', '{"keys": 5}']) {
  test(`body ${JSON.stringify(body)} on a cold cache: ERR_JWKS_INVALID, then at once without I/O`, async (t) => {
    const key = ed();
    const { server, make } = await setup(t, [key]);
    server.setMode({ type: 'body', body });
    const v = make();
    errorWith('ERR_JWKS_INVALID')(await failure(v.verify(token(key))));
    assert.equal(server.count, 1);
    await failMany(v, key, 20, 'ERR_JWKS_INVALID');
    assert.equal(server.count, 1, 'a 200 with a bad body counts as a failure and backs off');
  });

  test(`body ${JSON.stringify(body)} on a warm cache: good keys are kept`, async (t) => {
    const key = ed();
    const stranger = ed();
    const { server, make } = await setup(t, [key], { cache: { maxAge: 60, cooldown: 10, maxStale: '1h' } });
    const v = make();
    await v.verify(token(key));
    server.setMode({ type: 'body', body });
    await failure(v.verify(token(stranger))); // unknown kid: a refetch that gets the bad body
    assert.equal(server.count, 2);
    await verifyMany(v, key);
    advance(61_000);
    await verifyMany(v, key);
    await waitFor(() => server.count === 3, 'the refresh');
    await settle();
    await verifyMany(v, key, 50);
  });
}

// ---- redirects ----

test('a redirect loop is bounded (at most 4 requests) and fails', async (t) => {
  const key = ed();
  const { server, make } = await setup(t, [key]);
  server.setMode({ type: 'redirect', location: server.url });
  const v = make();
  errorWith('ERR_JWKS_FETCH_FAILED')(await failure(v.verify(token(key))));
  await settle();
  assert.ok(server.count >= 1 && server.count <= 4, `requests: ${server.count}`);
});

test('a redirect to another loopback URL is followed', async (t) => {
  const key = ed();
  const target = await setup(t, [key]);
  const front = await setup(t, []);
  front.server.setMode({ type: 'redirect', location: target.server.url });
  const v = front.make();
  assert.equal((await v.verify(token(key))).payload.sub, 'user-1');
  assert.equal(front.server.count, 1);
  assert.equal(target.server.count, 1);
});

/** A server whose `/hop1` redirects through `hops` hops in total to the JWKS path. */
async function chain(t, keys, hops) {
  const s = await setup(t, keys);
  for (let i = 1; i <= hops; i++) {
    const next = i === hops ? s.server.url : `${s.server.origin}/hop${i + 1}`;
    s.server.route(`/hop${i}`, (req, res) => {
      res.writeHead(302, { location: next });
      res.end();
    });
  }
  return { ...s, make: () => s.make({ jwksUri: `${s.server.origin}/hop1` }) };
}

test('3 redirects are followed, a 4th is not', async (t) => {
  const key = ed();
  const three = await chain(t, [key], 3);
  assert.equal((await three.make().verify(token(key))).payload.sub, 'user-1');
  assert.equal(three.server.count, 1);

  const four = await chain(t, [key], 4);
  errorWith('ERR_JWKS_FETCH_FAILED')(await failure(four.make().verify(token(key))));
  assert.equal(four.server.count, 0, 'the JWKS path behind the 4th redirect is never requested');
  assert.equal(four.server.countFor('/hop4'), 1);
});
