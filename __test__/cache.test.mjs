// The key cache (DESIGN.md "Rules of the key cache" and "Precise rules"): freshness and Cache-Control clamping,
// refresh ahead and stale-while-revalidate, single flight, the unknown-kid cooldown, rotation, conditional
// requests (304). Every test starts its own JWKS server (a fresh URL, so a fresh process-wide key cache) and
// asserts how many requests that server saw.
//
// Time: the Verifiers read the test clock (`testClock`, see support/expect.mjs), moved with `advanceClock` (forward only); tokens are dated on that
// clock (`clockMs`), so each test works whatever the tests before it advanced.
import test from 'node:test';
import assert from 'node:assert/strict';
import addon from '../index.js';
import { toJwks } from './support/keys.mjs';
import { sendJson } from './support/jwks-server.mjs';
import { errorWith } from './support/expect.mjs';
import { advance, cacheHarness, ed, failure, many, verifyAll, waitFor } from './support/cache-harness.mjs';

const { createVerifier } = addon;
const ISSUER = 'https://issuer.cache.test';

// ---- helpers ----

const { token, settle, setup } = cacheHarness({ issuer: ISSUER, jtiPrefix: 'c', settleMs: 150 });

/** Waits until a refresh after expiry has landed: the verifier's keys are fresh again. */
const landed = (v) => waitFor(() => v.health()[0]?.state === 'fresh', 'the refresh to land (health fresh)');

// ---- single flight and freshness ----

test('cold start: 1,000 concurrent verifications make exactly one fetch', async (t) => {
  const key = ed();
  const { server, make } = await setup(t, [key]);
  const v = make();
  const results = await verifyAll(
    v,
    many(1000, () => token(key)),
  );
  assert.equal(server.count, 1, 'requests to the JWKS endpoint');
  assert.equal(results[999].payload.sub, 'user-1');
  assert.equal(results[0].issuer, ISSUER);
  await settle();
  assert.equal(server.count, 1, 'requests to the JWKS endpoint after settling');
});

test('5,000 verifications within maxAge make no further fetch (also at 80 % of maxAge)', async (t) => {
  const key = ed();
  const { server, make } = await setup(t, [key], { cache: { maxAge: 100 } });
  const v = make();
  await v.verify(token(key));
  assert.equal(server.count, 1);
  for (let round = 0; round < 10; round++) {
    if (round === 5) advance(80_000); // still fresh, and before the 90 % refresh-ahead point
    await verifyAll(
      v,
      many(500, () => token(key)),
    );
  }
  await settle();
  assert.equal(server.count, 1, 'requests after 5,000 verifications within maxAge');
});

test('refresh ahead: after 90 % of maxAge the first verification starts one background refresh', async (t) => {
  const key = ed();
  const { server, make } = await setup(t, [key], { cache: { maxAge: 100 } });
  const v = make();
  await v.verify(token(key));
  advance(85_000);
  await verifyAll(
    v,
    many(50, () => token(key)),
  );
  await settle();
  assert.equal(server.count, 1, 'no refresh before 90 % of maxAge');
  advance(6_000); // 91 s of 100
  await verifyAll(
    v,
    many(200, () => token(key)),
  );
  await waitFor(() => server.count >= 2, 'the refresh-ahead request');
  await verifyAll(
    v,
    many(200, () => token(key)),
  );
  await settle();
  assert.equal(server.count, 2, 'exactly one refresh for many verifications');
});

test('stale-while-revalidate: after maxAge, verifications succeed at once with the old keys while one refresh runs', async (t) => {
  const key = ed();
  const { server, make } = await setup(t, [key], { cache: { maxAge: 60 } });
  const v = make();
  await v.verify(token(key));
  assert.equal(server.count, 1);
  const delayMs = 1500;
  server.setMode({ type: 'slow', delayMs });
  advance(61_000);
  const tokens = many(300, () => token(key));
  const started = Date.now();
  await verifyAll(v, tokens);
  const elapsed = Date.now() - started;
  assert.ok(elapsed < delayMs - 300, `verifications waited for the refresh: ${elapsed} ms (refresh takes ${delayMs} ms)`);
  await waitFor(() => server.count >= 2, 'the background refresh');
  await verifyAll(
    v,
    many(300, () => token(key)),
  ); // while the refresh is in flight
  await landed(v); // the slow answer lands
  await verifyAll(
    v,
    many(300, () => token(key)),
  ); // fresh again
  await settle();
  assert.equal(server.count, 2, 'one refresh, not one per verification');
});

