// One key cache per JWKS URL for the whole process: the main thread and worker threads that name
// the same URL share it, so the provider sees one fetch, not one per thread.
import test from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { Verifier } from '../index.js';
import { generateKey, signJwt, toJwks, now } from './support/keys.mjs';
import { startJwksServer } from './support/jwks-server.mjs';

const ISSUER = 'https://issuer.shared-cache.test';
const addonUrl = new URL('../index.js', import.meta.url).href;

/** Runs a worker that verifies `tokens` against `jwksUri`; resolves its list of `sub`s. */
function verifyInWorker(jwksUri, tokens) {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { Verifier } = require(${JSON.stringify(new URL(addonUrl).pathname)});
    const v = new Verifier({ issuer: workerData.issuer, jwksUri: workerData.jwksUri, tokenCache: false });
    Promise.all(workerData.tokens.map((t) => v.verify(t)))
      .then((rs) => parentPort.postMessage({ subs: rs.map((r) => r.payload.sub) }))
      .catch((e) => parentPort.postMessage({ error: e.code + ' ' + e.message }));
  `;
  const worker = new Worker(source, { eval: true, workerData: { issuer: ISSUER, jwksUri, tokens } });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('worker timed out')), 10_000);
    worker.once('message', (m) => {
      clearTimeout(timer);
      worker.terminate().then(() => (m.error ? reject(new Error(m.error)) : resolve(m.subs)));
    });
    worker.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

test('the main thread and two workers on one JWKS URL make one fetch together', async (t) => {
  const key = generateKey('ES256');
  const server = await startJwksServer({ jwks: toJwks(key) });
  t.after(() => server.close());
  const token = (sub) => signJwt(key, { iss: ISSUER, sub, exp: now() + 600 });

  const main = new Verifier({ issuer: ISSUER, jwksUri: server.url });
  t.after(() => main.close());
  assert.equal((await main.verify(token('main'))).payload.sub, 'main');
  assert.equal(server.count, 1);

  const [a, b] = await Promise.all([verifyInWorker(server.url, [token('a1'), token('a2')]), verifyInWorker(server.url, [token('b1')])]);
  assert.deepEqual(a, ['a1', 'a2']);
  assert.deepEqual(b, ['b1']);
  assert.equal(server.count, 1, 'workers used the keys the main thread had already fetched');
});
