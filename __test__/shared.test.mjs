// The shared tier (`shared`) against a real redis-server and a fleet of forked Node processes: one provider call
// per refresh for the fleet, unknown kids and revalidation answers shared, Redis down or hung never failing a
// verification, tampered entries never trusted, nothing secret stored. Every test starts its own redis-server.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Verifier } from '../index.js';
import { generateKey, signJwt, toJwks, now } from './support/keys.mjs';
import { startJwksServer, sendJson } from './support/jwks-server.mjs';
import { addValidationEndpoint } from './support/validation-server.mjs';
import { startRedis } from './support/redis.mjs';
import { startFleet } from './support/fleet.mjs';
import { waitFor } from './support/cache-harness.mjs';

const SECRET = 'fleet-secret-0123456789abcdef-0123456789';
const key = generateKey('ES256', { kid: 'fleet-1' });
let serial = 0;
const token = (k = key, claims = {}, header) => {
  const iat = now();
  return signJwt(k, { iss: ISSUER(), sub: 'u', jti: `f${++serial}`, iat, exp: iat + 600, ...claims }, header);
};

let redis;
let server;
const ISSUER = () => server.origin;
const DISCOVERY = '/.well-known/openid-configuration';

before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis.stop();
});

/** A JWKS server with discovery (and a validation endpoint), fresh for each test; shared options for `prefix`. */
async function setup(t, prefix) {
  server = await startJwksServer({ jwks: toJwks(key) });
  server.route(DISCOVERY, (req, res) => sendJson(res, { issuer: server.origin, jwks_uri: server.url }));
  const endpoint = addValidationEndpoint(server);
  t.after(() => server.close());
  // Generous per-call timeout: these tests are about coordination on a loaded 2-core machine, not the timeout
  // (the outage test sets the default 50 ms).
  const shared = { redis: redis.url, secret: SECRET, prefix, timeout: '5s' };
  // Waiters wait for the lock holder at most http.timeout: long enough for a starved process on a loaded machine.
  const http = { timeout: '20s' };
  return { endpoint, shared, http };
}