// ---- Cache-Control ----

/**
 * Answers the JWKS with `Cache-Control: cacheControl` under `cache` options, then checks where the first refresh
 * comes: none after advancing `quietMs` past the first fetch (`notYet`), one after advancing `dueMs` more (`due`).
 */
async function checkRefreshPoint(t, { cache, cacheControl, quietMs, dueMs, notYet, due }) {
  const key = ed();
  const { server, make } = await setup(t, [key], { cache });
  server.setHeaders({ 'Cache-Control': cacheControl });
  const v = make();
  await v.verify(token(key));
  advance(quietMs);
  await verifyAll(
    v,
    many(20, () => token(key)),
  );
  await settle();
  assert.equal(server.count, 1, notYet);
  advance(dueMs);
  await verifyAll(
    v,
    many(20, () => token(key)),
  );
  await waitFor(() => server.count === 2, due);
}

for (const cacheControl of ['max-age=5', 'max-age=0', 'no-store', 'no-cache']) {
  test(`Cache-Control "${cacheControl}" is clamped up to the cooldown (30 s)`, async (t) => {
    await checkRefreshPoint(t, {
      cache: { maxAge: 600, cooldown: 30 },
      cacheControl,
      quietMs: 20_000, // long past 5 s, before 90 % of 30 s
      dueMs: 8_000, // 28 s: past 27 s (90 % of 30 s)
      notYet: 'no refresh before 90 % of the cooldown',
      due: 'the refresh once 90 % of the clamped lifetime passed',
    });
  });
}

test('Cache-Control max-age above maxAge is clamped down to maxAge', async (t) => {
  await checkRefreshPoint(t, {
    cache: { maxAge: 60, cooldown: 10 },
    cacheControl: 'public, max-age=86400',
    quietMs: 50_000,
    dueMs: 5_000, // 55 s: past 54 s (90 % of 60 s)
    notYet: 'no refresh before 90 % of maxAge',
    due: 'the refresh once 90 % of maxAge passed',
  });
});

test('Cache-Control max-age between cooldown and maxAge is honoured', async (t) => {
  await checkRefreshPoint(t, {
    cache: { maxAge: 600, cooldown: 10 },
    cacheControl: 'max-age=40',
    quietMs: 30_000,
    dueMs: 7_000, // 37 s: past 36 s
    notYet: 'no refresh before 90 % of max-age=40',
    due: 'the refresh once 90 % of max-age=40 passed',
  });
});

// ---- unknown kid and the cooldown ----

test('500 unknown kids inside the cooldown: one refetch, then answered from memory without I/O', async (t) => {
  const key = ed();
  const stranger = ed(); // never published under these kids
  const { server, make } = await setup(t, [key], { cache: { cooldown: 30 } });
  const v = make();
  await v.verify(token(key));
  assert.equal(server.count, 1);

  const unknown = many(500, (i) => token(stranger, { kid: `missing-${i}` }));
  const results = await Promise.allSettled(unknown.map((tk) => v.verify(tk)));
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    errorWith('ERR_JWKS_NO_MATCHING_KEY')(r.reason);
  }
  // The first fetch does not start the cooldown, so exactly one refetch is allowed (single flight).
  assert.ok(server.count <= 2, `at most one extra fetch, saw ${server.count - 1}`);
  assert.equal(server.count, 2, 'the unknown kid causes one refetch');

  const started = Date.now();
  for (let i = 0; i < 20; i++) {
    const err = await failure(v.verify(unknown[0]));
    errorWith('ERR_JWKS_NO_MATCHING_KEY', { kid: 'missing-0' })(err);
  }
  assert.ok(Date.now() - started < 1000, 'remembered missing kids are answered at once');
  await settle();
  assert.equal(server.count, 2, 'a kid remembered as missing causes no I/O');

  // A key published during the cooldown is found only once the cooldown is over.
  const late = { ...stranger.jwk, kid: 'late-kid' };
  server.setJwks({ keys: [key.jwk, late] });
  const lateToken = token(stranger, { kid: 'late-kid' });
  errorWith('ERR_JWKS_NO_MATCHING_KEY')(await failure(v.verify(lateToken)));
  assert.equal(server.count, 2, 'no refetch inside the cooldown');
  advance(31_000);
  const { payload } = await v.verify(token(stranger, { kid: 'late-kid' }));
  assert.equal(payload.sub, 'user-1');
  assert.equal(server.count, 3, 'one refetch after the cooldown');
});

