// What a Verifier tells about itself (DESIGN.md "Precise rules" / Shapes): health(), stats(), onEvent, and the
// token cache as seen through stats().tokenCacheHits. Every test starts its own JWKS server (a fresh process-wide
// key cache) and asserts the requests it saw.
//
// Time: the Verifiers read the test clock (`testClock`, see support/expect.mjs), moved with `advanceClock` (forward only); tokens are dated on that
// clock (`clockMs`).
import test from 'node:test';
import assert from 'node:assert/strict';
import { threadId } from 'node:worker_threads';
import diagnosticsChannel from 'node:diagnostics_channel';
import { generateKey, toJwks } from './support/keys.mjs';
import { explainKeys, Verifier } from '../index.js';
import { errorWith } from './support/expect.mjs';
import { advance, cacheHarness, clockMs, ed, failure, waitFor } from './support/cache-harness.mjs';

const ISSUER = 'https://issuer.observability.test';

// ---- helpers ----

const { token, settle, setup } = cacheHarness({ issuer: ISSUER, jtiPrefix: 'b', settleMs: 120 });

const sorted = (a) => [...a].sort();
const isEpochMs = (x) => typeof x === 'number' && Number.isFinite(x) && x > 1.5e12 && x < 1e14;
const STAT_COUNTERS = ['verifications', 'tokenCacheHits', 'fetches', 'notModified', 'fetchErrors', 'cooldownRefusals', 'staleServes'];

// ---- health() ----

test("health(): 'empty' -> 'fresh' -> 'stale' -> 'failing', with kids, times and lastError", async (t) => {
  const a = ed();
  const b = ed();
  const { server, make } = await setup(t, [a, b], { cache: { maxAge: 60, cooldown: 10, maxStale: 120 } });
  const v = make();

  let [h, ...rest] = v.health();
  assert.equal(rest.length, 0, 'one issuer, one entry');
  assert.equal(h.issuer, ISSUER);
  assert.equal(h.jwksUri, server.url);
  assert.equal(h.state, 'empty');
  assert.deepEqual(h.kids, []);
  assert.equal(h.fetchedAt, null);
  assert.equal(h.expiresAt, null);
  assert.equal(h.lastError, null);
  assert.equal(server.count, 0, 'health() does no I/O');

  const before = clockMs();
  await v.ready();
  const after = clockMs();
  [h] = v.health();
  assert.equal(h.state, 'fresh');
  assert.deepEqual(sorted(h.kids), sorted([a.kid, b.kid]));
  assert.ok(isEpochMs(h.fetchedAt), `fetchedAt ${h.fetchedAt}`);
  assert.ok(
    h.fetchedAt >= before - 1000 && h.fetchedAt <= after + 1000,
    `fetchedAt ${h.fetchedAt} on the addon's clock ${before}..${after}`,
  );
  assert.ok(isEpochMs(h.expiresAt), `expiresAt ${h.expiresAt}`);
  assert.ok(Math.abs(h.expiresAt - h.fetchedAt - 60_000) <= 1000, `expiresAt - fetchedAt = ${h.expiresAt - h.fetchedAt} (maxAge 60 s)`);
  assert.equal(h.lastError, null);
  assert.equal(server.count, 1);

  server.setMode({ type: 'status', status: 500 });
  advance(61_000);
  assert.equal(v.health()[0].state, 'stale', 'expired keys are stale');
  await v.verify(token(a)); // served stale; the refresh fails
  await waitFor(() => v.health()[0].lastError !== null, 'lastError after the failed refresh');
  [h] = v.health();
  assert.equal(h.state, 'stale', 'still serving the last good keys within maxStale');
  assert.deepEqual(sorted(h.kids), sorted([a.kid, b.kid]));
  assert.equal(h.lastError.code, 'ERR_JWKS_FETCH_FAILED');
  assert.equal(typeof h.lastError.message, 'string');
  assert.equal(server.count, 2);

  advance(125_000); // beyond maxStale (120 s from expiry)
  errorWith('ERR_JWKS_FETCH_FAILED', { status: 500 })(await failure(v.verify(token(a))));
  [h] = v.health();
  assert.equal(h.state, 'failing');
  assert.equal(h.lastError?.code, 'ERR_JWKS_FETCH_FAILED');

  server.setMode({ type: 'ok' });
  advance(11_000); // past any backoff (capped at the cooldown, 10 s)
  await v.verify(token(a));
  [h] = v.health();
  assert.equal(h.state, 'fresh', 'recovers once the endpoint answers');
  assert.ok(h.fetchedAt >= clockMs() - 2000, 'fetchedAt moved to the new fetch');
});

