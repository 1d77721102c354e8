// Issue 14, "the first hour of a new user": the packed tarball in a fresh project, met as a new user meets it.
//  1. TypeScript 7 and 5.9, in a project `tsc --init` made, compile strict files that import only a subpath.
//  2. The README's "call the verifier yourself" snippet, run as it stands, answers as RFC 6750 asks.
//  4. Without an addon for the machine, `require('jwks-verify')` names the platform and what to do.
//  6. The package describes itself: LICENSE, repository/homepage/bugs, README links that work outside the repository.
// Offline and on loopback only (support/pack.mjs installs the tarball --offline).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateKey, signJwt, toJwks, now } from './support/keys.mjs';
import { startJwksServer, listenOnLoopback, sendJson } from './support/jwks-server.mjs';
import { runNode, startNode, PACKAGE_ROOT } from './support/run-node.mjs';
import { packWorkspace, packTarball, installTarball, sh, TSC } from './support/pack.mjs';

const REPO = 'https://github.com/jwks-verify/jwks-verify';
const ws = packWorkspace('jwks-verify-first-hour');
let pack; // { ok, reason, tgz, files }
let consumer; // { app, installed }

before(async () => {
  pack = await packTarball(ws);
  if (pack.ok) consumer = await installTarball(ws, pack.tgz, { link: ['express', 'fastify', '@types/node', '@types/express'] });
});

after(() => ws.cleanup());

/** Files of a new TypeScript user, each importing one subpath of jwks-verify and nothing else. */
const SUBPATH_ONLY = {
  'express-only.mts': `import authenticate, { parseAuthorization, failureAnswer, requireScope } from 'jwks-verify/express';

export const middleware = authenticate({ issuer: 'https://id.example.com/', audience: 'orders-api' });
export const orders = requireScope('orders:read');
const parsed = parseAuthorization('bearer abc');
export const token: string | undefined = parsed.token;
export const status: number | undefined = failureAnswer(new Error('boom'))?.status;
`,
  'apollo-only.mts': `import authContext, { requireScope } from 'jwks-verify/apollo';

export const context = authContext({ issuer: 'https://id.example.com/', audience: 'orders-api' });
export async function me(ctx: Awaited<ReturnType<typeof context>>): Promise<unknown> {
  return requireScope(ctx, 'orders:read').payload.sub;
}
`,
  'fastify-only.mts': `import jwksVerify from 'jwks-verify/fastify';

export const plugin: typeof jwksVerify = jwksVerify;
`,
};

test('1. TypeScript 7 and 5.9 compile strict files importing only jwks-verify/express, /apollo or /fastify', async (t) => {
  if (!pack.ok) return t.skip(pack.reason);
  for (const [version, tsc] of Object.entries(TSC)) {
    const dir = join(consumer.app, `ts-${version}`);
    mkdirSync(dir);
    // the tsconfig.json a new project gets from this TypeScript (TypeScript 7's has `types: []`: no @types by itself)
    const init = await sh(process.execPath, [tsc, '--init'], { cwd: dir });
    assert.equal(init.code, 0, `tsc ${version} --init: ${init.stdout}${init.stderr}`);
    for (const [file, text] of Object.entries(SUBPATH_ONLY)) writeFileSync(join(dir, file), text);
    const files = Object.keys(SUBPATH_ONLY);
    writeFileSync(join(dir, 'as-made.json'), JSON.stringify({ extends: './tsconfig.json', compilerOptions: { noEmit: true }, files }));
    // the same, with the shipped declarations checked too
    writeFileSync(
      join(dir, 'lib-checked.json'),
      JSON.stringify({ extends: './tsconfig.json', compilerOptions: { noEmit: true, skipLibCheck: false }, files }),
    );
    for (const project of ['as-made.json', 'lib-checked.json']) {
      const run = await sh(process.execPath, [tsc, '-p', project], { cwd: dir });
      assert.equal(run.code, 0, `TypeScript ${version}, ${project}: ${run.stdout}${run.stderr}`);
    }
  }
});

/** The README's "call the verifier yourself" snippet, from the README the package ships. */
function readmeSnippet() {
  const readme = readFileSync(join(consumer.installed, 'README.md'), 'utf8');
  const m = /<!-- This snippet runs as it stands in __test__\/first-hour\.test\.mjs[^>]*-->\n```js\n([\s\S]*?)\n```\n/.exec(readme);
  assert.ok(m, 'the README marks the snippet this test runs');
  return m[1];
}

/** `text` with each `[from, to]` replaced; every `from` must occur exactly once. */
function replaceOnce(text, replacements) {
  for (const [from, to] of replacements) {
    assert.equal(text.split(from).length, 2, `the snippet has ${from} exactly once`);
    text = text.replace(from, to);
  }
  return text;
}

