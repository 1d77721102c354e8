// Token liveness (`revalidate`): a SCAYLE-shaped server (JWKS + bearer validation endpoint) and a real
// oidc-provider (RFC 7662 introspection, RFC 7009 revocation, opaque tokens), both on 127.0.0.1. Every test counts
// the endpoint's requests. Time moves with the test clock (support/expect.mjs), never by sleeping past deadlines.
import { test, describe } from 'node:test';
import diagnosticsChannel from 'node:diagnostics_channel';
import assert from 'node:assert/strict';
import { Verifier, TestClock } from '../index.js';
import { generateKey, signJwt, toJwks } from './support/keys.mjs';
import { startJwksServer } from './support/jwks-server.mjs';
import { addValidationEndpoint } from './support/validation-server.mjs';
import { startOidcProvider, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET } from './support/oidc.mjs';
import { advanceClock, clockNow, errorWith, rejectsWith, testClock, throwsWith } from './support/expect.mjs';
import { waitFor } from './support/cache-harness.mjs';

const key = generateKey('RS256', { kid: 'scayle-1' });
let serial = 0;

/** A SCAYLE-like token: RS256, dated on the test clock, a unique jti; `claims` override. */
function token(claims = {}) {
  const iat = clockNow();
  return signJwt(key, { sub: 'customer-1', aud: '5', jti: `t${++serial}`, iat, exp: iat + 31 * 86400, ...claims });
}

/** A JWKS server publishing `key` with a validation endpoint, and a factory of Verifiers on both. */
async function scayle(t, revalidate = {}, extra = {}) {
  const server = await startJwksServer({ jwks: toJwks(key) });
  const endpoint = addValidationEndpoint(server);
  const events = [];
  const verifiers = [];
  const make = (more = {}) => {
    const v = new Verifier({
      jwksUri: server.url,
      audience: '5',
      testClock,
      revalidate: { endpoint: endpoint.url, ...revalidate },
      onEvent: (e) => events.push(e),
      ...extra,
      ...more,
    });
    verifiers.push(v);
    return v;
  };
  t.after(async () => {
    for (const v of verifiers) v.close();
    await server.close();
  });
  return { server, endpoint, make, events };
}