test("health(): a cold cache whose endpoint fails is 'failing' with lastError and no kids", async (t) => {
  const a = ed();
  const { server, make } = await setup(t, [a]);
  server.setMode({ type: 'status', status: 500 });
  const v = make();
  errorWith('ERR_JWKS_FETCH_FAILED')(await failure(v.ready()));
  const [h] = v.health();
  assert.equal(h.state, 'failing');
  assert.deepEqual(h.kids, []);
  assert.equal(h.fetchedAt, null);
  assert.equal(h.lastError?.code, 'ERR_JWKS_FETCH_FAILED');
  assert.equal(server.count, 1);
});

test('health() and stats() return fresh objects on every call (or deeply frozen ones)', async (t) => {
  const a = ed();
  const { make } = await setup(t, [a]);
  const v = make();
  await v.ready();
  const h1 = v.health();
  if (!Object.isFrozen(h1)) {
    h1[0].kids.push('tampered');
    h1[0].state = 'tampered';
  }
  assert.deepEqual(v.health()[0].kids, [a.kid]);
  assert.equal(v.health()[0].state, 'fresh');
  const s1 = v.stats();
  if (!Object.isFrozen(s1)) s1.failures.ERR_TAMPERED = 1;
  assert.equal(v.stats().failures.ERR_TAMPERED, undefined);
});

// ---- stats() ----

test('stats(): verifications, failures by code, tokenCacheHits, fetches, notModified, fetchErrors, cooldownRefusals, staleServes', async (t) => {
  const a = ed();
  const stranger = ed();
  const { server, make } = await setup(t, [a], { cache: { maxAge: 60, cooldown: 30, maxStale: '1h' } });
  const v = make();
  let s = v.stats();
  for (const name of STAT_COUNTERS) assert.equal(s[name], 0, `${name} starts at 0`);
  assert.deepEqual({ ...s.failures }, {});

  let ok = 0;
  let failed = 0;
  /** `verifications` counts every verify call, or (reading DESIGN the other way) only the successful ones. */
  const checkVerifications = (st) =>
    assert.ok(
      st.verifications === ok + failed || st.verifications === ok,
      `verifications ${st.verifications} (ok ${ok}, failed ${failed})`,
    );

  const tk = token(a);
  await v.verify(tk);
  ok++;
  await v.verify(tk); // token cache hit
  ok++;
  s = v.stats();
  assert.equal(s.tokenCacheHits, 1);
  assert.equal(s.fetches, 1);
  assert.equal(s.fetches, server.count);
  checkVerifications(s);

  errorWith('ERR_JWT_EXPIRED')(await failure(v.verify(token(a, { ttl: -10 }))));
  failed++;
  server.setHeaders({ ETag: '"s1"' }); // the next 200 carries an ETag
  errorWith('ERR_JWKS_NO_MATCHING_KEY')(await failure(v.verify(token(stranger, { kid: 'nobody-1' })))); // refetch
  failed++;
  errorWith('ERR_JWKS_NO_MATCHING_KEY')(await failure(v.verify(token(stranger, { kid: 'nobody-2' })))); // cooldown
  failed++;
  s = v.stats();
  assert.deepEqual({ ...s.failures }, { ERR_JWT_EXPIRED: 1, ERR_JWKS_NO_MATCHING_KEY: 2 });
  assert.equal(s.fetches, 2);
  assert.equal(server.count, 2);
  assert.ok(s.cooldownRefusals >= 1, `cooldownRefusals ${s.cooldownRefusals}`);
  assert.equal(s.notModified, 0);
  assert.equal(s.fetchErrors, 0);
  assert.equal(s.staleServes, 0);
  checkVerifications(s);

  advance(61_000); // expired: the next verification serves stale keys and refreshes -> 304
  await v.verify(token(a));
  ok++;
  await waitFor(() => v.stats().notModified === 1, 'notModified === 1');
  assert.equal(server.count, 3);
  s = v.stats();
  assert.ok(s.staleServes >= 1, `staleServes ${s.staleServes}`);
  assert.ok(s.fetches >= 2 && s.fetches <= 3, `fetches ${s.fetches} (a 304 may or may not count as a fetch)`);

  server.setMode({ type: 'status', status: 500 });
  advance(61_000);
  const staleBefore = v.stats().staleServes;
  await v.verify(token(a));
  ok++;
  await waitFor(() => v.stats().fetchErrors === 1, 'fetchErrors === 1');
  assert.equal(server.count, 4);
  s = v.stats();
  assert.ok(s.staleServes > staleBefore, 'another stale serve');
  assert.equal(s.notModified, 1);
  assert.deepEqual(
    { ...s.failures },
    { ERR_JWT_EXPIRED: 1, ERR_JWKS_NO_MATCHING_KEY: 2 },
    'a failed background refresh is no verification failure',
  );
  checkVerifications(s);
});

