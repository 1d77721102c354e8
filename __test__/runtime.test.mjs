// The addon in the runtimes users run it in: worker threads, a process that never calls close(), and the package
// loaded by name from ESM and from CommonJS.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateKey, signJwt, toJwks } from './support/keys.mjs';
import { startJwksServer } from './support/jwks-server.mjs';
import { clockNow } from './support/expect.mjs';
import { runNode } from './support/run-node.mjs';

const ADDON = fileURLToPath(new URL('../index.js', import.meta.url));
const { Verifier } = createRequire(import.meta.url)(ADDON);

const ISSUER = 'https://issuer.runtime.test';
const key = generateKey('ES256');

function token(sub) {
  const iat = clockNow();
  return signJwt(key, { iss: ISSUER, sub, iat, exp: iat + 300 });
}

/** Runs `code` (CommonJS) in a worker; resolves `{ messages, exitCode }`, fails after `ms`. */
function runWorker(code, workerData, { ms = 20_000, onMessage } = {}) {
  return new Promise((resolve, reject) => {
    const messages = [];
    const worker = new Worker(code, { eval: true, workerData });
    const timer = setTimeout(() => {
      worker.terminate();
      reject(new Error(`worker still running after ${ms} ms`));
    }, ms);
    worker.on('message', (m) => {
      messages.push(m);
      onMessage?.(m, worker);
    });
    worker.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    worker.on('exit', (exitCode) => {
      clearTimeout(timer);
      resolve({ messages, exitCode });
    });
  });
}

const VERIFY_IN_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { Verifier } = require(workerData.addon);
(async () => {
  const v = new Verifier({ issuer: workerData.issuer, jwksUri: workerData.jwksUri });
  const subs = [];
  for (const t of workerData.tokens) subs.push((await v.verify(t)).payload.sub);
  subs.push(v.verifySync(workerData.tokens[0]).payload.sub);
  v.close();
  parentPort.postMessage({ subs });
})().catch((e) => parentPort.postMessage({ error: { code: e.code, message: e.message } }));
`;

const LOOP_IN_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { Verifier } = require(workerData.addon);
(async () => {
  const v = new Verifier({ issuer: workerData.issuer, jwksUri: workerData.jwksUri });
  await v.verify(workerData.tokens[0]);
  parentPort.postMessage({ started: true });
  for (let i = 0; i < 1000000; i++) await v.verify(workerData.tokens[i % workerData.tokens.length]);
  parentPort.postMessage({ finished: true });
})().catch((e) => parentPort.postMessage({ error: { code: e.code, message: e.message } }));
`;

describe('worker_threads', () => {
  let srv;
  before(async () => {
    srv = await startJwksServer({ jwks: toJwks(key) });
  });
  after(() => srv.close());

  const data = (name) => ({
    addon: ADDON,
    issuer: ISSUER,
    jwksUri: srv.url,
    tokens: Array.from({ length: 20 }, (_, i) => token(`${name}-${i}`)),
  });

  test('two workers and the main thread verify at the same time', async () => {
    const inputs = [data('w1'), data('w2')];
    const main = new Verifier({ issuer: ISSUER, jwksUri: srv.url });
    try {
      const mainTokens = data('main').tokens;
      const [w1, w2, mainSubs] = await Promise.all([
        runWorker(VERIFY_IN_WORKER, inputs[0]),
        runWorker(VERIFY_IN_WORKER, inputs[1]),
        Promise.all(mainTokens.map(async (t) => (await main.verify(t)).payload.sub)),
      ]);
      for (const [i, w] of [w1, w2].entries()) {
        assert.equal(w.exitCode, 0);
        assert.equal(w.messages.length, 1);
        assert.equal(w.messages[0].error, undefined, JSON.stringify(w.messages[0].error));
        const expected = inputs[i].tokens.map((_, j) => `w${i + 1}-${j}`);
        assert.deepEqual(w.messages[0].subs, [...expected, expected[0]]);
      }
      assert.deepEqual(
        mainSubs,
        mainTokens.map((_, j) => `main-${j}`),
      );
      // The addon still works in a new worker after the first ones exited (it stays loaded).
      const again = await runWorker(VERIFY_IN_WORKER, data('w3'));
      assert.equal(again.exitCode, 0);
      assert.equal(again.messages[0].error, undefined, JSON.stringify(again.messages[0].error));
      assert.equal(again.messages[0].subs.length, 21);
      assert.equal((await main.verify(token('main-after'))).payload.sub, 'main-after');
    } finally {
      main.close();
    }
  });

  test('terminating a worker in the middle of verifications does not take the process down', async () => {
    const result = await runWorker(LOOP_IN_WORKER, data('busy'), {
      onMessage: (m, worker) => {
        if (m.started) setTimeout(() => worker.terminate(), 20);
      },
    });
    assert.equal(result.messages[0].error, undefined, JSON.stringify(result.messages[0].error));
    assert.deepEqual(result.messages[0], { started: true });
    assert.notEqual(result.exitCode, 0, 'the worker was terminated, not finished');
    const v = new Verifier({ issuer: ISSUER, jwksUri: srv.url });
    try {
      assert.equal((await v.verify(token('after-terminate'))).payload.sub, 'after-terminate');
    } finally {
      v.close();
    }
  });
});