describe('a fleet shares its provider calls', () => {
  test('a cold fleet of 8 processes makes 1 discovery fetch and 1 JWKS fetch', async (t) => {
    const { shared, http } = await setup(t, 'cold');
    const fleet = await startFleet(8, { issuer: server.origin, shared, http });
    t.after(() => fleet.close());
    const tok = token();
    const results = await fleet.all('verify', { tokens: [tok, tok] });
    assert.ok(
      results.flat().every((r) => r.ok),
      JSON.stringify(results.flat().find((r) => !r.ok)),
    );
    const stats = await fleet.all('stats');
    const why = JSON.stringify(stats.map((s) => [s.fetches, s.sharedHits, s.sharedMisses, s.sharedErrors, s.lockWaits]));
    assert.equal(server.countFor(DISCOVERY), 1, `one discovery fetch for the fleet ${why}`);
    assert.equal(server.count, 1, `one JWKS fetch for the fleet ${why}`);
    assert.equal(
      stats.reduce((n, s) => n + s.fetches, 0),
      1,
    );
    assert.ok(stats.some((s) => s.sharedHits > 0));
  });

  test('without shared, the same fleet makes 8 of each (the baseline the tier removes)', async (t) => {
    await setup(t, 'none');
    const fleet = await startFleet(8, { issuer: server.origin });
    t.after(() => fleet.close());
    await fleet.all('verify', { tokens: [token()] });
    assert.equal(server.count, 8);
  });

  test('over several refresh periods the fleet makes about one fetch per period, not one per process', async (t) => {
    const { shared } = await setup(t, 'periods');
    const fleet = await startFleet(4, { issuer: server.origin, shared, cache: { maxAge: '1s', cooldown: '500ms' } });
    t.after(() => fleet.close());
    const tok = token();
    const started = Date.now();
    const runs = await fleet.all('sequence', { tokens: [tok], rounds: 40, pauseMs: 100 });
    const seconds = (Date.now() - started) / 1000;
    assert.ok(runs.flat().every((r) => r.ok));
    const periods = Math.ceil(seconds);
    assert.ok(server.count <= periods + 2, `${server.count} JWKS fetches in ${seconds.toFixed(1)} s (4 processes, 1 s lifetime)`);
    assert.ok(server.count >= 2, 'keys were refreshed');
  });

  test('unknown kids across the fleet: refetches within one cooldown stay at 1-2 in total', async (t) => {
    const { shared, http } = await setup(t, 'kids');
    const fleet = await startFleet(8, { issuer: server.origin, shared, http });
    t.after(() => fleet.close());
    await fleet.all('verify', { tokens: [token()] });
    assert.equal(server.count, 1);
    // A key published after the fleet loaded its keys: every process sees tokens of it.
    const late = generateKey('ES256', { kid: 'fleet-late' });
    server.setJwks(toJwks(key, late));
    const results = await Promise.all(fleet.workers.map((w) => w.call('verify', { tokens: [token(late)] })));
    assert.ok(
      results.flat().every((r) => r.ok),
      JSON.stringify(results.flat().find((r) => !r.ok)),
    );
    assert.ok(server.count - 1 <= 2, `${server.count - 1} refetches for 8 processes`);
    // Random kids: refused, and the fleet's refetches stay bounded by the cooldown.
    const before = server.count;
    const random = fleet.workers.map((w, i) => w.call('verify', { tokens: [token(generateKey('ES256', { kid: `nope-${i}` }))] }));
    const codes = (await Promise.all(random)).flat().map((r) => r.code);
    assert.ok(
      codes.every((c) => c === 'ERR_JWKS_NO_MATCHING_KEY'),
      codes.join(),
    );
    assert.ok(server.count - before <= 1, `${server.count - before} refetches for 8 random kids`);
  });

  test('revalidation: one endpoint call per token per interval for the whole fleet', async (t) => {
    const { shared, endpoint, http } = await setup(t, 'live');
    const fleet = await startFleet(8, { jwksUri: server.url, issuer: server.origin, shared, http, revalidate: { endpoint: endpoint.url } });
    t.after(() => fleet.close());
    const tok = token();
    const results = await fleet.all('verify', { tokens: [tok, tok, tok] });
    assert.ok(
      results.flat().every((r) => r.ok),
      JSON.stringify(results.flat().find((r) => !r.ok)),
    );
    assert.equal(endpoint.countFor(tok), 1);
    const other = token();
    endpoint.revoke(other);
    const refused = await fleet.all('verify', { tokens: [other] });
    assert.ok(refused.flat().every((r) => r.code === 'ERR_TOKEN_INACTIVE'));
    assert.equal(endpoint.countFor(other), 1, 'the inactive answer is shared too');
  });
});

describe('failures are shared too', () => {
  test("a provider failure one process met is everyone's: the others back off at once instead of waiting out http.timeout", async (t) => {
    const { shared, http } = await setup(t, 'failing');
    server.setMode({ type: 'status', status: 500 });
    const fleet = await startFleet(4, { issuer: server.origin, jwksUri: server.url, shared, http });
    t.after(() => fleet.close());
    const results = (await fleet.all('verify', { tokens: [token()] })).flat();
    assert.ok(
      results.every((r) => r.code === 'ERR_JWKS_FETCH_FAILED'),
      JSON.stringify(results.map((r) => r.code)),
    );
    assert.ok(
      Math.max(...results.map((r) => r.ms)) < 10_000,
      `the slowest waited ${Math.max(...results.map((r) => r.ms)).toFixed(0)} ms (http.timeout is 20 s)`,
    );
    assert.ok(server.count <= 2, `${server.count} requests to the failing provider for 4 processes`);
  });
});