// ---- onEvent ----

test("onEvent: 'fetch', 'rotate', 'error' and 'stale' events on the JS thread", async (t) => {
  const a = ed();
  const b = ed();
  const c = ed();
  const events = [];
  const threads = new Set();
  const { server, make } = await setup(t, [a, b], { cache: { maxAge: 60, cooldown: 10, maxStale: '1h' } });
  const v = make({
    onEvent: (e) => {
      threads.add(threadId);
      events.push(e);
    },
  });
  const of = (type) => events.filter((e) => e.type === type);

  await v.ready();
  await waitFor(() => of('fetch').length >= 1, "a 'fetch' event");
  const fetch = of('fetch')[0];
  assert.equal(fetch.jwksUri, server.url);
  assert.equal(fetch.status, 200);
  assert.equal(typeof fetch.durationMs, 'number');
  assert.ok(fetch.durationMs >= 0 && fetch.durationMs < 5000, `durationMs ${fetch.durationMs}`);

  server.setJwks(toJwks(b, c)); // a removed, c added
  await v.verify(token(c)); // unknown kid -> refetch
  assert.equal(server.count, 2);
  await waitFor(() => of('rotate').some((e) => e.removed?.includes(a.kid)), "a 'rotate' event removing a");
  const rotate = of('rotate').find((e) => e.removed?.includes(a.kid));
  assert.deepEqual(rotate.added, [c.kid]);
  assert.deepEqual(rotate.removed, [a.kid]);
  assert.equal(rotate.jwksUri, server.url);
  await waitFor(() => of('fetch').length >= 2, "a second 'fetch' event");

  server.setMode({ type: 'status', status: 500 });
  advance(61_000);
  await v.verify(token(b)); // stale serve, failing refresh
  await waitFor(() => of('error').length >= 1 && of('stale').length >= 1, "'error' and 'stale' events");
  const error = of('error')[0];
  assert.equal(error.jwksUri, server.url);
  assert.equal(error.error?.code, 'ERR_JWKS_FETCH_FAILED');
  assert.equal(error.status, 500);
  assert.equal(typeof error.error?.message, 'string');
  assert.equal(of('stale')[0].jwksUri, server.url);

  for (const e of events) assert.ok(['fetch', 'rotate', 'stale', 'error'].includes(e.type), `event type ${e.type}`);
  assert.deepEqual([...threads], [threadId], 'every event on the JS (main) thread');
  assert.equal(threadId, 0);
});