test('a failed unknown-kid refetch also starts the cooldown; missing kids are remembered per URL', async (t) => {
  const key = ed();
  const stranger = ed();
  const { server, make } = await setup(t, [key], { cache: { cooldown: 30 } });
  const v1 = make();
  const v2 = make();
  await v1.verify(token(key));
  server.setMode({ type: 'status', status: 500 });
  const tk = token(stranger);
  await failure(v1.verify(tk)); // refetch -> 500; the cached keys still serve, the kid is not among them
  assert.equal(server.count, 2);
  assert.equal((await v1.verify(token(key))).payload.sub, 'user-1', 'a failed refetch keeps the keys');

  errorWith('ERR_JWKS_NO_MATCHING_KEY')(await failure(v2.verify(tk)));
  assert.equal(server.count, 2, 'another Verifier on the URL: the missing kid is remembered');
  advance(5_000); // past the 1 s backoff, inside the 30 s cooldown
  errorWith('ERR_JWKS_NO_MATCHING_KEY')(await failure(v2.verify(token(stranger, { kid: 'another-kid' }))));
  assert.equal(server.count, 2, 'the failed refetch started the cooldown');

  server.setMode({ type: 'ok' });
  server.setJwks(toJwks(key, stranger));
  advance(26_000); // past the cooldown
  assert.equal((await v2.verify(token(stranger))).payload.sub, 'user-1');
  assert.equal(server.count, 3);
});

test('a key published just after start-up is accepted after one refetch (the first fetch starts no cooldown)', async (t) => {
  const a = ed();
  const b = ed();
  const c = ed();
  const { server, make } = await setup(t, [a], { cache: { cooldown: 30 } });
  const v = make();
  await v.ready();
  assert.equal(server.count, 1);
  server.setJwks(toJwks(a, b));
  const { payload } = await v.verify(token(b));
  assert.equal(payload.sub, 'user-1');
  assert.equal(server.count, 2, 'one refetch for the new kid');
  await v.verify(token(b));
  assert.equal(server.count, 2, 'the new key is now cached');
  // That refetch started the cooldown: a key published now is not fetched for yet.
  server.setJwks(toJwks(a, b, c));
  errorWith('ERR_JWKS_NO_MATCHING_KEY')(await failure(v.verify(token(c))));
  assert.equal(server.count, 2, 'no second unknown-kid refetch inside the cooldown');
});

test('a scheduled refresh does not start the cooldown', async (t) => {
  const a = ed();
  const b = ed();
  const { server, make } = await setup(t, [a], { cache: { maxAge: 60, cooldown: 30 } });
  const v = make();
  await v.verify(token(a));
  const firstFetch = v.health()[0].fetchedAt;
  advance(55_000); // past 90 % of maxAge (the keys are still fresh)
  await v.verify(token(a));
  await waitFor(() => server.count === 2, 'the scheduled refresh');
  await waitFor(() => v.health()[0].fetchedAt > firstFetch, 'the scheduled refresh to land');
  server.setJwks(toJwks(a, b));
  const { payload } = await v.verify(token(b));
  assert.equal(payload.sub, 'user-1');
  assert.equal(server.count, 3, 'the unknown kid was refetched right after a scheduled refresh');
});

// ---- rotation ----

test('rotation via an unknown-kid refetch: a removed key is rejected, also for a token verified (and cached) before', async (t) => {
  const a = ed();
  const b = ed();
  const stranger = ed();
  const { server, make } = await setup(t, [a, b], { cache: { cooldown: 30 } });
  const v = make();
  const tokenA = token(a);
  const tokenB = token(b);
  await v.verify(tokenA);
  await v.verify(tokenA); // now in the token cache
  await v.verify(tokenB);
  assert.equal(server.count, 1);

  server.setJwks(toJwks(b)); // a is rotated out
  errorWith('ERR_JWKS_NO_MATCHING_KEY')(await failure(v.verify(token(stranger)))); // forces the refetch
  assert.equal(server.count, 2);

  errorWith('ERR_JWKS_NO_MATCHING_KEY')(await failure(v.verify(tokenA)));
  errorWith('ERR_JWKS_NO_MATCHING_KEY')(await failure(v.verify(token(a))));
  assert.equal((await v.verify(tokenB)).payload.sub, 'user-1', 'the remaining key still verifies');
  assert.equal(server.count, 2, 'no further I/O inside the cooldown');
});