describe('Redis is a hint, never the authority', () => {
  test('tampered, foreign and garbage entries are never trusted', async (t) => {
    const { shared } = await setup(t, 'tamper');
    const first = new Verifier({ issuer: server.origin, shared });
    t.after(() => first.close());
    await first.verify(token());
    const [jwksKey] = await redis.keys('tamper:jwks:*');
    assert.ok(jwksKey, 'the JWKS is shared');
    const genuine = (await redis.get(jwksKey)).toString();
    const attacker = generateKey('ES256', { kid: 'fleet-1' });
    const evilDoc = JSON.stringify({
      ...JSON.parse(genuine.split('.').slice(2).join('.')),
      body: JSON.stringify(toJwks(attacker)),
      fetched_at: Date.now() + 1,
      expires_at: Date.now() + 600_000,
      refresh_at: Date.now() + 500_000,
    });
    const [, mac] = genuine.split('.');
    const other = new Verifier({ issuer: server.origin, shared: { ...shared, secret: 'another-secret-0123456789abcdef-0123' } });
    t.after(() => other.close());
    await other.verify(token());
    const foreignKey = (await redis.keys('tamper:jwks:*')).find((k) => k !== jwksKey);
    const foreign = await redis.get(foreignKey);
    for (const [label, value] of [
      ['garbage', 'not an entry'],
      ['an attacker JWKS under the old MAC', `j1.${mac}.${evilDoc}`],
      ['an entry made with another secret', foreign],
    ]) {
      await redis.set(jwksKey, value);
      const before = server.count;
      // Other request headers: a key cache of its own in this process (the JWKS entry in Redis is the same).
      const v = new Verifier({
        issuer: server.origin,
        shared,
        tokenCache: false,
        http: { headers: { 'x-case': label.replace(/\W/g, '-') } },
      });
      await assert.rejects(
        v.verify(token(attacker)),
        (e) => e.code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' || e.code === 'ERR_JWKS_NO_MATCHING_KEY',
        label,
      );
      await v.verify(token());
      assert.ok(server.count > before, `${label}: the provider was asked instead`);
      assert.ok(v.stats().sharedErrors >= 1, `${label}: counted`);
      v.close();
    }
  });

  test('nothing in Redis holds a raw token, a client secret or the shared secret', async (t) => {
    const { shared, endpoint } = await setup(t, 'scan');
    const clientSecret = 'introspection-client-secret-0123456789';
    const v = new Verifier({ issuer: server.origin, shared, revalidate: { endpoint: endpoint.url } });
    t.after(() => v.close());
    const tokens = [token(), token(), token()];
    for (const tok of tokens) await v.verify(tok);
    const keys = await redis.keys('scan:*');
    assert.ok(keys.length >= 4, keys.join());
    for (const k of keys) {
      const value = (await redis.get(k)).toString('latin1');
      for (const secret of [...tokens, ...tokens.map((x) => x.split('.')[2]), SECRET, clientSecret]) {
        assert.ok(!k.includes(secret) && !value.includes(secret), `${k} holds a secret`);
      }
    }
  });

  test('the hot path is untouched: verifications with keys and answers cached make no Redis call', async (t) => {
    const { shared, endpoint } = await setup(t, 'hot');
    const v = new Verifier({ issuer: server.origin, shared, revalidate: { endpoint: endpoint.url }, tokenCache: false });
    t.after(() => v.close());
    const tok = token();
    await v.verify(tok);
    const before = await redis.calls();
    for (let i = 0; i < 500; i++) await v.verify(tok);
    for (let i = 0; i < 500; i++) v.verifySync(tok);
    assert.equal((await redis.calls()) - before, 0, 'no Redis command');
  });
});

