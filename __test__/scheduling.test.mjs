// Where verify() runs its checks: inline on the JS thread while nothing is on the libuv pool and
// the turn's budget lasts (the promise is settled before verify() returns), on the pool otherwise,
// where the jobs of one turn travel in batches (each promise still settles on its own).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pbkdf2 } from 'node:crypto';
import { generateKey, signJwt, toJwks } from './support/keys.mjs';
import { startJwksServer } from './support/jwks-server.mjs';
import { clockNow } from './support/expect.mjs';
import { openVerifier } from './support/verifiers.mjs';

const ISSUER = 'https://issuer.scheduling.test';
const key = generateKey('RS256');
const tokens = (n, prefix) => {
  const iat = clockNow();
  return Array.from({ length: n }, (_, i) => signJwt(key, { iss: ISSUER, sub: `${prefix}-${i}`, iat, exp: iat + 300 }));
};
const turn = () => new Promise((resolve) => setImmediate(resolve));

/** Resolves once the microtasks queued so far have run, without letting the event loop turn. */
async function microtasks() {
  for (let i = 0; i < 5; i++) await null;
}

describe('verify() scheduling', () => {
  let srv;
  let v;
  before(async () => {
    srv = await startJwksServer({ jwks: toJwks(key) });
    v = openVerifier({ issuer: ISSUER, jwksUri: srv.url, tokenCache: false });
    await v.ready();
  });
  after(() => srv?.close());

  test('with nothing in flight, a verification settles before the event loop turns', async () => {
    await turn();
    for (const t of tokens(20, 'alone')) {
      let settled = null;
      v.verify(t).then(
        (r) => (settled = r.payload.sub),
        (e) => (settled = e),
      );
      await microtasks();
      assert.match(String(settled), /^alone-/, 'an idle verification is settled within the same turn');
      await turn();
    }
  });

  test('a burst runs inline for a budget only (two checks), then goes to the pool and still resolves', async () => {
    await turn();
    const burst = tokens(2000, 'burst');
    let settled = 0;
    const started = performance.now();
    const all = burst.map((t) => v.verify(t).then((r) => (settled++, r.payload.sub)));
    const syncMs = performance.now() - started;
    await microtasks();
    const inline = settled;
    assert.ok(inline >= 1, 'the first verifications of the burst ran inline');
    assert.ok(inline <= 2, `only a budget's worth ran inline, not ${inline} of ${burst.length}`);
    // 2000 RS256 checks take tens of ms of CPU; queueing them must not.
    assert.ok(syncMs < 2000, `the burst returned its promises in ${syncMs.toFixed(1)} ms`);
    const subs = await Promise.all(all);
    assert.deepEqual(
      subs,
      burst.map((_, i) => `burst-${i}`),
    );
  });

  test('while verifications are on the pool, the next one follows them there, even in a new turn', async () => {
    await turn();
    const [first, ...rest] = tokens(201, 'queued');
    // Occupy every libuv pool thread for a while, so that work sent to the pool stays queued.
    const blockers = Array.from(
      { length: Number(process.env.UV_THREADPOOL_SIZE) || 4 },
      () => new Promise((resolve) => pbkdf2('x', 'y', 400_000, 32, 'sha256', resolve)),
    );
    let settled = 0;
    const pending = rest.map((t) => v.verify(t).then(() => settled++));
    await microtasks();
    assert.ok(settled < rest.length, `a budget's worth ran inline (${settled}), the rest waits for the pool`);
    await turn(); // a new turn: its budget is whole again
    let late = null;
    const p = v.verify(first).then((r) => (late = r.payload.sub));
    await microtasks();
    assert.equal(late, null, 'the verification was queued behind the pool work, not run inline');
    await Promise.all([p, ...pending, ...blockers]);
    assert.equal(late, 'queued-0');
    // Once the pool is idle again, verifications are inline again.
    await turn();
    let again = null;
    v.verify(first).then((r) => (again = r.payload.sub));
    await microtasks();
    assert.equal(again, 'queued-0');
  });

  test('in a batch on the pool, each verification settles with its own result or error', async () => {
    await turn();
    const good = tokens(300, 'mixed');
    const forged = good.map((t) => t.slice(0, -4) + (t.endsWith('AAAA') ? 'BBBB' : 'AAAA'));
    const calls = good.flatMap((t, i) => (i % 3 === 0 ? [forged[i], t] : [t]));
    const outcomes = await Promise.all(
      calls.map((t) =>
        v.verify(t).then(
          (r) => r.payload.sub,
          (e) => e.code,
        ),
      ),
    );
    const expected = good.flatMap((_, i) => (i % 3 === 0 ? ['ERR_JWS_SIGNATURE_VERIFICATION_FAILED', `mixed-${i}`] : [`mixed-${i}`]));
    assert.deepEqual(outcomes, expected);
  });

  test('failures settle inline too, with their code', async () => {
    await turn();
    const [t] = tokens(1, 'bad');
    const tampered = t.slice(0, -4) + (t.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    let code = null;
    v.verify(tampered).catch((e) => (code = e.code));
    await microtasks();
    assert.equal(code, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
  });

  test('in a worker thread the budget is the worker’s own', async () => {
    const { Worker } = await import('node:worker_threads');
    const { fileURLToPath } = await import('node:url');
    const addon = fileURLToPath(new URL('../index.js', import.meta.url));
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { Verifier } = require(workerData.addon);
      (async () => {
        const v = new Verifier({ issuer: workerData.issuer, jwksUri: workerData.jwksUri, tokenCache: false });
        await v.ready();
        await new Promise((r) => setImmediate(r));
        let sub = null;
        v.verify(workerData.token).then((r) => (sub = r.payload.sub));
        for (let i = 0; i < 5; i++) await null;
        v.close();
        parentPort.postMessage({ sub });
      })().catch((e) => parentPort.postMessage({ error: e.code }));
    `;
    const [token] = tokens(1, 'worker');
    const message = await new Promise((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData: { addon, issuer: ISSUER, jwksUri: srv.url, token } });
      w.once('message', resolve);
      w.once('error', reject);
    });
    assert.deepEqual(message, { sub: 'worker-0' });
  });
});
