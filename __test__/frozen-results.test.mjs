// `results: 'frozen'` (lib/verifier.js through the package face, lib/load.js): deeply frozen results, and a token
// verified before answered from a cache in JS with the very same object, as long as the engine would answer it from
// its token cache (key rotation, `exp`, close(), `revalidate` all still apply), with stats() counting those answers.
// The default, `results: 'fresh'`, is unchanged. Real servers on 127.0.0.1; wall time (the JS cache is off under
// a test clock), waits of at most 3 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import { generateKey, signJwt, toJwks, now } from './support/keys.mjs';
import { startJwksServer } from './support/jwks-server.mjs';
import { addValidationEndpoint } from './support/validation-server.mjs';
import { errorWith, rejectsWith, throwsWith, testClock } from './support/expect.mjs';
import { failure } from './support/cache-harness.mjs';
import { httpHarness, get, bearer } from './support/http-harness.mjs';

const require = createRequire(import.meta.url);
const { Verifier, createVerifier } = require('../lib/load.js');
const { authenticate } = require('../lib/express.js');
const native = require('../index.js');

const ISSUER = 'https://issuer.frozen.test';
const { listen } = httpHarness({ issuer: ISSUER, audience: 'api' });
let serial = 0;

/** A token of `key` for ISSUER, valid `ttl` seconds from now (wall time), with nested claims; `claims` override. */
function token(key, { ttl = 600, claims = {} } = {}) {
  const iat = now();
  return signJwt(key, {
    iss: ISSUER,
    sub: 'user-1',
    jti: `f${++serial}`,
    iat,
    exp: iat + ttl,
    roles: ['reader', 'writer'],
    org: { id: 7, tags: ['a', { deep: true }] },
    ...claims,
  });
}

/** A JWKS server publishing `keys` and a factory of Verifiers (the package's) on it; all closed after the test. */
async function setup(t, keys) {
  const server = await startJwksServer({ jwks: toJwks(keys) });
  const verifiers = [];
  const make = (extra = {}, factory = (o) => new Verifier(o)) => {
    const v = factory({ issuer: ISSUER, jwksUri: server.url, ...extra });
    verifiers.push(v);
    return v;
  };
  t.after(async () => {
    for (const v of verifiers) v.close();
    await server.close();
  });
  return { server, make };
}

/** Every object and array in `value`, the value itself first. */
function objectsIn(value, into = []) {
  if (value !== null && typeof value === 'object') {
    into.push(value);
    for (const v of Object.values(value)) objectsIn(v, into);
  }
  return into;
}

test('the package exports a Verifier that extends the addon class, and createVerifier builds one', () => {
  assert.equal(Object.getPrototypeOf(Verifier), native.Verifier);
  assert.notEqual(createVerifier, native.createVerifier);
  const v = createVerifier({ issuer: ISSUER, keys: toJwks(generateKey('EdDSA')) });
  assert.ok(v instanceof Verifier && v instanceof native.Verifier);
  v.close();
});

test("results: 'frozen': deeply frozen, and the same object on repeat for verify and verifySync", async (t) => {
  const key = generateKey('EdDSA');
  const { make } = await setup(t, [key]);
  for (const factory of [(o) => new Verifier(o), createVerifier]) {
    const v = make({ results: 'frozen' }, factory);
    const tok = token(key);
    const first = await v.verify(tok);
    assert.equal(first.payload.org.tags[1].deep, true);
    const all = objectsIn(first);
    assert.equal(all.length, 7, 'result, payload, roles, org, tags, tags[1], header');
    for (const o of all) assert.ok(Object.isFrozen(o), `frozen: ${JSON.stringify(o)}`);
    // ESM is strict mode: changing a frozen object throws.
    assert.throws(() => {
      first.payload.sub = 'mallory';
    }, TypeError);
    assert.throws(() => first.payload.roles.push('admin'), TypeError);
    assert.throws(() => {
      first.payload.org.tags[1].deep = false;
    }, TypeError);
    assert.throws(() => {
      delete first.header.kid;
    }, TypeError);
    assert.throws(() => {
      first.extra = 1;
    }, TypeError);
    assert.equal(first.payload.sub, 'user-1');

    assert.equal(await v.verify(tok), first, 'verify: the same object');
    assert.equal(v.verifySync(tok), first, 'verifySync: the same object');
    // verifySync first works the same way.
    const other = token(key);
    const sync = v.verifySync(other);
    assert.ok(Object.isFrozen(sync.payload.roles));
    assert.equal(v.verifySync(other), sync);
    assert.equal(await v.verify(other), sync);
    assert.notEqual(sync, first, 'another token, another object');
  }
});

