// The published package: `npm pack`, then install the tarball into a fresh project and use it end to end.
// Hermetic: the tarball has no dependencies and is installed --offline with a private npm cache; Express (and the
// TypeScript types) come from this checkout's node_modules through symlinks (support/pack.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { generateKey, signJwt, toJwks, now } from './support/keys.mjs';
import { startJwksServer } from './support/jwks-server.mjs';
import { startNode } from './support/run-node.mjs';
import { packWorkspace, packTarball, installTarball, sh, TSC } from './support/pack.mjs';

const ws = packWorkspace('jwks-verify-pack');
let pack; // { ok, reason, tgz, files }

before(async () => {
  pack = await packTarball(ws);
});

after(() => ws.cleanup());

test('the tarball ships the addon and the entry points, and nothing of the sources or tests', (t) => {
  if (!pack.ok) return t.skip(pack.reason);
  const files = pack.files;
  assert.ok(
    files.some((f) => /^[^/]+\.node$/.test(f)),
    `a .node addon at the top level: ${files.join(', ')}`,
  );
  for (const f of [
    'package.json',
    'index.js',
    'index.d.ts',
    'lib/express.js',
    'lib/express.d.ts',
    'lib/fastify.js',
    'lib/fastify.d.ts',
    'lib/apollo.js',
    'lib/apollo.d.ts',
    'lib/load.js',
    'lib/verifier.js',
    'bin/jwks-verify.js',
  ]) {
    assert.ok(files.includes(f), `${f} is in the tarball`);
  }
  for (const f of files) {
    assert.doesNotMatch(f, /^(src|crates|__test__|target|bench|examples|node_modules|\.cargo|\.ci)\//, `${f} must not be shipped`);
    assert.doesNotMatch(f, /\.(rs|tgz)$|^Cargo\./, `${f} must not be shipped`);
  }
});

test('installed from the tarball into a fresh project: an Express app through jwks-verify/express, the CLI, the types', async (t) => {
  if (!pack.ok) return t.skip(pack.reason);
  const { app, installed } = await installTarball(ws, pack.tgz, { link: ['express', '@types/node', '@types/express'] });
  assert.ok(existsSync(join(installed, 'lib', 'express.js')));
  assert.ok(!existsSync(join(installed, 'src')), 'no sources installed');

  writeFileSync(
    join(app, 'server.mjs'),
    `import express from 'express';
import { createRequire } from 'node:module';
import { createVerifier } from 'jwks-verify';
import { authenticate, requireScope } from 'jwks-verify/express';
const require = createRequire(import.meta.url);
const verifier = createVerifier({ issuer: process.env.ISSUER, audience: 'consumer-api', jwksUri: process.env.JWKS_URI });
const app = express();
app.use('/api', authenticate({ verifier }));
app.get('/api/me', (req, res) => res.json({ sub: req.auth.payload.sub }));
app.get('/api/admin', requireScope('admin'), (req, res) => res.json({ ok: true }));
const server = app.listen(0, '127.0.0.1', () => {
  console.log('READY ' + JSON.stringify({ port: server.address().port, resolved: require.resolve('jwks-verify/express') }));
});
process.on('SIGTERM', () => { server.close(); verifier.close(); server.closeAllConnections(); });
`,
  );

  const key = generateKey('RS256');
  const jwks = await startJwksServer({ jwks: toJwks(key) });
  t.after(() => jwks.close());
  const issuer = 'https://consumer-issuer.test/';
  const { child, value: ready } = await startNode(['server.mjs'], {
    cwd: app,
    env: { ISSUER: issuer, JWKS_URI: jwks.url },
    ready: ({ stdout }) => {
      const m = /READY (.*)\n/.exec(stdout);
      return m && JSON.parse(m[1]);
    },
  });
  t.after(() => child.kill('SIGKILL'));
  assert.ok(
    realpathSync(ready.resolved).startsWith(realpathSync(installed)),
    `jwks-verify/express resolved from the installed copy: ${ready.resolved}`,
  );
  const base = `http://127.0.0.1:${ready.port}`;
  const t0 = now();
  const token = signJwt(key, { iss: issuer, aud: 'consumer-api', sub: 'erin', iat: t0, exp: t0 + 120 });
  const ok = await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { sub: 'erin' });
  const forbidden = await fetch(`${base}/api/admin`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(forbidden.status, 403);
  const missing = await fetch(`${base}/api/me`);
  assert.equal(missing.status, 401);
  assert.equal(missing.headers.get('www-authenticate'), 'Bearer');
  const expired = await fetch(`${base}/api/me`, {
    headers: { authorization: `Bearer ${signJwt(key, { iss: issuer, aud: 'consumer-api', sub: 'erin', exp: t0 - 60 })}` },
  });
  assert.equal(expired.status, 401);
  assert.match(expired.headers.get('www-authenticate'), /error="invalid_token"/);
  assert.ok(jwks.count >= 1, 'the installed addon fetched the JWKS');

  // the bin is linked and runs
  const bin = join(app, 'node_modules', '.bin', 'jwks-verify');
  const decoded = await sh(bin, ['decode', token], { cwd: app, env: ws.env });
  assert.equal(decoded.code, 0, decoded.stderr);
  assert.match(decoded.stdout, /UNVERIFIED/);
  assert.match(decoded.stdout, /"sub": "erin"/);
  const verified = await sh(bin, ['verify', token, '--issuer', issuer, '--jwks-uri', jwks.url, '--json'], { cwd: app, env: ws.env });
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  assert.equal(JSON.parse(verified.stdout).payload.sub, 'erin');

  // the shipped declarations type-check a consumer (NodeNext, strict, the .d.ts files checked too)
  writeFileSync(
    join(app, 'check.mts'),
    `import express from 'express';
import { createVerifier } from 'jwks-verify';
import authenticate, { requireScope } from 'jwks-verify/express';
const app = express();
app.use(authenticate({ verifier: createVerifier({ issuer: 'https://id.example/' }) }));
app.get('/', requireScope('a'), (req, res) => { const sub: unknown = req.auth?.payload.sub; res.json({ sub }); });
`,
  );
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        strict: true,
        noEmit: true,
        types: ['node'],
        skipLibCheck: false,
      },
      files: ['check.mts'],
    }),
  );
  const tsc = await sh(process.execPath, [TSC['5.9'], '-p', 'tsconfig.json'], { cwd: app });
  assert.equal(tsc.code, 0, `tsc: ${tsc.stdout}${tsc.stderr}`);
});
