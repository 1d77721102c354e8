// jwks-verify demo: `npm run demo` (or `node examples/demo.mjs` once the addon is built).
//
// Starts a small identity provider on 127.0.0.1 (./issuer.mjs), points a Verifier at it by issuer
// only (the JWKS URL comes from OpenID discovery), and walks through what a service meets in
// practice: a good token, an expired one, a tampered one, one for another API, a key rotation,
// and the provider going down. It is also a smoke test: every step checks its outcome, and the
// process exits 1 if any step behaves unexpectedly.
// Inside this package `jwks-verify` resolves to the package itself (the build in the repository root).
import { Verifier, TestClock } from 'jwks-verify';
import { startIssuer } from './issuer.mjs';

const WIDTH = 40; // column where outcomes start
const checks = [];
const failures = [];

/** Stop with exit code 2 if the demo hangs (a step waits for something that never comes). */
const watchdog = setTimeout(() => {
  console.error('\nDEMO TIMED OUT after 45 s');
  process.exit(2);
}, 45_000);
watchdog.unref();

function heading(text) {
  console.log(`\n${text}`);
}

/** A step's outcome: `label   ok|rejected|failed   detail`. */
function row(label, outcome, detail = '') {
  console.log(`   ${label.padEnd(WIDTH)}${outcome.padEnd(10)}${detail}`.trimEnd());
}

/** A remark under a step's detail column. */
function note(text) {
  console.log(`   ${''.padEnd(WIDTH + 10)}${text}`);
}

/** A line of information: `label   text`. */
function info(label, text = '') {
  console.log(`   ${label.padEnd(WIDTH)}${text}`.trimEnd());
}

function check(label, ok, detail) {
  checks.push(label);
  if (!ok) {
    failures.push(`${label}: ${detail}`);
    console.log(`   !! UNEXPECTED: ${detail}`);
  }
  return ok;
}

function describeError(err) {
  const extras = ['claim', 'kid', 'status', 'retryAfter']
    .filter((k) => err?.[k] !== undefined && err?.[k] !== null)
    .map((k) => `${k} ${err[k]}`);
  return `${err?.code ?? err?.name ?? 'Error'}${extras.length ? ` (${extras.join(', ')})` : ''}`;
}

/** verify() a token that must pass; prints the outcome and returns the result (or null). */
async function expectValid(label, verifier, token, detail = (r) => `sub ${r.payload.sub}, kid ${r.header.kid}`) {
  try {
    const result = await verifier.verify(token);
    row(label, 'ok', detail(result));
    check(label, true);
    return result;
  } catch (err) {
    row(label, 'rejected', describeError(err));
    check(label, false, `expected a valid token, got ${describeError(err)}: ${err?.message}`);
    return null;
  }
}

/** verify() a token that must fail with `code` (and `claim` when given). */
async function expectRejected(label, verifier, token, code, claim) {
  try {
    const result = await verifier.verify(token);
    row(label, 'ok', `sub ${result.payload.sub}`);
    check(label, false, `expected ${code}, but the token was accepted`);
  } catch (err) {
    row(label, 'rejected', describeError(err));
    if (check(label, err?.code === code, `expected ${code}, got ${describeError(err)}: ${err?.message}`) && claim) {
      check(`${label} (claim)`, err.claim === claim, `expected claim '${claim}', got '${err.claim}'`);
    }
    note(`message: ${err?.message}`);
  }
}