describe('Redis down, hung or back', () => {
  test('Redis killed, then hung (SIGSTOP): no failed verification, latency bounded, a cold process works; back: sharing resumes', async (t) => {
    const { shared, endpoint } = await setup(t, 'outage');
    const options = { issuer: server.origin, shared: { ...shared, timeout: '50ms' }, revalidate: { endpoint: endpoint.url } };
    const fleet = await startFleet(3, options);
    t.after(() => fleet.close());
    const fresh = () => Array.from({ length: 5 }, () => token()); // new tokens: each needs an answer (a local miss)
    const all = async (label) => {
      const results = (await fleet.all('verify', { tokens: fresh() })).flat();
      const bad = results.filter((r) => !r.ok);
      assert.equal(bad.length, 0, `${label}: ${JSON.stringify(bad[0])}`);
      return Math.max(...results.map((r) => r.ms));
    };
    await all('Redis up');
    await redis.kill();
    const killed = await all('Redis killed');
    const cold = await startFleet(1, options);
    t.after(() => cold.close());
    const coldResults = (await cold.all('verify', { tokens: fresh() })).flat();
    assert.ok(
      coldResults.every((r) => r.ok),
      'a process started while Redis is down still works',
    );
    await redis.restart();
    await redis.command('SET', 'warm', '1'); // the new server answers
    redis.pause();
    let hung;
    try {
      hung = await all('Redis hung');
    } finally {
      redis.resume();
    }
    // The endpoint answers in a few ms; what Redis may add is its timeout (50 ms) per call, then the breaker.
    for (const [label, ms] of [
      ['killed', killed],
      ['hung', hung],
    ]) {
      assert.ok(ms < 1500, `${label}: slowest verification ${ms.toFixed(0)} ms`);
    }
    const events = (await fleet.all('events')).flat();
    assert.ok(
      events.some((e) => e.type === 'warning' && e.shared),
      'a warning event for the outage',
    );
    const warnings = events.filter((e) => e.type === 'warning' && e.shared && e.endpoint);
    assert.ok(!JSON.stringify(warnings).includes(SECRET));
    // Back: after the breaker closes, answers are shared again.
    await sleep(1100);
    await waitFor(
      async () => {
        await all('Redis back');
        return (await fleet.all('health')).every((h) => h[0].shared === 'up');
      },
      'the shared tier to come back',
      20_000,
    );
    const tok = token();
    await fleet.all('verify', { tokens: [tok] });
    assert.equal(endpoint.countFor(tok), 1, 'sharing resumed');
  });
});

describe('client-credentials tokens', () => {
  test('a fleet of token sources makes one token request, and Redis holds the token only encrypted', async (t) => {
    const { startOidcProvider, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET } = await import('./support/oidc.mjs');
    const op = await startOidcProvider();
    t.after(() => op.close());
    const { createTokenSource } = await import('../index.js');
    const shared = { redis: redis.url, secret: SECRET, prefix: 'tokens', timeout: '5s' };
    const options = {
      tokenUrl: `${op.issuer}/token`,
      clientId: OIDC_CLIENT_ID,
      clientSecret: OIDC_CLIENT_SECRET,
      shared,
      http: { timeout: '20s' },
    };
    const sources = Array.from({ length: 4 }, () => createTokenSource(options));
    t.after(() => sources.forEach((s) => s.close()));
    const tokens = await Promise.all(sources.map((s) => s.getToken()));
    const requests = op.log.filter((e) => e.path === '/token').length;
    assert.equal(requests, 1, 'one token request for the four sources');
    assert.ok(tokens.every((x) => x.accessToken === tokens[0].accessToken));
    const keys = await redis.keys('tokens:*');
    assert.ok(
      keys.some((k) => k.startsWith('tokens:token:')),
      keys.join(),
    );
    for (const k of keys) {
      const value = (await redis.get(k)).toString('latin1');
      for (const secret of [tokens[0].accessToken, OIDC_CLIENT_SECRET, OIDC_CLIENT_ID, SECRET])
        assert.ok(!value.includes(secret) && !k.includes(secret), `${k}`);
    }
    // A source with another secret cannot read it: it asks the endpoint itself.
    const other = createTokenSource({ ...options, shared: { ...shared, secret: 'another-secret-0123456789abcdef-0123' } });
    t.after(() => other.close());
    await other.getToken();
    assert.equal(op.log.filter((e) => e.path === '/token').length, 2);
  });
});