describe('process lifetime', () => {
  let dir;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'jwks-verify-runtime-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /**
   * Runs `script` (an ES module that gets ADDON, ISSUER, JWKS_URI and TOKEN in its environment) against a fresh
   * JWKS server; asserts that it exits by itself with code 0 within 5 s; returns its trimmed stdout and the server.
   */
  async function runToExit(name, script) {
    const srv = await startJwksServer({ jwks: toJwks(key) });
    try {
      const file = path.join(dir, name);
      await writeFile(
        file,
        `import { createRequire } from 'node:module';
const { Verifier } = createRequire(import.meta.url)(process.env.ADDON);
${script}`,
      );
      const run = await runNode([file], { env: { ADDON, ISSUER, JWKS_URI: srv.url, TOKEN: token('child') } });
      assert.equal(run.signal, null, `killed: still running after 20 s; stderr: ${run.stderr}`);
      assert.equal(run.code, 0, run.stderr);
      assert.ok(run.ms < 5000, `the child took ${run.ms} ms to exit`);
      return { stdout: run.stdout.trim(), requests: srv.count };
    } finally {
      await srv.close();
    }
  }

  test('a process that verified through a remote JWKS and never called close() exits by itself', async () => {
    const { stdout, requests } = await runToExit(
      'no-close.mjs',
      `const v = new Verifier({ issuer: process.env.ISSUER, jwksUri: process.env.JWKS_URI, cache: { maxAge: '1h' } });
const { payload } = await v.verify(process.env.TOKEN);
v.verifySync(process.env.TOKEN);
console.log(JSON.stringify({ sub: payload.sub }));
`,
    );
    assert.deepEqual(JSON.parse(stdout), { sub: 'child' });
    assert.equal(requests, 1);
  });

  test('a process whose verifySync only started a background load exits by itself', async () => {
    const { stdout } = await runToExit(
      'sync-only.mjs',
      `const v = new Verifier({ issuer: process.env.ISSUER, jwksUri: process.env.JWKS_URI });
try { v.verifySync(process.env.TOKEN); console.log('verified?'); } catch (e) { console.log(e.code); }
`,
    );
    assert.equal(stdout, 'ERR_JWKS_NOT_LOADED');
  });
});

describe('loading the package by name', () => {
  const localKeys = JSON.stringify(toJwks(key));
  const env = () => ({ KEYS: localKeys, ISSUER, TOKEN: token('by-name') });
  const body = `
const v = new Verifier({ issuer: process.env.ISSUER, keys: JSON.parse(process.env.KEYS) });
const viaFactory = createVerifier({ issuer: process.env.ISSUER, keys: JSON.parse(process.env.KEYS) });
const a = await v.verify(process.env.TOKEN);
const b = viaFactory.verifySync(process.env.TOKEN);
v.close(); viaFactory.close();
console.log(JSON.stringify({ a: a.payload.sub, b: b.payload.sub, clock: typeof advanceClockForTests, testClock: typeof TestClock }));
`;

  test("import { Verifier } from 'jwks-verify' works from ESM (exports map, self-reference)", async () => {
    const code = `import * as pkg from 'jwks-verify';\nconst { Verifier, createVerifier, advanceClockForTests, TestClock } = pkg;\n${body}`;
    const run = await runNode(['--input-type=module', '-e', code], { env: env() });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { a: 'by-name', b: 'by-name', clock: 'undefined', testClock: 'function' });
  });

  test("require('jwks-verify') works from CommonJS", async () => {
    const code = `const { Verifier, createVerifier, advanceClockForTests, TestClock } = require('jwks-verify');\n(async () => {${body}})().catch((e) => { console.error(e); process.exit(1); });`;
    const run = await runNode(['-e', code], { env: env() });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { a: 'by-name', b: 'by-name', clock: 'undefined', testClock: 'function' });
  });

  test("the exports map names lib/load.js and index.d.ts for the root; it exports napi's index.js, with lib/verifier.js's Verifier", () => {
    const require = createRequire(import.meta.url);
    const pkg = require('../package.json');
    assert.equal(pkg.name, 'jwks-verify');
    assert.deepEqual(pkg.exports['.'], { types: './index.d.ts', default: './lib/load.js' });
    assert.equal(pkg.main, 'lib/load.js');
    assert.equal(require.resolve('jwks-verify'), fileURLToPath(new URL('../lib/load.js', import.meta.url)));
    const face = require('jwks-verify');
    const addon = require(ADDON);
    const wrapper = require('../lib/verifier.js');
    assert.deepEqual(Object.keys(face).sort(), Object.keys(addon).sort(), 'the same names');
    for (const name of Object.keys(addon)) {
      const want = name === 'Verifier' || name === 'createVerifier' ? wrapper[name] : addon[name];
      assert.equal(face[name], want, name);
    }
    assert.equal(Object.getPrototypeOf(face.Verifier), addon.Verifier, "lib/verifier.js's Verifier extends napi's");
  });
});