test('an exception thrown inside onEvent is swallowed; verification still works', async (t) => {
  const a = ed();
  const uncaught = [];
  const onUncaught = (err) => uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  t.after(() => {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  });
  let calls = 0;
  const { server, make } = await setup(t, [a]);
  const v = make({
    onEvent: () => {
      calls++;
      throw new Error('thrown by onEvent');
    },
  });
  assert.equal((await v.verify(token(a))).payload.sub, 'user-1');
  await waitFor(() => calls >= 1, 'onEvent to be called');
  await settle();
  assert.equal((await v.verify(token(a))).payload.sub, 'user-1');
  assert.deepEqual(uncaught.map(String), [], 'nothing escaped');
  assert.equal(server.count, 1);
});

// ---- token cache ----

test('token cache: the same token verified twice is a hit', async (t) => {
  const a = ed();
  const { server, make } = await setup(t, [a]);
  const v = make();
  const tk = token(a);
  const r1 = await v.verify(tk);
  assert.equal(v.stats().tokenCacheHits, 0);
  const r2 = await v.verify(tk);
  assert.equal(v.stats().tokenCacheHits, 1);
  assert.deepEqual(r2.payload, r1.payload);
  await v.verify(token(a)); // another token: no hit
  assert.equal(v.stats().tokenCacheHits, 1);
  assert.equal(server.count, 1);
});

test('token cache: an expired cached token is rejected on a hit', async (t) => {
  const a = ed();
  const { server, make } = await setup(t, [a]);
  const v = make();
  const tk = token(a, { ttl: 20 });
  await v.verify(tk);
  await v.verify(tk);
  assert.equal(v.stats().tokenCacheHits, 1);
  advance(21_000);
  errorWith('ERR_JWT_EXPIRED', { claim: 'exp' })(await failure(v.verify(tk)));
  assert.equal(server.count, 1);
});

test('token cache: maxTokenAge is rechecked on a hit', async (t) => {
  const a = ed();
  const { make } = await setup(t, [a]);
  const v = make({ maxTokenAge: 30 });
  const tk = token(a); // iat now, exp in an hour
  await v.verify(tk);
  await v.verify(tk);
  assert.equal(v.stats().tokenCacheHits, 1);
  advance(31_000);
  errorWith('ERR_JWT_EXPIRED', { claim: 'iat' })(await failure(v.verify(tk)));
});

test('token cache: per Verifier (another Verifier on the same URL does not hit)', async (t) => {
  const a = ed();
  const { server, make } = await setup(t, [a]);
  const v1 = make();
  const v2 = make({ audience: 'api://other' });
  const tk = token(a); // no aud
  await v1.verify(tk);
  await v1.verify(tk);
  assert.equal(v1.stats().tokenCacheHits, 1);
  errorWith('ERR_JWT_CLAIM_VALIDATION_FAILED', { claim: 'aud' })(await failure(v2.verify(tk)));
  assert.equal(v2.stats().tokenCacheHits, 0);
  assert.equal(server.count, 1, 'the key cache is shared all the same');
});

test('token cache: tokenCache: false never hits', async (t) => {
  const a = ed();
  const { server, make } = await setup(t, [a]);
  const v = make({ tokenCache: false });
  const tk = token(a);
  for (let i = 0; i < 5; i++) assert.equal((await v.verify(tk)).payload.sub, 'user-1');
  assert.equal(v.stats().tokenCacheHits, 0);
  assert.equal(server.count, 1);
});