test("2. the README's call-the-verifier-yourself snippet answers per RFC 6750 (scheme in any case, 401/400/503/500)", async (t) => {
  if (!pack.ok) return t.skip(pack.reason);
  const key = generateKey('RS256');
  const provider = await startJwksServer({ jwks: toJwks(key) });
  t.after(() => provider.close());
  const issuer = `${provider.origin}/`;
  provider.route('/.well-known/openid-configuration', (req, res) => sendJson(res, { issuer, jwks_uri: provider.url }));
  // a port that was free a moment ago, for the snippet's app.listen
  const probe = await listenOnLoopback(() => {});
  await probe.close();
  // Only the issuer and the port change: what a user does with the snippet.
  const snippet = replaceOnce(readmeSnippet(), [
    ["'https://id.example.com/'", JSON.stringify(issuer)],
    ['app.listen(3000)', `app.listen(${probe.port}, '127.0.0.1')`],
  ]);
  writeFileSync(join(consumer.app, 'readme-snippet.mjs'), snippet);
  // A bug, simulated: verify() rejects with an error that is neither about the token nor the provider.
  writeFileSync(
    join(consumer.app, 'simulate-bug.mjs'),
    `import { Verifier } from 'jwks-verify';
const verify = Verifier.prototype.verify;
Verifier.prototype.verify = function (token) {
  return token === 'simulated.bug' ? Promise.reject(new TypeError('a bug')) : verify.call(this, token);
};
`,
  );
  const base = `http://127.0.0.1:${probe.port}`;
  provider.setMode({ type: 'status', status: 503, headers: { 'retry-after': '1' } });
  const { child } = await startNode(['--import', './simulate-bug.mjs', 'readme-snippet.mjs'], {
    cwd: consumer.app,
    ready: () =>
      fetch(`${base}/api/orders`).then(
        () => true,
        () => false,
      ),
  });
  t.after(() => child.kill('SIGKILL'));
  const get = async (authorization) => {
    const res = await fetch(`${base}/api/orders`, { headers: authorization === undefined ? {} : { authorization } });
    return { status: res.status, headers: res.headers, body: await res.json().catch(() => null) };
  };
  const t0 = now();
  const token = signJwt(key, { iss: issuer, aud: 'orders-api', sub: 'erin', iat: t0, exp: t0 + 300 });

  // the provider rate-limits: 503 with Retry-After, never 401
  const limited = await get(`Bearer ${token}`);
  assert.equal(limited.status, 503, JSON.stringify(limited.body));
  assert.equal(limited.headers.get('retry-after'), '1');
  assert.equal(limited.body.code, 'ERR_JWKS_RATE_LIMITED');
  provider.setMode({ type: 'ok' });
  await sleep(1_500); // the Retry-After and the first backoff (1 s) pass

  for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
    const ok = await get(`${scheme} ${token}`);
    assert.equal(ok.status, 200, `${scheme}: ${JSON.stringify(ok.body)}`);
    assert.deepEqual(ok.body, { user: 'erin' });
  }

  const none = await get(undefined);
  assert.equal(none.status, 401);
  assert.equal(none.headers.get('www-authenticate'), 'Bearer', 'no credentials: a bare challenge (RFC 6750 section 3)');
  assert.doesNotMatch(JSON.stringify(none.body), /ERR_JWS_INVALID/);

  for (const header of ['Basic Zm9vOmJhcg==', 'Bearer', 'Bearer a b']) {
    const malformed = await get(header);
    assert.equal(malformed.status, 400, header);
    assert.match(malformed.headers.get('www-authenticate'), /^Bearer error="invalid_request", error_description="/, header);
  }

  const expired = await get(`Bearer ${signJwt(key, { iss: issuer, aud: 'orders-api', sub: 'erin', exp: t0 - 60 })}`);
  assert.equal(expired.status, 401);
  assert.match(expired.headers.get('www-authenticate'), /^Bearer error="invalid_token", error_description="/);
  assert.equal(expired.body.code, 'ERR_JWT_EXPIRED');
  const stranger = await get(`Bearer ${signJwt(key, { iss: issuer, aud: 'another-api', sub: 'erin', exp: t0 + 300 })}`);
  assert.equal(stranger.status, 401);
  assert.equal(stranger.body.code, 'ERR_JWT_CLAIM_VALIDATION_FAILED');

  const bug = await get('Bearer simulated.bug');
  assert.equal(bug.status, 500, 'an error about neither the token nor the provider is a server error');
});

/** A project whose jwks-verify is the installed copy without its addon (`edit` may change its package.json). */
function projectWithoutAddon(name, edit = (pkg) => pkg) {
  const app = join(ws.dir, name);
  const copy = join(app, 'node_modules', 'jwks-verify');
  cpSync(consumer.installed, copy, { recursive: true, filter: (src) => !src.endsWith('.node') });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }));
  const pkgPath = join(copy, 'package.json');
  writeFileSync(pkgPath, JSON.stringify(edit(JSON.parse(readFileSync(pkgPath, 'utf8')))));
  return app;
}

