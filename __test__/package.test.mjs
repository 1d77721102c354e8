// The published package: `npm pack`, then install the tarball into a fresh project and use it end to end.
// Hermetic: the tarball has no dependencies and is installed --offline with a private npm cache; Express (and the
// TypeScript types) come from this checkout's node_modules through symlinks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, symlinkSync, existsSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateKey, signJwt, toJwks, now } from './support/keys.mjs';
import { startJwksServer } from './support/jwks-server.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NODE_MODULES = join(ROOT, 'node_modules');
const work = mkdtempSync(join(tmpdir(), 'jwks-verify-pack-'));
const env = {
  ...process.env,
  npm_config_cache: join(work, 'npm-cache'),
  npm_config_offline: 'true',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
  npm_config_loglevel: 'error',
};

function sh(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: 120_000, maxBuffer: 32 << 20, encoding: 'utf8', ...opts }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr, err });
    });
  });
}

let pack; // { ok, reason, tgz, files }

before(async () => {
  const r = await sh('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: ROOT });
  if (r.code !== 0 || r.err?.code === 'ENOENT') {
    pack = { ok: false, reason: `npm pack is not possible here: ${(r.stderr || r.err?.message || '').trim().split('\n')[0]}` };
    return;
  }
  const [info] = JSON.parse(r.stdout);
  pack = { ok: true, tgz: join(work, info.filename), files: info.files.map((f) => f.path) };
});

after(() => {
  rmSync(work, { recursive: true, force: true });
});

test('the tarball ships the addon and the entry points, and nothing of the sources or tests', (t) => {
  if (!pack.ok) return t.skip(pack.reason);
  const files = pack.files;
  assert.ok(files.some((f) => /^[^/]+\.node$/.test(f)), `a .node addon at the top level: ${files.join(', ')}`);
  for (const f of ['package.json', 'index.js', 'index.d.ts', 'lib/express.js', 'lib/express.d.ts', 'lib/fastify.js', 'lib/fastify.d.ts', 'lib/apollo.js', 'lib/apollo.d.ts', 'bin/jwks-verify.js']) {
    assert.ok(files.includes(f), `${f} is in the tarball`);
  }
  for (const f of files) {
    assert.doesNotMatch(f, /^(src|crates|__test__|target|bench|examples|node_modules|\.cargo|\.ci)\//, `${f} must not be shipped`);
    assert.doesNotMatch(f, /\.(rs|tgz)$|^Cargo\./, `${f} must not be shipped`);
  }
});

test('installed from the tarball into a fresh project: an Express app through jwks-verify/express, the CLI, the types', async (t) => {
  if (!pack.ok) return t.skip(pack.reason);
  const app = join(work, 'consumer');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
  const install = await sh('npm', ['install', '--no-package-lock', '--ignore-scripts', pack.tgz], { cwd: app });
  assert.equal(install.code, 0, `npm install of the tarball: ${install.stderr}`);
  const installed = join(app, 'node_modules', 'jwks-verify');
  assert.ok(existsSync(join(installed, 'lib', 'express.js')));
  assert.ok(!existsSync(join(installed, 'src')), 'no sources installed');
  // Express and the types from this checkout (no registry needed)
  for (const dep of ['express', '@types/node', '@types/express']) {
    const target = join(NODE_MODULES, dep);
    const link = join(app, 'node_modules', dep);
    mkdirSync(join(link, '..'), { recursive: true });
    if (!existsSync(link)) symlinkSync(target, link, 'dir');
  }

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
  const child = spawn(process.execPath, ['server.mjs'], {
    cwd: app,
    env: { ...process.env, ISSUER: issuer, JWKS_URI: jwks.url },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const ready = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the consumer app did not start: ${stderr}`)), 20_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /READY (.*)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(JSON.parse(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the consumer app exited with ${code}: ${stderr}`));
    });
  });
  assert.ok(realpathSync(ready.resolved).startsWith(realpathSync(installed)), `jwks-verify/express resolved from the installed copy: ${ready.resolved}`);
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
  const decoded = await sh(bin, ['decode', token], { cwd: app });
  assert.equal(decoded.code, 0, decoded.stderr);
  assert.match(decoded.stdout, /UNVERIFIED/);
  assert.match(decoded.stdout, /"sub": "erin"/);
  const verified = await sh(bin, ['verify', token, '--issuer', issuer, '--jwks-uri', jwks.url, '--json'], { cwd: app });
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
    JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, types: ['node'], skipLibCheck: false }, files: ['check.mts'] }),
  );
  const tsc = await sh(process.execPath, [join(NODE_MODULES, 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: app });
  assert.equal(tsc.code, 0, `tsc: ${tsc.stdout}${tsc.stderr}`);
});