test('token cache: a number bounds it', async (t) => {
  const a = ed();
  const { make } = await setup(t, [a]);
  const v = make({ tokenCache: 4 });
  const tokens = Array.from({ length: 40 }, () => token(a));
  for (const tk of tokens) await v.verify(tk);
  assert.equal(v.stats().tokenCacheHits, 0);
  await v.verify(tokens[39]); // the most recent one is remembered
  assert.equal(v.stats().tokenCacheHits, 1);
  for (const tk of tokens.slice(0, 30)) await v.verify(tk); // long evicted, whatever the eviction order
  const hits = v.stats().tokenCacheHits - 1;
  assert.ok(hits <= 8, `a cache of 4 tokens gave ${hits} hits for 30 older tokens`);
});

test('token cache: an entry lives at most cache.maxAge', async (t) => {
  const a = ed();
  const { server, make } = await setup(t, [a], { cache: { maxAge: 60 } });
  const v = make();
  const tk = token(a); // exp in an hour
  await v.verify(tk);
  await v.verify(tk);
  assert.equal(v.stats().tokenCacheHits, 1);
  advance(61_000);
  await v.verify(tk); // the entry is older than maxAge: verified again (keys served stale, refreshed)
  assert.equal(v.stats().tokenCacheHits, 1);
  await waitFor(() => v.health()[0].state === 'fresh', 'the refresh to land');
  assert.equal(server.count, 2);
  await v.verify(tk); // (re)made after the refresh landed
  const hits = v.stats().tokenCacheHits;
  await v.verify(tk);
  assert.equal(v.stats().tokenCacheHits, hits + 1, 'a new entry hits again');
});

test('stats(): a token that is not a string is counted as a failure (verify and verifySync)', async (t) => {
  const a = ed();
  const { make } = await setup(t, [a]);
  const v = make();
  await assert.rejects(v.verify(42), errorWith('ERR_JWS_INVALID'));
  assert.throws(() => v.verifySync(undefined), errorWith('ERR_JWS_INVALID'));
  const stats = v.stats();
  assert.equal(stats.verifications, 2);
  assert.equal(stats.failures.ERR_JWS_INVALID, 2);
});

test("skipped keys: health()[0].skipped names each with the engine's reason, and a 'warning' event once per change of the set", async (t) => {
  const good = ed();
  const weak = generateKey('RS256', { kid: 'weak-1024', modulusLength: 1024 });
  const enc = generateKey('RS256', { kid: 'for-encryption', use: 'enc' });
  const events = [];
  const { server, make } = await setup(t, [good, weak, enc], { cache: { maxAge: 60, cooldown: 10 } });
  const v = make({ onEvent: (e) => events.push(e) });
  await v.ready();
  const { skipped } = v.health()[0];
  const reasons = explainKeys(toJwks(good, weak, enc)).filter((k) => !k.usable);
  assert.deepEqual(
    skipped,
    reasons.map((k) => ({ kid: k.kid, reason: k.reason })),
  );
  await waitFor(() => events.some((e) => e.type === 'warning'), 'the warning event');
  const warnings = () => events.filter((e) => e.type === 'warning');
  assert.deepEqual(warnings()[0].kids, ['weak-1024', 'for-encryption']);
  assert.match(warnings()[0].error.message, /2 key\(s\) that cannot be used/);
  advance(61_000);
  await v.verify(token(good)); // past maxAge: a refresh of the same set
  await waitFor(() => server.count === 2, 'the refresh');
  await settle();
  assert.equal(warnings().length, 1, 'the same skipped keys: no second warning');
  server.setJwks(toJwks(good, weak));
  advance(61_000);
  await v.verify(token(good));
  await waitFor(() => warnings().length === 2, 'a warning for the changed set');
  assert.deepEqual(warnings()[1].kids, ['weak-1024']);
});

// ---- logger ----