test("the default ('fresh', also when given) still gives distinct, unfrozen objects", async (t) => {
  const key = generateKey('EdDSA');
  const { make } = await setup(t, [key]);
  for (const v of [make(), make({ results: 'fresh' })]) {
    assert.ok(!Object.hasOwn(v, 'verify') && !Object.hasOwn(v, 'verifySync'), "napi's own methods, nothing in front");
    const tok = token(key);
    const a = await v.verify(tok);
    const b = await v.verify(tok);
    const c = v.verifySync(tok);
    assert.notEqual(a, b);
    assert.notEqual(b, c);
    assert.notEqual(a.payload.roles, b.payload.roles);
    for (const o of objectsIn(a)) assert.ok(!Object.isFrozen(o));
    a.payload.sub = 'changed';
    a.payload.roles.push('admin');
    assert.equal(b.payload.sub, 'user-1');
    assert.deepEqual(c.payload.roles, ['reader', 'writer']);
    assert.equal(v.stats().tokenCacheHits, 2, "the engine's token cache");
  }
});

test('stats() and metrics() count the answers from the JS cache as token-cache hits', async (t) => {
  const key = generateKey('EdDSA');
  const { make } = await setup(t, [key]);
  const v = make({ results: 'frozen' });
  const tok = token(key);
  const first = await v.verify(tok); // verified by the engine: 1 verification, no hit
  for (let i = 0; i < 3; i++) assert.equal(await v.verify(tok), first);
  assert.equal(v.verifySync(tok), first);
  const s = v.stats();
  assert.equal(s.verifications, 5);
  assert.equal(s.tokenCacheHits, 4);
  assert.deepEqual(s.failures, {});
  const text = v.metrics();
  assert.match(text, /^jwks_verify_verifications_total 5$/m);
  assert.match(text, /^jwks_verify_token_cache_hits_total 4$/m);
  await rejectsWith(v.verify(token(key, { ttl: -10 })), 'ERR_JWT_EXPIRED');
  assert.equal(v.stats().verifications, 6);
  assert.deepEqual(v.stats().failures, { ERR_JWT_EXPIRED: 1 });
});

test('a rotation that removes the verifying key: the token is refused, not answered from the JS cache', async (t) => {
  const a = generateKey('EdDSA');
  const b = generateKey('EdDSA');
  const stranger = generateKey('EdDSA');
  const { server, make } = await setup(t, [a, b]);
  const v = make({ results: 'frozen' });
  const tokenA = token(a);
  const tokenB = token(b);
  const resultA = await v.verify(tokenA);
  assert.equal(await v.verify(tokenA), resultA, 'answered from the JS cache');
  assert.equal(v.verifySync(tokenA), resultA);
  const resultB = await v.verify(tokenB);
  assert.equal(server.count, 1);

  server.setJwks(toJwks(b)); // a is rotated out
  // An unknown kid makes the verifier refetch (the first fetch started no cooldown): the new set lacks a.
  errorWith('ERR_JWKS_NO_MATCHING_KEY')(await failure(v.verify(token(stranger))));
  assert.equal(server.count, 2);

  errorWith('ERR_JWKS_NO_MATCHING_KEY')(await failure(v.verify(tokenA)));
  throwsWith(() => v.verifySync(tokenA), 'ERR_JWKS_NO_MATCHING_KEY');
  // The remaining key still verifies; its copy was made before the change, so it is made again once.
  const again = await v.verify(tokenB);
  assert.deepEqual(again, resultB);
  assert.ok(Object.isFrozen(again.payload));
  assert.equal(await v.verify(tokenB), again, 'cached again');
});