/** What requiring (or importing) `specifier` there throws: `{ message, cause }`. */
async function loadError(app, code) {
  const run = await runNode(
    ['-e', `${code}.then(() => console.log('{}'), (e) => console.log(JSON.stringify({ message: e.message, cause: e.cause?.message })))`],
    {
      cwd: app,
    },
  );
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout);
}

test('4. without an addon for this machine, require/import say which platform and what to do', async (t) => {
  if (!pack.ok) return t.skip(pack.reason);
  const host = `${process.platform}-${process.arch}`;
  // a platform with a prebuilt addon, whose optional package npm did not install
  const missing = projectWithoutAddon('no-addon');
  for (const code of [
    "Promise.resolve().then(() => require('jwks-verify'))",
    "import('jwks-verify')",
    "Promise.resolve().then(() => require('jwks-verify/express')({ issuer: 'https://id.example/' }))",
  ]) {
    const err = await loadError(missing, code);
    assert.ok(err.message, `${code} fails`);
    assert.match(err.message, new RegExp(`no native addon for this machine: ${host}`), code);
    assert.match(err.message, new RegExp(`optional dependency jwks-verify-${host}`), code);
    assert.match(err.message, /--omit=optional/);
    assert.match(err.message, /`npm install`/);
    assert.doesNotMatch(err.message, /npm has a bug/);
    assert.match(err.cause, /Cannot find native binding/, "napi's own error is the cause");
  }
  // a platform without one: build from source
  const other = projectWithoutAddon('no-prebuilt', (pkg) => ({ ...pkg, napi: { ...pkg.napi, targets: ['s390x-unknown-linux-gnu'] } }));
  const err = await loadError(other, "Promise.resolve().then(() => require('jwks-verify'))");
  assert.match(err.message, new RegExp(`No prebuilt addon is published for ${host}[\\w-]*; there are for linux-s390x-gnu`));
  assert.ok(err.message.includes(`git clone ${REPO}`), err.message);
  assert.match(err.message, /npm install && npm run build && npm pack/);
  assert.ok(err.message.includes(`${REPO}/issues`), err.message);
  // and the CLI's decode still works: it needs no addon
  const decode = await runNode(
    [join(other, 'node_modules', 'jwks-verify', 'bin', 'jwks-verify.js'), 'decode', signJwt(generateKey('ES256'), { sub: 'x' })],
    { cwd: other },
  );
  assert.equal(decode.code, 0, decode.stderr);
});

test('6. the package describes itself: LICENSE, repository, homepage, bugs; README links work outside the repository', (t) => {
  if (!pack.ok) return t.skip(pack.reason);
  assert.ok(pack.files.includes('LICENSE'), `LICENSE in the tarball: ${pack.files.join(', ')}`);
  assert.match(readFileSync(join(consumer.installed, 'LICENSE'), 'utf8'), /^MIT License\n/);
  const pkg = JSON.parse(readFileSync(join(consumer.installed, 'package.json'), 'utf8'));
  assert.equal(pkg.license, 'MIT');
  assert.deepEqual(pkg.repository, { type: 'git', url: `git+${REPO}.git` });
  assert.equal(pkg.homepage, `${REPO}#readme`);
  assert.deepEqual(pkg.bugs, { url: `${REPO}/issues` });

  const readme = readFileSync(join(consumer.installed, 'README.md'), 'utf8');
  for (const [, target] of readme.matchAll(/\]\(([^)\s]+)\)/g)) {
    assert.match(target, /^(https?:\/\/|#)/, `README link ${target} must be absolute: the package has no docs/ or examples/`);
    const inRepo = /^https:\/\/github\.com\/jwks-verify\/jwks-verify\/(?:blob|tree)\/main\/([^#?]+)/.exec(target);
    if (inRepo) assert.ok(existsSync(join(PACKAGE_ROOT, inRepo[1])), `README link ${target}: ${inRepo[1]} exists in the repository`);
  }
  // npm users first: install and use at the top; the contributor's clone at the end, with the two commands CI reads
  const headings = [...readme.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
  assert.deepEqual(headings.slice(0, 2), ['Install', 'Use it'], `headings: ${headings.join(' | ')}`);
  assert.equal(headings.at(-1), 'Develop (quick start from a clone)');
  const develop = readme.slice(readme.indexOf('\n## Develop'));
  assert.match(develop, /```sh\nnpm install && npm run demo\nnpm test\n```/);
});