describe('bearer validation endpoint (SCAYLE)', () => {
  test('a token is asked about once per interval; a revoked one is refused once the interval has passed', async (t) => {
    const { endpoint, make } = await scayle(t);
    const v = make();
    const tok = token();
    const r = await v.verify(tok);
    assert.equal(r.payload.sub, 'customer-1');
    assert.equal(endpoint.countFor(tok), 1, 'asked once');
    assert.equal(endpoint.log[0].method, 'GET');
    for (let i = 0; i < 5; i++) await v.verify(tok);
    v.verifySync(tok);
    assert.equal(endpoint.countFor(tok), 1, 'answers within the interval come from the cache');
    endpoint.revoke(tok);
    advanceClock(299_000);
    // 80% passed: served from the cache, one refresh in the background (which learns of the revocation).
    await v.verify(tok);
    await waitFor(() => endpoint.countFor(tok) === 2, 'the background refresh');
    await waitFor(() => v.stats().inactive === 1, 'the inactive answer to arrive');
    await rejectsWith(() => v.verify(tok), 'ERR_TOKEN_INACTIVE');
    throwsWith(() => v.verifySync(tok), 'ERR_TOKEN_INACTIVE');
    assert.equal(endpoint.countFor(tok), 2, 'the inactive answer is remembered: no further calls');
    const s = v.stats();
    assert.equal(s.revalidations, 2);
    assert.ok(s.revalidationHits >= 6, JSON.stringify(s));
  });

  test("diagnostics_channel 'jwks-verify:revalidate' publishes the revalidate events onEvent gets (never the token)", async (t) => {
    const { make, events } = await scayle(t);
    const published = [];
    const subscriber = (message) => published.push(message);
    diagnosticsChannel.subscribe('jwks-verify:revalidate', subscriber);
    t.after(() => diagnosticsChannel.unsubscribe('jwks-verify:revalidate', subscriber));
    const tok = token();
    await make().verify(tok);
    await waitFor(() => published.length === 1, 'the revalidate event on the channel');
    const mine = events.filter((e) => e.type === 'revalidate');
    assert.equal(published[0], mine[0], 'the same object onEvent got');
    assert.equal(published[0].active, true);
    assert.ok(!JSON.stringify(published[0]).includes(tok.split('.')[2]), 'no token');
  });

  test('an inactive answer is never served past the interval without asking again when the token has no exp', async (t) => {
    const { endpoint, make } = await scayle(t, { interval: '1m' }, { requiredClaims: [] });
    const v = make();
    const tok = token({ exp: undefined });
    endpoint.revoke(tok);
    await rejectsWith(() => v.verify(tok), 'ERR_TOKEN_INACTIVE');
    await rejectsWith(() => v.verify(tok), 'ERR_TOKEN_INACTIVE');
    assert.equal(endpoint.countFor(tok), 1);
    advanceClock(61_000);
    await rejectsWith(() => v.verify(tok), 'ERR_TOKEN_INACTIVE');
    assert.equal(endpoint.countFor(tok), 2, 'kept for `interval` when there is no exp');
  });

  test('1000 concurrent verifications of one token make one endpoint call', async (t) => {
    const { endpoint, make } = await scayle(t);
    const v = make({ http: { timeout: '60s' } }); // the stall must outlast a loaded machine, not the timeout
    const tok = token();
    endpoint.setMode({ type: 'stall' });
    const all = Array.from({ length: 1000 }, () => v.verify(tok));
    await waitFor(() => endpoint.count === 1, 'the one call', 10_000);
    endpoint.setMode({ type: 'ok' });
    endpoint.release();
    const results = await Promise.all(all);
    assert.equal(results.length, 1000);
    assert.equal(endpoint.countFor(tok), 1);
  });

  test('a forged token never costs an endpoint call', async (t) => {
    const { endpoint, make } = await scayle(t);
    const v = make();
    const forged = signJwt(generateKey('RS256', { kid: 'scayle-1' }), { sub: 'x', aud: '5', exp: clockNow() + 60 });
    await rejectsWith(() => v.verify(forged), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    throwsWith(() => v.verifySync(forged), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    await rejectsWith(() => v.verify(token({ aud: 'other' })), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
    assert.equal(endpoint.count, 0);
  });

  test('refresh ahead: past 80% the verification is answered from the cache while the endpoint stalls', async (t) => {
    const { endpoint, make } = await scayle(t);
    const v = make();
    const tok = token();
    await v.verify(tok);
    endpoint.setMode({ type: 'stall' });
    advanceClock(250_000); // past 80% of 5 min
    const r = await v.verify(tok); // would hang if it waited for the stalled endpoint
    assert.equal(r.payload.sub, 'customer-1');
    await waitFor(() => endpoint.countFor(tok) === 2, 'one background refresh');
    await v.verify(tok);
    await v.verify(tok);
    assert.equal(endpoint.countFor(tok), 2, 'one refresh in flight, not one per verification');
    endpoint.setMode({ type: 'ok' });
    endpoint.release();
  });

  test("an answer never outlives the token's exp: refresh ahead at 80% of the time left", async (t) => {
    const { endpoint, make } = await scayle(t);
    const v = make();
    const tok = token({ exp: clockNow() + 100 });
    await v.verify(tok);
    advanceClock(70_000); // 70% of the 100 s the token has left, well before 80% of 5 min
    await v.verify(tok);
    assert.equal(endpoint.countFor(tok), 1, 'not yet due');
    advanceClock(15_000); // 85 s: past 80% of 100 s
    await v.verify(tok);
    await waitFor(() => endpoint.countFor(tok) === 2, 'a refresh capped by exp');
  });

  test('interval 0 asks on every verification (concurrent ones still share one call)', async (t) => {
    const { endpoint, make } = await scayle(t, { interval: 0 });
    const v = make();
    const tok = token();
    await v.verify(tok);
    await v.verify(tok);
    assert.equal(endpoint.countFor(tok), 2);
  });

  test('endpoint failures: never inactive, never active; staleIfError bounds an old answer', async (t) => {
    const { endpoint, make } = await scayle(t, { interval: '1m', staleIfError: '1m' });
    const v = make();
    const fresh = token();
    endpoint.setMode({ type: 'status', status: 500 });
    await rejectsWith(() => v.verify(fresh), 'ERR_REVALIDATION_FAILED', { status: 500 });
    const known = token();
    endpoint.setMode({ type: 'ok' });
    await v.verify(known);
    endpoint.setMode({ type: 'status', status: 502 });
    advanceClock(70_000); // past the interval, within staleIfError
    const r = await v.verify(known);
    assert.equal(r.payload.sub, 'customer-1', 'the old active answer covers the failing endpoint');
    assert.equal(endpoint.countFor(known), 2, 'the endpoint was asked first');
    advanceClock(55_000); // 125 s: past interval + staleIfError
    await rejectsWith(() => v.verify(known), 'ERR_REVALIDATION_FAILED');
    assert.ok(v.stats().revalidationErrors >= 2);
  });

  test('without staleIfError an answer older than the interval never serves while the endpoint fails', async (t) => {
    const { endpoint, make } = await scayle(t, { interval: '1m' });
    const v = make({ http: { timeout: '300ms' } });
    const tok = token();
    await v.verify(tok);
    endpoint.setMode({ type: 'stall' });
    advanceClock(61_000);
    // The stall ends at http.timeout: a failure, and no answer old enough to cover it.
    await rejectsWith(() => v.verify(tok), 'ERR_REVALIDATION_FAILED', { message: /timed out/ });
    endpoint.setMode({ type: 'ok' });
    endpoint.release();
  });

  test('429 with Retry-After is obeyed for every token of the endpoint; Genesys inin-ratelimit-reset too', async (t) => {
    const { endpoint, make } = await scayle(t);
    const v = make();
    endpoint.setMode({ type: 'status', status: 429, headers: { 'retry-after': '30' } });
    await rejectsWith(() => v.verify(token()), 'ERR_REVALIDATION_FAILED', { status: 429, retryAfter: 30 });
    const before = endpoint.count;
    await rejectsWith(() => v.verify(token()), 'ERR_REVALIDATION_FAILED', { retryAfter: (s) => s > 0 && s <= 30 });
    assert.equal(endpoint.count, before, 'another token waits too: no call');
    advanceClock(31_000);
    endpoint.setMode({ type: 'status', status: 429, headers: { 'inin-ratelimit-reset': '12' } });
    await rejectsWith(() => v.verify(token()), 'ERR_REVALIDATION_FAILED', { retryAfter: 12 });
    endpoint.setMode({ type: 'ok' });
    advanceClock(13_000);
    await v.verify(token());
  });

  test('a 2xx whose body is not JSON is still "active" for a bearer endpoint; HEAD and POST work; the query is kept', async (t) => {
    const { endpoint, make } = await scayle(t);
    endpoint.setMode({ type: 'body', body: 'OK', contentType: 'text/plain' });
    await make().verify(token());
    endpoint.setMode({ type: 'ok' });
    const head = make({ revalidate: { endpoint: `${endpoint.url}?preserveIdleTTL=true`, method: 'HEAD' } });
    await head.verify(token());
    const post = make({ revalidate: { endpoint: endpoint.url, method: 'POST' } });
    await post.verify(token());
    assert.deepEqual(
      endpoint.log.map((e) => [e.method, e.query]),
      [
        ['GET', ''],
        ['HEAD', '?preserveIdleTTL=true'],
        ['POST', ''],
      ],
    );
  });

  test('verifySync: ERR_REVALIDATION_PENDING starts the call, then answers from the cache', async (t) => {
    const { endpoint, make } = await scayle(t);
    const v = make();
    await v.ready();
    const tok = token();
    throwsWith(() => v.verifySync(tok), 'ERR_REVALIDATION_PENDING');
    await waitFor(() => v.stats().revalidations === 1 && endpoint.countFor(tok) === 1, 'the background call');
    await waitFor(() => {
      try {
        return v.verifySync(tok).payload.sub === 'customer-1';
      } catch {
        return false;
      }
    }, 'the answer to be cached');
    assert.equal(endpoint.countFor(tok), 1);
  });

  test('events and errors never carry the token', async (t) => {
    const { endpoint, make, events } = await scayle(t);
    const v = make();
    const tok = token();
    await v.verify(tok);
    endpoint.revoke(tok);
    const other = token();
    endpoint.revoke(other);
    const err = await v.verify(other).catch((e) => e);
    assert.equal(err.code, 'ERR_TOKEN_INACTIVE');
    await waitFor(() => events.filter((e) => e.type === 'revalidate').length === 2, 'two revalidate events');
    const reval = events.filter((e) => e.type === 'revalidate');
    assert.deepEqual(
      reval.map((e) => [e.endpoint, e.status, e.active, typeof e.durationMs]),
      [
        [endpoint.url, 200, true, 'number'],
        [endpoint.url, 401, false, 'number'],
      ],
    );
    const text = JSON.stringify({ events, err: { ...err, message: err.message, stack: err.stack } });
    for (const secret of [tok, other, tok.split('.')[2]]) assert.ok(!text.includes(secret), 'no token in events or errors');
  });

  test('a JWS token without kid and iss, aud "5", fractional times (SCAYLE\'s real shape)', async (t) => {
    const { endpoint, make } = await scayle(t);
    const v = make();
    const t0 = clockNow() + 0.25;
    const tok = signJwt(key, { aud: '5', jti: 'frac', iat: t0 - 10.5, nbf: t0 - 10.5, exp: t0 + 2678400.75, sub: '42' }, { kid: null });
    const r = await v.verify(tok);
    assert.equal(r.payload.sub, '42');
    assert.equal(r.header.kid, undefined);
    assert.equal(endpoint.countFor(tok), 1);
  });
});

describe('opaque tokens', () => {
  test('a bearer endpoint alone validates an opaque token (Genesys tokens/me): payload = its JSON body', async (t) => {
    const { endpoint, make } = await scayle(t, { opaque: true });
    endpoint.setBody({ id: 'me-1', name: 'Agent' });
    const v = make({ issuer: 'https://login.mypurecloud.com', jwksUri: undefined, audience: undefined, algorithms: ['RS256'] });
    const opaque = 'gX1fBt2Zy-3Qd9w_Kq8sVlE5RjoPmNnA0cHaYiUkWTs';
    const r = await v.verify(opaque);
    assert.deepEqual(r, { payload: { id: 'me-1', name: 'Agent' }, header: null, issuer: 'https://login.mypurecloud.com' });
    assert.deepEqual(v.verifySync(opaque), r);
    assert.equal(endpoint.countFor(opaque), 1);
    endpoint.revoke(opaque);
    advanceClock(301_000);
    await rejectsWith(() => v.verify(opaque), 'ERR_TOKEN_INACTIVE');
    await rejectsWith(() => v.verify('has spaces in it'), 'ERR_JWS_INVALID');
    await rejectsWith(() => v.verify('x'.repeat(20_000)), 'ERR_JWS_INVALID');
  });

  test('without opaque: true an opaque token stays ERR_JWS_INVALID, with no call', async (t) => {
    const { endpoint, make } = await scayle(t);
    await rejectsWith(() => make().verify('gX1fBt2Zy3Qd9wKq8sVlE5Rj'), 'ERR_JWS_INVALID');
    assert.equal(endpoint.count, 0);
  });

  test('options: the option paths are named; a verifier of opaque tokens needs no key source', async (t) => {
    const { endpoint } = await scayle(t);
    const v = new Verifier({ revalidate: { endpoint: endpoint.url, opaque: true }, testClock });
    t.after(() => v.close());
    const r = await v.verify('opaque-token-1');
    assert.deepEqual(r, { payload: { active: true }, header: null, issuer: null });
    throwsWith(() => new Verifier({ issuer: 'https://a', revalidate: { endpoint: 'https://a/v', intervall: 5 } }), 'ERR_INVALID_OPTIONS', {
      message: /revalidate\.intervall.*did you mean "interval"/,
    });
    throwsWith(
      () => new Verifier({ issuers: [{ issuer: 'https://a', revalidate: { endpoint: 'http://example.com/v' } }] }),
      'ERR_INVALID_OPTIONS',
      { message: /issuers\[0\]\.revalidate\.endpoint/ },
    );
    throwsWith(
      () => new Verifier({ jwksUri: 'https://a/j', revalidate: { introspection: { clientId: 'c', clientSecret: 's' } } }),
      'ERR_INVALID_OPTIONS',
      {
        message: /revalidate\.introspection\.endpoint" is required/,
      },
    );
  });
});

describe('RFC 7662 introspection (oidc-provider)', () => {
  test('an opaque client-credentials token: introspected, revoked through RFC 7009, refused after the interval', async (t) => {
    const op = await startOidcProvider({ accessTokenFormat: 'opaque', introspection: true });
    t.after(() => op.close());
    // The provider dates its answers in real time: a clock of this test's own, not moved by the tests before it.
    const clock = new TestClock();
    const events = [];
    const v = new Verifier({
      issuer: op.issuer,
      revalidate: { introspection: { clientId: OIDC_CLIENT_ID, clientSecret: OIDC_CLIENT_SECRET }, opaque: true, interval: '1m' },
      testClock: clock,
      onEvent: (e) => events.push(e),
    });
    t.after(() => v.close());
    const opaque = await op.getAccessToken();
    assert.ok(!opaque.includes('.'), 'an opaque token');
    const introspections = () => op.log.filter((e) => e.path === '/token/introspection').length;
    const r = await v.verify(opaque);
    assert.equal(r.header, null);
    assert.equal(r.issuer, op.issuer);
    assert.equal(r.payload.active, true);
    assert.equal(r.payload.client_id, OIDC_CLIENT_ID);
    assert.equal(introspections(), 1, 'the endpoint came from discovery, then one introspection');
    await v.verify(opaque);
    assert.equal(introspections(), 1);
    await op.revoke(opaque);
    await v.verify(opaque); // still within the interval: the cached answer
    clock.advance(61_000);
    await rejectsWith(() => v.verify(opaque), 'ERR_TOKEN_INACTIVE');
    assert.equal(introspections(), 2);
    assert.ok(!JSON.stringify(events).includes(opaque));
    assert.ok(!JSON.stringify(events).includes(OIDC_CLIENT_SECRET));
  });

  test('a JWT access token is introspected only after its signature verifies (oidc-provider answers 400 for JWTs)', async (t) => {
    const op = await startOidcProvider({ introspection: true });
    t.after(() => op.close());
    const v = new Verifier({
      issuer: op.issuer,
      audience: op.audience,
      revalidate: { introspection: { endpoint: op.introspectionUrl, clientId: OIDC_CLIENT_ID, clientSecret: OIDC_CLIENT_SECRET } },
    });
    t.after(() => v.close());
    const introspections = () => op.log.filter((e) => e.path === '/token/introspection').length;
    const forged = signJwt(generateKey('RS256', { kid: op.signingKey.kid }), { iss: op.issuer, aud: op.audience, exp: clockNow() + 60 });
    await rejectsWith(() => v.verify(forged), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    assert.equal(introspections(), 0, 'no call for a forged token');
    // oidc-provider introspects only its opaque tokens: its 400 is an endpoint failure, never "inactive".
    const jwt = await op.getAccessToken();
    await rejectsWith(() => v.verify(jwt), 'ERR_REVALIDATION_FAILED', { status: 400 });
    assert.equal(introspections(), 1);
  });

  test('a wrong introspection secret is ERR_REVALIDATION_FAILED (never inactive), and the secret is in no message', async (t) => {
    const op = await startOidcProvider({ accessTokenFormat: 'opaque', introspection: true });
    t.after(() => op.close());
    const wrong = 'not-the-secret-0123456789';
    const v = new Verifier({
      issuer: op.issuer,
      revalidate: { introspection: { endpoint: op.introspectionUrl, clientId: OIDC_CLIENT_ID, clientSecret: wrong }, opaque: true },
      testClock,
    });
    t.after(() => v.close());
    const err = await v.verify(await op.getAccessToken()).catch((e) => e);
    assert.ok(errorWith('ERR_REVALIDATION_FAILED', { status: 401 })(err));
    assert.ok(!String(err.message).includes(wrong));
  });
});

describe('HTTP answers of the entry points', () => {
  test('Express: a revoked token is 401 invalid_token; an unreachable endpoint is 503 with Retry-After', async (t) => {
    const { default: express } = await import('express');
    const { authenticate } = await import('jwks-verify/express');
    const { endpoint, make } = await scayle(t);
    const app = express();
    app.get('/me', authenticate({ verifier: make() }), (req, res) => res.json({ sub: req.auth.payload.sub }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    t.after(() => new Promise((resolve) => server.close(resolve)));
    const url = `http://127.0.0.1:${server.address().port}/me`;
    const call = (tok) => fetch(url, { headers: { authorization: `Bearer ${tok}` } });
    const live = token();
    assert.equal((await call(live)).status, 200);
    const revoked = token();
    endpoint.revoke(revoked);
    const r401 = await call(revoked);
    assert.equal(r401.status, 401);
    assert.match(r401.headers.get('www-authenticate'), /error="invalid_token"/);
    endpoint.setMode({ type: 'status', status: 429, headers: { 'retry-after': '20' } });
    const r503 = await call(token());
    assert.equal(r503.status, 503);
    assert.ok(Number(r503.headers.get('retry-after')) > 0, 'Retry-After');
  });
});