test('rotation via a scheduled refresh: the removed key and its cached verifications are rejected', async (t) => {
  const a = ed();
  const b = ed();
  const { server, make } = await setup(t, [a, b], { cache: { maxAge: 60, cooldown: 30 } });
  const v = make();
  const tokenA = token(a);
  await v.verify(tokenA);
  await v.verify(tokenA); // token cache
  assert.equal(server.count, 1);

  server.setJwks(toJwks(b));
  advance(61_000);
  await v.verify(token(b)); // stale keys serve, the refresh starts
  await waitFor(() => server.count >= 2, 'the refresh');
  // Until the refresh lands tokenA may still pass; afterwards it must fail.
  let last;
  await waitFor(async () => {
    last = await v.verify(tokenA).then(
      () => null,
      (err) => err,
    );
    return last !== null;
  }, 'tokenA to be rejected after the refresh');
  errorWith('ERR_JWKS_NO_MATCHING_KEY')(last);
  assert.ok(server.count <= 3, `the refresh plus at most one unknown-kid refetch, saw ${server.count}`);
  const seen = server.count;
  errorWith('ERR_JWKS_NO_MATCHING_KEY')(await failure(v.verify(tokenA)));
  errorWith('ERR_JWKS_NO_MATCHING_KEY')(await failure(v.verify(token(a))));
  assert.equal((await v.verify(token(b))).payload.sub, 'user-1');
  await settle();
  assert.equal(server.count, seen, 'the removed kid is remembered: no more I/O');
});

// ---- conditional requests ----

/** The JWKS requests the server logged (not other paths). */
const jwksRequests = (server) => server.log.filter((e) => e.path === server.path);

/**
 * Lets the keys (maxAge 60 s) expire: the refresh sends `requestHeader: expected` and is answered 304, which keeps
 * the keys and renews their freshness.
 */
async function checkNotModifiedRefresh(server, v, key, requestHeader, expected) {
  advance(61_000);
  await v.verify(token(key));
  await waitFor(() => server.count === 2, 'the refresh');
  assert.equal(jwksRequests(server)[1].headers[requestHeader], expected);
  await waitFor(() => v.stats().notModified === 1, 'stats().notModified === 1');

  // keys stay, and the 304 renewed freshness: no fetch for most of another maxAge
  await verifyAll(
    v,
    many(20, () => token(key)),
  );
  advance(45_000);
  await verifyAll(
    v,
    many(20, () => token(key)),
  );
  await settle();
  assert.equal(server.count, 2, 'the 304 renewed freshness');
}

test('ETag: the refresh sends If-None-Match, a 304 keeps the keys and renews freshness', async (t) => {
  const a = ed();
  const b = ed();
  const { server, make } = await setup(t, [a], { cache: { maxAge: 60, cooldown: 10 } });
  server.setHeaders({ ETag: '"v1"' });
  const v = make();
  await v.verify(token(a));
  assert.equal(server.count, 1);
  assert.equal(jwksRequests(server)[0].headers['if-none-match'], undefined, 'the first fetch is unconditional');

  await checkNotModifiedRefresh(server, v, a, 'if-none-match', '"v1"');

  // a changed set with a new ETag arrives as a 200
  server.setJwks(toJwks(a, b));
  server.setHeaders({ ETag: '"v2"' });
  assert.equal((await v.verify(token(b))).payload.sub, 'user-1');
  assert.equal(server.count, 3);
  assert.equal(jwksRequests(server)[2].headers['if-none-match'], '"v1"');
  assert.equal(v.stats().notModified, 1);
});