test('logger: one warn line while the JWKS fails (not one per attempt), one info line at recovery and per rotation; false is silent', async (t) => {
  const a = ed();
  const b = ed();
  const { server, make } = await setup(t, [a], { cache: { maxAge: 60, cooldown: 10 } });
  const lines = [];
  const logger = {
    warn: (m) => lines.push(['warn', m]),
    info: (m) => lines.push(['info', m]),
    error: (m) => lines.push(['error', m]),
  };
  const events = [];
  // The default logger writes through console.warn, read at call time: catch what it writes.
  const printed = [];
  const consoleWarn = console.warn;
  console.warn = (m) => printed.push(m);
  t.after(() => {
    console.warn = consoleWarn;
  });
  const logged = make({ logger, onEvent: (e) => events.push(e) });
  const silent = make({ logger: false });
  const byDefault = make();

  server.setMode({ type: 'status', status: 500, body: 'oops' });
  const tok = token(a);
  for (let i = 0; i < 4; i++) {
    for (const v of [logged, silent, byDefault]) await failure(v.verify(tok));
    advance(11_000); // past the backoff (at most the 10 s cooldown)
  }
  await waitFor(() => events.filter((e) => e.type === 'error').length >= 4, 'four failed fetches reported');
  const warns = lines.filter(([level]) => level === 'warn');
  assert.equal(warns.length, 1, `one warn line for the outage: ${JSON.stringify(lines)}`);
  assert.match(
    warns[0][1],
    new RegExp(
      `^jwks-verify: cannot fetch the signing keys: JWKS endpoint ${server.url.replace(/[.]/g, '\\.')} answered HTTP 500 \\(ERR_JWKS_FETCH_FAILED\\); tokens that need these keys are refused until it answers; retrying with backoff$`,
    ),
  );

  server.setMode({ type: 'ok' });
  advance(11_000);
  await logged.verify(tok);
  await waitFor(() => lines.length === 2, 'the recovery line');
  assert.deepEqual(lines[1], ['info', `jwks-verify: the signing keys at ${server.url} are fetched again (1 key): recovered`]);

  server.setJwks(toJwks(a, b));
  await logged.verify(token(b)); // an unknown kid: one refetch finds b
  await waitFor(() => lines.length === 3, 'the rotation line');
  assert.deepEqual(lines[2], ['info', `jwks-verify: the signing keys at ${server.url} changed: added ${b.kid}; removed none`]);

  await waitFor(() => printed.length === 3, 'the default logger wrote the same three changes');
  assert.deepEqual(
    printed,
    lines.map(([, m]) => m),
    'the default logger: the same lines through console.warn; logger: false wrote none',
  );
  for (const m of [...printed, ...lines.map(([, m]) => m)]) {
    assert.ok(!m.includes(tok.split('.')[2]), 'no token in a log line');
  }
});

test('logger: refused unless it has warn and info functions, or is false', () => {
  const base = { issuer: ISSUER, jwksUri: 'https://keys.observability.test/jwks' };
  for (const [logger, got] of [
    [true, 'a boolean'],
    [{ warn() {} }, 'an object without them'],
    ['console', 'a string'],
  ]) {
    assert.throws(
      () => new Verifier({ ...base, logger }),
      errorWith('ERR_INVALID_OPTIONS', {
        message: `option "logger" must be an object with warn and info functions (console, a pino logger, fastify.log) or false, got ${got}`,
      }),
    );
  }
  for (const logger of [console, { warn() {}, info() {} }, false]) new Verifier({ ...base, logger }).close();
});