test('a token whose exp passes is refused with ERR_JWT_EXPIRED, after being answered from the JS cache', async (t) => {
  const key = generateKey('EdDSA');
  const { make } = await setup(t, [key]);
  const v = make({ results: 'frozen' });
  const exp = now() + 2; // 1 to 2 s from now
  const tok = signJwt(key, { iss: ISSUER, sub: 'user-1', exp });
  const first = await v.verify(tok);
  assert.equal(await v.verify(tok), first, 'answered from the JS cache before exp');
  assert.equal(v.verifySync(tok), first);
  const hits = v.stats().tokenCacheHits;
  assert.equal(hits, 2);
  const [until] = v._resultCacheUntil(tok);
  assert.equal(until, exp * 1000, 'a copy serves until exp');

  await sleep(exp * 1000 - Date.now() + 20);
  await rejectsWith(v.verify(tok), 'ERR_JWT_EXPIRED', { claim: 'exp' });
  throwsWith(() => v.verifySync(tok), 'ERR_JWT_EXPIRED', { claim: 'exp' });
  assert.equal(v.stats().tokenCacheHits, hits, 'no hit after exp');
});

test("a copy serves no longer than the keys' refresh-ahead point (90 % of cache.maxAge)", async (t) => {
  const key = generateKey('EdDSA');
  const { make } = await setup(t, [key]);
  const v = make({ results: 'frozen', cache: { maxAge: 10, cooldown: 5 } });
  const tok = token(key, { ttl: 3600 });
  await v.verify(tok);
  const [until, generation] = v._resultCacheUntil(tok);
  const { fetchedAt } = v.health()[0];
  assert.equal(until, fetchedAt + 9_000, 'fetchedAt + 90 % of 10 s');
  assert.equal(typeof generation, 'number');
});

test('tokenCache bounds the JS cache (oldest first); tokenCache: false keeps none, results stay frozen', async (t) => {
  const key = generateKey('EdDSA');
  const { make } = await setup(t, [key]);
  const v = make({ results: 'frozen', tokenCache: 2 });
  const [t1, t2, t3] = [token(key), token(key), token(key)];
  const r1 = await v.verify(t1);
  assert.equal(await v.verify(t1), r1);
  await v.verify(t2);
  const r3 = await v.verify(t3); // t1, the oldest, leaves the JS cache
  assert.equal(await v.verify(t3), r3);
  const again = await v.verify(t1);
  assert.notEqual(again, r1, 'dropped from the JS cache: the engine answered');
  assert.deepEqual(again, r1);

  const off = make({ results: 'frozen', tokenCache: false });
  const a = await off.verify(t1);
  const b = await off.verify(t1);
  const c = off.verifySync(t1);
  assert.notEqual(a, b);
  assert.notEqual(b, c);
  for (const r of [a, b, c]) for (const o of objectsIn(r)) assert.ok(Object.isFrozen(o));
  assert.equal(off._resultCacheUntil(t1)[0], 0);
});

test('close() empties the JS cache: later calls reject (and throw) ERR_VERIFIER_CLOSED', async (t) => {
  const key = generateKey('EdDSA');
  const { make } = await setup(t, [key]);
  const v = make({ results: 'frozen' });
  const tok = token(key);
  const first = await v.verify(tok);
  assert.equal(await v.verify(tok), first);
  v.close();
  await rejectsWith(v.verify(tok), 'ERR_VERIFIER_CLOSED');
  throwsWith(() => v.verifySync(tok), 'ERR_VERIFIER_CLOSED');
  v.close(); // idempotent
  await rejectsWith(v.verify(tok), 'ERR_VERIFIER_CLOSED');
});