/** Poll `predicate` every 20 ms for at most `ms` milliseconds. */
async function waitFor(predicate, ms = 3000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (predicate()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return predicate();
}

/** Replace the payload of a signed token, keeping its header and signature. */
function tamper(token, changes) {
  const [header, payload, signature] = token.split('.');
  const claims = { ...JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')), ...changes };
  return [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
}

const fmtTime = (ms) => (typeof ms === 'number' ? new Date(ms).toISOString() : String(ms));

async function main() {
  const idp = await startIssuer({ alg: 'RS256' });
  console.log('jwks-verify demo: verifying tokens from an embedded identity provider\n');
  info('provider', `${idp.issuer}  (RS256, JWKS served with Cache-Control: max-age=300)`);
  info('verifier', `new Verifier({ issuer: '${idp.issuer}', audience: 'demo-api' })`);
  info('', 'no jwksUri: it is read from /.well-known/openid-configuration');

  // To show expiry and an outage without waiting minutes, the demo gives its Verifier a test clock it
  // can move forward. TestClock is a test aid, refused unless JWKS_VERIFY_TEST_CLOCK=1: real code never sets it.
  process.env.JWKS_VERIFY_TEST_CLOCK = '1';
  const clock = new TestClock();
  const verifier = new Verifier({ issuer: idp.issuer, audience: 'demo-api', testClock: clock });
  const canTravel = true;

  try {
    // 1. A valid token ------------------------------------------------------------------------
    heading('1. A valid token');
    const firstKid = idp.currentKid;
    const goodToken = idp.sign({ sub: 'alice', scope: 'orders:read' });
    const good = await expectValid('verify(token)', verifier, goodToken);
    if (good) {
      info('  payload', JSON.stringify(good.payload));
      info('  header', JSON.stringify(good.header));
      check('result.issuer', good.issuer === idp.issuer, `result.issuer is ${good.issuer}, expected ${idp.issuer}`);
    }
    info('provider requests so far', `discovery ${idp.discoveryRequests}, JWKS ${idp.requests}`);
    check(
      'one discovery + one JWKS fetch',
      idp.discoveryRequests === 1 && idp.requests === 1,
      `expected 1 discovery and 1 JWKS request, saw ${idp.discoveryRequests} and ${idp.requests}`,
    );

    const before = idp.requests;
    for (let i = 0; i < 20; i++) await verifier.verify(idp.sign({ sub: `user-${i}` }));
    row('20 more tokens verified', 'ok', `JWKS requests: still ${idp.requests} (keys are cached)`);
    check('cached keys reused', idp.requests === before, `JWKS was fetched ${idp.requests - before} more times`);

    // 2-4. Tokens that must be refused ------------------------------------------------------------
    heading('2. An expired token (exp 60 s ago)');
    await expectRejected('verify(token)', verifier, idp.sign({ sub: 'alice' }, { expiresIn: -60 }), 'ERR_JWT_EXPIRED', 'exp');

    heading('3. A tampered token (payload changed after signing: sub alice -> admin)');
    await expectRejected('verify(token)', verifier, tamper(goodToken, { sub: 'admin' }), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');

    heading("4. A token for another API (aud 'billing-api')");
    await expectRejected(
      'verify(token)',
      verifier,
      idp.sign({ sub: 'alice', aud: 'billing-api' }),
      'ERR_JWT_CLAIM_VALIDATION_FAILED',
      'aud',
    );

    // 5. Key rotation ---------------------------------------------------------------------------
    heading('5. Key rotation');
    const newKid = idp.rotate();
    info('provider rotated its signing key', `${firstKid} -> ${newKid} (old key removed from the JWKS)`);
    const requestsBeforeRotation = idp.requests;
    await expectValid('token signed by the new key', verifier, idp.sign({ sub: 'bob' }));
    note(`unknown kid -> one refetch (JWKS requests ${requestsBeforeRotation} -> ${idp.requests})`);
    check(
      'refetch on unknown kid',
      idp.requests === requestsBeforeRotation + 1,
      `expected exactly one refetch, saw ${idp.requests - requestsBeforeRotation}`,
    );
    await expectRejected(
      'new token signed by the old key',
      verifier,
      idp.sign({ sub: 'alice' }, { kid: firstKid }),
      'ERR_JWKS_NO_MATCHING_KEY',
    );
    await expectRejected('step 1 token (verified before)', verifier, goodToken, 'ERR_JWKS_NO_MATCHING_KEY');
    note('a verification cached in step 1 does not outlive its key');
    const afterRotation = idp.requests - requestsBeforeRotation;
    info('JWKS requests for the old kid', `${afterRotation - 1} (refetches wait for the 30 s cooldown)`);
    check('cooldown holds', afterRotation === 1, `expected no refetch for the old kid, saw ${afterRotation - 1}`);

    // 6. The provider goes down ---------------------------------------------------------------------
    heading('6. The provider goes down');
    idp.setOutage({ type: 'stall' });
    info('JWKS endpoint', 'stops answering (accepts connections, never responds)');
    if (canTravel) {
      clock.advance(301_000);
      info('fast-forward 301 s', "keys are past their 300 s lifetime (the Verifier's test clock)");
    }
    const outageStart = idp.requests;
    const t0 = performance.now();
    await expectValid(
      'verify(token) during the outage',
      verifier,
      idp.sign({ sub: 'carol' }, { expiresIn: 3600 }),
      (r) => `sub ${r.payload.sub}, answered in ${(performance.now() - t0).toFixed(1)} ms from cached keys`,
    );
    const elapsed = performance.now() - t0;
    check('no waiting for the refresh', elapsed < 1000, `verify took ${elapsed.toFixed(0)} ms while the provider hung`);
    if (canTravel) {
      const tried = await waitFor(() => idp.requests > outageStart);
      row('background refresh', tried ? 'started' : 'not tried', tried ? 'hangs: the provider does not answer' : '');
      check('background refresh attempted', tried, 'no refresh reached the provider after the keys expired');
      for (let i = 0; i < 10; i++) await verifier.verify(idp.sign({ sub: `user-${i}` }, { expiresIn: 3600 }));
      row('10 more tokens meanwhile', 'ok', `JWKS requests during the outage: ${idp.requests - outageStart} (single flight)`);
      check('single flight', idp.requests - outageStart === 1, `expected 1 request, saw ${idp.requests - outageStart}`);
      info('(waiting for the refresh to time out)', 'http.timeout is 5 s');
      const failed = await waitFor(() => (verifier.stats().fetchErrors ?? 0) > 0, 9000);
      const lastError = verifier.health()[0]?.lastError;
      row('background refresh', failed ? 'failed' : 'pending', lastError?.code ?? '');
      check('refresh failure recorded', failed, 'stats().fetchErrors stayed 0 for 9 s');
      await expectValid(
        'verify(token) after the failed refresh',
        verifier,
        idp.sign({ sub: 'dave' }, { expiresIn: 3600 }),
        (r) => `sub ${r.payload.sub} (the last good keys serve for up to maxStale, 24 h)`,
      );
      const state = verifier.health()[0]?.state;
      info('health()[0].state', String(state));
      check('state while failing', state === 'stale' || state === 'failing', `expected 'stale' or 'failing', got ${state}`);

      // Recovery: the provider answers again; the next verification past the backoff refreshes.
      idp.setOutage(false);
      clock.advance(31_000);
      const recoveryStart = idp.requests;
      await expectValid('provider back: verify(token)', verifier, idp.sign({ sub: 'erin' }, { expiresIn: 3600 }));
      const recovered = await waitFor(() => verifier.health()[0]?.state === 'fresh');
      info('health()[0].state', `${verifier.health()[0]?.state} (JWKS requests ${recoveryStart} -> ${idp.requests})`);
      check('recovered after the outage', recovered, `state is ${verifier.health()[0]?.state}, expected 'fresh'`);
    } else {
      idp.setOutage(false);
      info('(no test clock: the expiry part of this step is skipped)');
    }

    // 7. What the verifier knows ------------------------------------------------------------------
    heading('7. health() and stats()');
    for (const h of verifier.health()) {
      console.log('   health()');
      info('  issuer', h.issuer);
      info('  jwksUri', h.jwksUri);
      info('  state', String(h.state));
      info('  kids', (h.kids ?? []).join(', '));
      info('  fetchedAt', fmtTime(h.fetchedAt));
      info('  expiresAt', fmtTime(h.expiresAt));
      if (canTravel) note("(the verifier's clock is 332 s ahead: the fast-forwards of step 6)");
      info('  lastError', h.lastError ? JSON.stringify(h.lastError) : 'none');
    }
    const stats = verifier.stats();
    console.log('   stats()');
    for (const [key, value] of Object.entries(stats)) {
      info(`  ${key}`, typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value));
    }
    check(
      'stats().verifications',
      typeof stats.verifications === 'number' && stats.verifications >= 25,
      `expected at least 25 verifications, got ${stats.verifications}`,
    );
    check(
      'stats().failures counts codes',
      (stats.failures?.ERR_JWT_EXPIRED ?? 0) >= 1,
      `expected failures.ERR_JWT_EXPIRED >= 1, got ${JSON.stringify(stats.failures)}`,
    );
  } finally {
    // 8. Shut down -------------------------------------------------------------------------------
    heading('8. close()');
    verifier.close();
    await expectRejected('verify(token) after close()', verifier, idp.sign(), 'ERR_VERIFIER_CLOSED');
    await idp.close();
  }
}

try {
  await main();
} catch (err) {
  failures.push(`demo crashed: ${err?.stack ?? err}`);
  console.log(`\n!! demo crashed: ${err?.stack ?? err}`);
}

if (failures.length === 0) {
  console.log(`\nAll ${checks.length} checks passed.`);
  process.exit(0);
} else {
  console.log(`\n${failures.length} of ${checks.length} checks FAILED:`);
  for (const f of failures) console.log(`  - ${f}`);
  process.exit(1);
}