test("diagnostics_channel 'jwks-verify:fetch': every fetch outcome (fetch and error events), the objects onEvent gets", async (t) => {
  const a = ed();
  const { server, make } = await setup(t, [a], { cache: { maxAge: 60, cooldown: 10 } });
  const published = [];
  const subscriber = (message, name) => published.push([name, message]);
  diagnosticsChannel.subscribe('jwks-verify:fetch', subscriber);
  t.after(() => diagnosticsChannel.unsubscribe('jwks-verify:fetch', subscriber));
  const events = [];
  const v = make({ logger: false, onEvent: (e) => events.push(e) });
  await v.ready();
  server.setMode({ type: 'status', status: 500 });
  advance(61_000);
  await v.verify(token(a)); // stale keys serve; the refresh fails in the background
  await waitFor(() => published.length === 2, 'the fetch and the failed refresh on the channel');
  assert.deepEqual(
    published.map(([name, m]) => [name, m.type]),
    [
      ['jwks-verify:fetch', 'fetch'],
      ['jwks-verify:fetch', 'error'],
    ],
  );
  assert.equal(
    published[0][1],
    events.find((e) => e.type === 'fetch'),
    'the same object onEvent got',
  );
  assert.equal(published[1][1].error.code, 'ERR_JWKS_FETCH_FAILED');
  assert.equal(published[1][1].jwksUri, server.url);
  assert.ok(!published.some(([, m]) => m.type === 'stale'), 'stale, rotate and warning events are not fetches');
});

test("diagnostics_channel 'jwks-verify:verify': each refused verification as { error } (the Error the caller gets); successes are not published", async (t) => {
  const a = ed();
  const { make } = await setup(t, [a]);
  const published = [];
  const subscriber = (message) => published.push(message);
  diagnosticsChannel.subscribe('jwks-verify:verify', subscriber);
  t.after(() => diagnosticsChannel.unsubscribe('jwks-verify:verify', subscriber));
  const v = make({ logger: false });
  await v.verify(token(a));
  assert.equal(published.length, 0, 'a success is not published');
  const expired = token(a, { ttl: -10 });
  const err = await failure(v.verify(expired));
  assert.equal(published.length, 1);
  assert.equal(published[0].error, err, 'the very Error the promise rejected with');
  assert.equal(err.code, 'ERR_JWT_EXPIRED');
  assert.throws(() => v.verifySync('not a token'), { code: 'ERR_JWS_INVALID' });
  await failure(v.verify(42));
  assert.deepEqual(
    published.map((m) => m.error.code),
    ['ERR_JWT_EXPIRED', 'ERR_JWS_INVALID', 'ERR_JWS_INVALID'],
  );
  assert.ok(!JSON.stringify(published.map((m) => m.error.message)).includes(expired.split('.')[2]), 'no token');
});

test('metrics(): stats() and health() in the Prometheus text format, with constant labels', async (t) => {
  const a = ed();
  const { server, make } = await setup(t, [a]);
  const v = make({ logger: false });
  await v.verify(token(a));
  await failure(v.verify(token(a, { ttl: -10 })));
  const text = v.metrics();
  const lines = text.split('\n');
  for (const line of [
    '# TYPE jwks_verify_verifications_total counter',
    'jwks_verify_verifications_total 2',
    'jwks_verify_failures_total{code="ERR_JWT_EXPIRED"} 1',
    'jwks_verify_failures_total{code="ERR_JWS_INVALID"} 0',
    'jwks_verify_fetches_total 1',
    `jwks_verify_keys{issuer="${ISSUER}",jwks_uri="${server.url}"} 1`,
    `jwks_verify_key_set_state{issuer="${ISSUER}",jwks_uri="${server.url}",state="fresh"} 1`,
    `jwks_verify_key_set_state{issuer="${ISSUER}",jwks_uri="${server.url}",state="failing"} 0`,
  ]) {
    assert.ok(lines.includes(line), `${line}\n--\n${text}`);
  }
  assert.ok(text.endsWith('\n'));
  const labelled = v.metrics({ labels: { service: 'orders-api' } });
  assert.ok(labelled.includes('jwks_verify_verifications_total{service="orders-api"} 2'), labelled);
  for (const [options, message] of [
    [{ labels: { code: 'x' } }, /label name "code" is not usable/],
    [{ labels: { service: 5 } }, /label "service" must be a string/],
    [{ label: {} }, /unknown metrics option "label"/],
  ]) {
    assert.throws(() => v.metrics(options), errorWith('ERR_INVALID_OPTIONS', { message }));
  }
});