test('with revalidate the JS cache is not used: every verification asks the endpoint, a revocation is honoured', async (t) => {
  const key = generateKey('EdDSA');
  const server = await startJwksServer({ jwks: toJwks(key) });
  const endpoint = addValidationEndpoint(server);
  const v = new Verifier({
    issuer: ISSUER,
    jwksUri: server.url,
    results: 'frozen',
    revalidate: { endpoint: endpoint.url, interval: 0 },
  });
  t.after(async () => {
    v.close();
    await server.close();
  });
  const tok = token(key);
  const first = await v.verify(tok);
  assert.ok(Object.isFrozen(first.payload.org));
  assert.equal(v._resultCacheUntil(tok)[0], 0, 'no copy may serve');
  const second = await v.verify(tok);
  assert.ok(Object.isFrozen(second));
  assert.equal(endpoint.countFor(tok), 2, 'the endpoint was asked each time');
  endpoint.revoke(tok);
  await rejectsWith(v.verify(tok), 'ERR_TOKEN_INACTIVE');
  assert.equal(endpoint.countFor(tok), 3);
});

test('under a test clock the JS cache is not used (the engine reads that clock, the JS cache wall time)', async (t) => {
  const key = generateKey('EdDSA');
  const { make } = await setup(t, [key]);
  const v = make({ results: 'frozen', testClock });
  const tok = token(key);
  const a = await v.verify(tok);
  const b = await v.verify(tok);
  assert.notEqual(a, b);
  assert.ok(Object.isFrozen(b.payload.roles));
  assert.equal(v._resultCacheUntil(tok)[0], 0);
  assert.equal(v.stats().tokenCacheHits, 1, "the engine's token cache answered");
});

test("results: 'maybe' (or any other value) is ERR_INVALID_OPTIONS naming results", () => {
  const keys = toJwks(generateKey('EdDSA'));
  for (const [results, got] of [
    ['maybe', '"maybe"'],
    [true, 'a boolean'],
    ['Frozen', '"Frozen"'],
  ]) {
    for (const build of [(o) => new Verifier(o), createVerifier]) {
      throwsWith(() => build({ issuer: ISSUER, keys, results }), 'ERR_INVALID_OPTIONS', {
        message: new RegExp(`option "results" must be "fresh" or "frozen", got ${got}`),
      });
    }
  }
  throwsWith(() => new Verifier({ issuer: ISSUER, keys, results: null }), 'ERR_INVALID_OPTIONS', { message: /"results" must not be null/ });
});

test("Express with results: 'frozen': req.auth and its parts are frozen, the payload shared by repeats", async (t) => {
  const key = generateKey('RS256');
  const { make } = await setup(t, [key]);
  const verifier = make({ results: 'frozen' });
  const app = express();
  const seen = [];
  app.use('/api', authenticate({ verifier }));
  app.get('/api/me', (req, res) => {
    seen.push(req.auth.payload);
    let threw = false;
    try {
      req.auth.payload.sub = 'mallory';
    } catch (err) {
      threw = err instanceof TypeError;
    }
    res.json({
      sub: req.auth.payload.sub,
      threw,
      frozen: Object.isFrozen(req.auth) && Object.isFrozen(req.auth.payload) && Object.isFrozen(req.auth.payload.roles),
    });
  });
  const base = await listen(app);
  const tok = token(key);
  for (let i = 0; i < 2; i++) {
    const r = await get(`${base}/api/me`, bearer(tok));
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { sub: 'user-1', threw: true, frozen: true });
  }
  assert.equal(seen[0], seen[1], 'the same frozen payload');
  const refused = await get(`${base}/api/me`, bearer(token(key, { ttl: -10 })));
  assert.equal(refused.status, 401);
  assert.equal(refused.body.code, 'ERR_JWT_EXPIRED');
});