test('Last-Modified: the refresh sends If-Modified-Since, a 304 keeps the keys', async (t) => {
  const a = ed();
  const { server, make } = await setup(t, [a], { cache: { maxAge: 60, cooldown: 10 } });
  const lastModified = new Date(Date.now() - 3600_000).toUTCString();
  server.setHeaders({ 'Last-Modified': lastModified });
  const v = make();
  await v.verify(token(a));
  assert.equal(jwksRequests(server)[0].headers['if-modified-since'], undefined, 'the first fetch is unconditional');

  await checkNotModifiedRefresh(server, v, a, 'if-modified-since', lastModified);
});

// ---- sharing, blocking, close ----

test('two Verifiers on one URL share one cache: one fetch', async (t) => {
  const key = ed();
  const { server, make } = await setup(t, [key], { cache: { maxAge: 600 } });
  const v1 = make();
  const v2 = make({}, createVerifier);
  await Promise.all([
    verifyAll(
      v1,
      many(100, () => token(key)),
    ),
    verifyAll(
      v2,
      many(100, () => token(key)),
    ),
  ]);
  assert.equal(server.count, 1);
  await v2.ready();
  await v1.ready();
  await settle();
  assert.equal(server.count, 1, 'ready() with cached keys fetches nothing');
});

test("the first Verifier's cache options win for a shared URL; a later one with others gets a warning event", async (t) => {
  const key = ed();
  const { server, make } = await setup(t, [key]);
  const v1 = make({ cache: { maxAge: 60 } });
  await v1.verify(token(key));
  const sameEvents = [];
  const same = make({ cache: { maxAge: 60 }, onEvent: (e) => sameEvents.push(e) });
  const otherEvents = [];
  const other = make({ cache: { maxAge: 3600 }, onEvent: (e) => otherEvents.push(e) });
  await waitFor(() => otherEvents.some((e) => e.type === 'warning'), 'a warning event for different cache options');
  assert.equal(otherEvents.find((e) => e.type === 'warning').jwksUri, server.url);
  await same.verify(token(key));
  assert.equal(server.count, 1);
  advance(55_000); // past 90 % of the first Verifier's maxAge (60 s), far from 3600 s
  await other.verify(token(key));
  await waitFor(() => server.count === 2, "a refresh on the first Verifier's schedule");
  await settle();
  assert.deepEqual(
    sameEvents.filter((e) => e.type === 'warning'),
    [],
    'same options: no warning',
  );
});

test('caches are per (URL, http.headers): other headers on the same URL make a separate cache', async (t) => {
  const key = ed();
  const { server, make } = await setup(t, [key]);
  const plain = make();
  const tagged = make({ http: { headers: { 'x-tenant': 'blue' } } });
  const tagged2 = make({ http: { headers: { 'x-tenant': 'blue' } } });
  await plain.verify(token(key));
  assert.equal(server.count, 1);
  await tagged.verify(token(key));
  assert.equal(server.count, 2, 'other headers: another cache, another fetch');
  assert.equal(jwksRequests(server)[1].headers['x-tenant'], 'blue', 'http.headers are sent');
  await tagged2.verify(token(key));
  assert.equal(server.count, 2, 'the same headers share that cache');
});

test('verifySync on a cold cache: ERR_JWKS_NOT_LOADED, never more than one load; then it uses the cache', async (t) => {
  const key = ed();
  const { server, make } = await setup(t, [key]);
  const v = make();
  const tk = token(key);
  for (let i = 0; i < 100; i++) assert.throws(() => v.verifySync(tk), errorWith('ERR_JWKS_NOT_LOADED'));
  await settle();
  assert.ok(server.count <= 1, `at most one background load for 100 calls, saw ${server.count}`);
  await v.ready();
  assert.equal(server.count, 1);
  assert.equal(v.verifySync(tk).payload.sub, 'user-1');
  assert.equal(server.count, 1);
});

test('verifySync after ready() with an unknown kid: ERR_JWKS_NO_MATCHING_KEY (not NOT_LOADED), and a background refetch finds a new key', async (t) => {
  const key = ed();
  const { server, make } = await setup(t, [key]);
  const v = make();
  await v.ready();
  const late = ed();
  const tk = token(late);
  assert.throws(() => v.verifySync(tk), errorWith('ERR_JWKS_NO_MATCHING_KEY', { kid: late.kid }));
  await waitFor(() => server.count === 2, 'the background refetch');
  server.setJwks(toJwks(key, late));
  advance(31_000); // past the cooldown: the next refetch may run
  assert.throws(() => v.verifySync(tk), errorWith('ERR_JWKS_NO_MATCHING_KEY'));
  await waitFor(() => {
    try {
      return v.verifySync(tk).payload.sub === 'user-1';
    } catch {
      return false;
    }
  }, 'the published key');
  assert.equal(server.count, 3);
});

test('discovery documents are cached like keys (24 h), the JWKS on its own schedule', async (t) => {
  const key = ed();
  const { server, make } = await setup(t, [key]);
  const discovery = '/.well-known/openid-configuration';
  server.route(discovery, (req, res) => sendJson(res, { issuer: server.origin, jwks_uri: server.url }));
  const v = make({ issuer: server.origin, jwksUri: undefined, cache: { maxAge: 60, maxStale: '72h' } });
  const tok = () => token(key, { claims: { iss: server.origin } });
  await verifyAll(v, many(100, tok));
  assert.equal(server.countFor(discovery), 1, 'one discovery request for 100 cold verifications');
  assert.equal(server.count, 1);

  advance(61_000); // the JWKS expires, the discovery document does not
  await verifyAll(v, many(10, tok));
  await waitFor(() => server.count === 2, 'the JWKS refresh');
  await settle();
  assert.equal(server.countFor(discovery), 1, 'discovery is not refetched with the keys');

  advance(24 * 3600_000 + 1000); // past the discovery document's 24 h
  await verifyAll(v, many(10, tok));
  await waitFor(() => server.countFor(discovery) === 2, 'the discovery refresh after 24 h');
  await settle();
  await verifyAll(v, many(10, tok));
  assert.equal(server.countFor(discovery), 2);
});

test('a discovery document that names another issuer: ERR_JWKS_INVALID and the JWKS is never fetched', async (t) => {
  const key = ed();
  const { server, make } = await setup(t, [key]);
  const discovery = '/.well-known/openid-configuration';
  server.route(discovery, (req, res) => sendJson(res, { issuer: 'https://someone-else.test', jwks_uri: server.url }));
  const v = make({ issuer: server.origin, jwksUri: undefined });
  const err = await failure(v.verify(token(key, { claims: { iss: server.origin } })));
  errorWith('ERR_JWKS_INVALID')(err);
  assert.equal(server.countFor(discovery), 1);
  assert.equal(server.count, 0);
});

test('a verification is never blocked by a fetch in progress when keys are cached', async (t) => {
  const key = ed();
  const { server, make } = await setup(t, [key], { cache: { maxAge: 60 }, http: { timeout: '3s' } });
  const v = make();
  await v.verify(token(key));
  server.setMode({ type: 'stall' });
  advance(61_000);
  let started = Date.now();
  await v.verify(token(key));
  assert.ok(Date.now() - started < 500, `the first stale verification took ${Date.now() - started} ms`);
  await waitFor(() => server.count === 2, 'the (stalled) refresh request');
  started = Date.now();
  await verifyAll(
    v,
    many(100, () => token(key)),
  );
  assert.equal(v.verifySync(token(key)).payload.sub, 'user-1');
  assert.ok(Date.now() - started < 1000, `verifications during the stalled refresh took ${Date.now() - started} ms`);
  assert.equal(server.count, 2, 'one refresh in flight, no more');
});

test('close() on one Verifier does not break another on the same URL', async (t) => {
  const a = ed();
  const b = ed();
  const { server, make } = await setup(t, [a], { cache: { maxAge: 60, cooldown: 10 } });
  const v1 = make();
  const v2 = make();
  await v1.verify(token(a));
  await v2.verify(token(a));
  assert.equal(server.count, 1);
  v1.close();
  v1.close(); // idempotent
  errorWith('ERR_VERIFIER_CLOSED')(await failure(v1.verify(token(a))));
  assert.equal((await v2.verify(token(a))).payload.sub, 'user-1');

  advance(61_000);
  await v2.verify(token(a));
  await waitFor(() => server.count === 2, 'the refresh for the open verifier');
  await landed(v2);
  server.setJwks(toJwks(a, b));
  assert.equal((await v2.verify(token(b))).payload.sub, 'user-1', 'the open verifier still refetches');
  assert.equal(server.count, 3);
});
