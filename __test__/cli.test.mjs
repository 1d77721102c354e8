// The jwks-verify CLI (bin/jwks-verify.js) run as a child process against JWKS servers on 127.0.0.1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { explainKeys, parseDuration } from 'jwks-verify';
import { generateKey, signJwt, toJwks, now } from './support/keys.mjs';
import { startJwksServer, sendJson } from './support/jwks-server.mjs';
import { runNode } from './support/run-node.mjs';
import { addValidationEndpoint } from './support/validation-server.mjs';
import { startOidcProvider, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET } from './support/oidc.mjs';

const CLI = fileURLToPath(new URL('../bin/jwks-verify.js', import.meta.url));
const ISSUER = 'https://issuer.test/';

let rsa;
let ec;
let ed;
let srv;
const cleanups = [];

/** Runs the CLI; resolves `{ code, stdout, stderr }` (never rejects on a non-zero exit). */
const run = (args, { input } = {}) => runNode([CLI, ...args], { input, killAfterMs: 30_000 });

/** Another JWKS server publishing `keys`, closed after the suite. */
async function startServer(...keys) {
  const server = await startJwksServer({ jwks: toJwks(...keys) });
  cleanups.push(() => server.close());
  return server;
}

/** The reason the engine gives for not using `key`'s JWK. */
const engineReason = (key) => explainKeys({ keys: [key.jwk] })[0].reason;

function claims(extra = {}) {
  const t = now();
  return { iss: ISSUER, aud: 'api', sub: 'alice', iat: t, exp: t + 300, ...extra };
}

before(async () => {
  rsa = generateKey('RS256', { x5c: true, kid: 'rsa-main' });
  ec = generateKey('ES256', { kid: 'ec-side' });
  ed = generateKey('EdDSA', { kid: 'ed-x5c-only', x5cOnly: true });
  srv = await startJwksServer({ jwks: toJwks(rsa, ec, ed) });
  srv.setHeaders({ 'Cache-Control': 'max-age=120' });
  srv.route('/.well-known/openid-configuration', (req, res) => sendJson(res, { issuer: srv.origin, jwks_uri: srv.url }));
  cleanups.push(() => srv.close());
});

after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const verifyArgs = (token, ...more) => ['verify', token, '--issuer', ISSUER, '--jwks-uri', srv.url, ...more];

test('verify: a valid token prints header, payload and VALID, exit 0', async () => {
  const r = await run(verifyArgs(signJwt(rsa, claims()), '--audience', 'api'));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Header \(verified\):/);
  assert.match(r.stdout, /"kid": "rsa-main"/);
  assert.match(r.stdout, /"sub": "alice"/);
  assert.match(r.stdout, /exp {2}\d{4}-\d\d-\d\dT\S+ {2}\(in (?:4 min \d+ s|5 min)\)/);
  assert.match(r.stdout, /^VALID: signature verified with key "rsa-main" \(RS256\)/m);
});

test('verify --json: one JSON document', async () => {
  const r = await run(verifyArgs(signJwt(ec, claims()), '--json'));
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.valid, true);
  assert.equal(out.payload.sub, 'alice');
  assert.equal(out.header.alg, 'ES256');
  assert.equal(out.issuer, ISSUER);
});

test('verify: an expired token says by how much, exit 1', async () => {
  const t = now();
  const r = await run(verifyArgs(signJwt(rsa, claims({ iat: t - 1000, exp: t - 200 }))));
  assert.equal(r.code, 1);
  assert.match(r.stdout, /Header \(UNVERIFIED\):/);
  assert.match(r.stdout, /INVALID \(ERR_JWT_EXPIRED\)/);
  assert.match(r.stdout, /The token expired 3 min (?:[2-5]\d) s ago \(exp \d{4}-/);
  const json = JSON.parse((await run(verifyArgs(signJwt(rsa, claims({ iat: t - 1000, exp: t - 200 })), '--json'))).stdout);
  assert.equal(json.valid, false);
  assert.equal(json.code, 'ERR_JWT_EXPIRED');
  assert.match(json.explanation[0], /expired 3 min/);
});

test('verify: an unknown kid names the token kid and the kids of the JWKS', async () => {
  const stranger = generateKey('RS256', { kid: 'from-staging' });
  const r = await run(verifyArgs(signJwt(stranger, claims())));
  assert.equal(r.code, 1);
  assert.match(r.stdout, /ERR_JWKS_NO_MATCHING_KEY/);
  assert.match(r.stdout, /The token names kid "from-staging"/);
  assert.match(
    r.stdout,
    /has 3 keys: "rsa-main" \(RSA, RS256, use sig\), "ec-side" \(EC, ES256, use sig\), "ed-x5c-only" \(OKP, EdDSA, use sig\)/,
  );
  assert.match(r.stdout, /not in it/);
});

test('verify: a bad signature, exit 1', async () => {
  const impostor = generateKey('RS256', { kid: 'rsa-main' });
  const r = await run(verifyArgs(signJwt(impostor, claims())));
  assert.equal(r.code, 1);
  assert.match(r.stdout, /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
  assert.match(r.stdout, /does not verify with the published key "rsa-main"/);
});

test('verify: a refused algorithm is named with the accepted ones', async () => {
  const r = await run(verifyArgs(signJwt(rsa, claims()), '--algorithms', 'ES256,EdDSA'));
  assert.equal(r.code, 1);
  assert.match(r.stdout, /ERR_JOSE_ALG_NOT_ALLOWED/);
  assert.match(r.stdout, /The algorithm RS256 was refused: accepted algorithms are ES256, EdDSA/);
  const hs = signJwt({ secret: Buffer.alloc(32, 1), kid: 'rsa-main' }, claims(), { alg: 'HS256' });
  const r2 = await run(verifyArgs(hs));
  assert.equal(r2.code, 1);
  assert.match(r2.stdout, /HS256, a shared-secret algorithm/);
});

test('verify: wrong audience and wrong issuer are explained', async () => {
  const r = await run(verifyArgs(signJwt(rsa, claims({ aud: 'other-api' })), '--audience', 'api'));
  assert.equal(r.code, 1);
  assert.match(r.stdout, /The token's audience is "other-api"; expected "api"/);
  const r2 = await run(verifyArgs(signJwt(rsa, claims({ iss: 'https://issuer.test' }))));
  assert.equal(r2.code, 1);
  assert.match(r2.stdout, /issuer is "https:\/\/issuer.test"; the issuer expected is "https:\/\/issuer.test\/"/);
  assert.match(r2.stdout, /trailing "\/"/);
});

test('verify: keys unavailable (JWKS answers 500) exits 3', async () => {
  const down = await startJwksServer({ jwks: toJwks(rsa) });
  cleanups.push(() => down.close());
  down.setMode({ type: 'status', status: 500 });
  const r = await run(['verify', signJwt(rsa, claims()), '--issuer', ISSUER, '--jwks-uri', down.url, '--json']);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.code, 'ERR_JWKS_FETCH_FAILED');
  assert.match(out.explanation.join(' '), /could not be had from http:\/\/127\.0\.0\.1:\d+\/jwks\.json/);
});

test('verify: the JWKS found through discovery, and the token read from standard input', async () => {
  const token = signJwt(rsa, claims({ iss: srv.origin }));
  const r = await run(['verify', '-', '--issuer', srv.origin], { input: `Bearer ${token}\n` });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /VALID/);
});

test('usage errors exit 2', async () => {
  const token = signJwt(rsa, claims());
  for (const args of [
    ['verify', token],
    ['verify', token, '--issuer', ISSUER, '--bogus'],
    ['verify', '--issuer', ISSUER],
    ['frobnicate'],
    [],
    ['verify', token, '--issuer', ISSUER, '--jwks-uri', 'http://example.invalid/jwks.json'],
    ['verify', token, '--issuer', ISSUER, '--jwks-uri', srv.url, '--clock-tolerance', 'soon'],
  ]) {
    const r = await run(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
  }
  const typo = await run(['verify', token, '--isuer', ISSUER]);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /^jwks-verify: unknown option --isuer \(did you mean --issuer\?\)$/m);
  const missing = await run(['verify', token, '--issuer']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /option --issuer needs a value/);
  const help = await run(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Exit codes:/);
});

test('decode: header and payload, labelled UNVERIFIED', async () => {
  const token = signJwt(ec, claims({ sub: 'bob' }));
  const r = await run(['decode', token]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^UNVERIFIED/);
  assert.match(r.stdout, /Header \(UNVERIFIED\):/);
  assert.match(r.stdout, /"sub": "bob"/);
  const j = JSON.parse((await run(['decode', token, '--json'])).stdout);
  assert.equal(j.verified, false);
  assert.equal(j.payload.sub, 'bob');
  assert.equal(j.header.kid, 'ec-side');
  const bad = await run(['decode', 'only.two']);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /a compact JWS has 3 parts separated by ".", this token has 2/);
});

test('inspect <jwks-uri>: kid, kty, alg, size/curve, use, x5c subject and expiry', async () => {
  const r = await run(['inspect', srv.url]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Caching: {2}Cache-Control: max-age=120/);
  assert.match(
    r.stdout,
    /kid {4}rsa-main\n {2}kty {4}RSA\n {2}alg {4}RS256\n {2}size {3}2048 bits\n {2}use {4}sig\n {2}x5c {4}subject CN=rsa-main; expires \d{4}-/,
  );
  assert.match(r.stdout, /kid {4}ec-side\n {2}kty {4}EC\n {2}alg {4}ES256\n {2}curve {2}P-256/);
  assert.match(r.stdout, /kid {4}ed-x5c-only\n {2}kty {4}OKP\n {2}alg {4}EdDSA\n {2}curve {2}Ed25519/);
  const j = JSON.parse((await run(['inspect', srv.url, '--json'])).stdout);
  assert.equal(j.keys.length, 3);
  const byKid = Object.fromEntries(j.keys.map((k) => [k.kid, k]));
  assert.equal(byKid['rsa-main'].size, 2048);
  assert.equal(byKid['rsa-main'].x5c.subject, 'CN=rsa-main');
  assert.equal(byKid['rsa-main'].x5c.matchesKey, true);
  assert.equal(byKid['rsa-main'].x5c.expired, false);
  assert.ok(Date.parse(byKid['rsa-main'].x5c.validTo) > Date.now() + 300 * 86400e3);
  assert.equal(byKid['ec-side'].curve, 'P-256');
  assert.equal(byKid['ed-x5c-only'].curve, 'Ed25519');
  assert.equal(byKid['ed-x5c-only'].x5c.subject, 'CN=ed-x5c-only');
});

test("inspect <issuer>: the JWKS is found through discovery; an unusable key gets the engine's reason", async () => {
  const weak = generateKey('RS256', { kid: 'weak', modulusLength: 1024 });
  const enc = generateKey('ES256', { kid: 'enc', use: 'enc' });
  const other = await startServer(weak, enc);
  other.route('/.well-known/openid-configuration', (req, res) => sendJson(res, { issuer: other.origin, jwks_uri: other.url }));
  const r = await run(['inspect', other.origin]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`Issuer: {3}${other.origin}`));
  assert.match(r.stdout, /size {3}1024 bits/);
  assert.match(engineReason(weak), /1024/);
  assert.match(engineReason(enc), /enc/);
  assert.ok(r.stdout.includes(`kid    weak\n`) && r.stdout.includes(`  note   not used by jwks-verify: ${engineReason(weak)}\n`), r.stdout);
  assert.ok(r.stdout.includes(`  use    enc\n  note   not used by jwks-verify: ${engineReason(enc)}\n`), r.stdout);
  const j = JSON.parse((await run(['inspect', other.url, '--json'])).stdout);
  assert.deepEqual(
    j.keys.map((k) => [k.kid, k.usable, k.reason]),
    [
      ['weak', false, engineReason(weak)],
      ['enc', false, engineReason(enc)],
    ],
  );
  const usable = JSON.parse((await run(['inspect', srv.url, '--json'])).stdout).keys;
  assert.deepEqual(
    usable.map((k) => [k.usable, k.reason]),
    usable.map(() => [true, undefined]),
  );
  // a token naming that key: the kid is published, and the CLI says why it cannot be used
  const token = signJwt(weak, claims({ iss: other.origin }));
  const v = await run(['verify', token, '--issuer', other.origin]);
  assert.equal(v.code, 1, v.stdout + v.stderr);
  assert.match(v.stdout, /ERR_JWKS_NO_MATCHING_KEY/);
  assert.ok(v.stdout.includes(`A key "weak" is published but cannot verify this token: ${engineReason(weak)}.`), v.stdout);
});

test('verify: a token not valid yet says for how long', async () => {
  const t = now();
  const r = await run(verifyArgs(signJwt(rsa, claims({ nbf: t + 600, exp: t + 1200 }))));
  assert.equal(r.code, 1);
  assert.match(r.stdout, /ERR_JWT_CLAIM_VALIDATION_FAILED/);
  assert.match(r.stdout, /not valid yet: nbf \d{4}-[^,]+, (?:9 min \d+ s|10 min) from now/);
});

test('inspect: an unreachable endpoint exits 3; plain http to another host exits 2', async () => {
  const gone = await startJwksServer();
  const url = gone.url;
  await gone.close();
  const r = await run(['inspect', url, '--timeout', '2s']);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stderr, /cannot fetch/);
  assert.equal((await run(['inspect', 'http://example.invalid/jwks.json'])).code, 2);
});

test('inspect: a redirect from loopback to plain http elsewhere, or beyond 3 redirects, is refused: exit 3', async () => {
  const redirecting = await startServer(rsa);
  redirecting.setMode({ type: 'redirect', location: 'http://example.invalid/jwks.json' });
  const r = await run(['inspect', redirecting.url]);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /redirect refused/);
  assert.match(r.stderr, /http:\/\/example\.invalid\/jwks\.json/);

  redirecting.setMode({ type: 'redirect', location: redirecting.url });
  redirecting.reset();
  const loop = await run(['inspect', redirecting.url]);
  assert.equal(loop.code, 3, loop.stdout + loop.stderr);
  assert.match(loop.stderr, /redirect refused \(more than 3 redirects\)/);
  assert.equal(redirecting.count, 4, 'the first request and 3 redirects');
});

test('inspect: a JWKS larger than 1 MiB is refused (exit 3) without being read whole', async () => {
  const big = await startServer(rsa);
  big.setMode({ type: 'huge', bytes: 64 * 1024 * 1024, chunked: true });
  const r = await run(['inspect', big.url]);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stderr, /larger than http\.maxBytes \(1048576 bytes\)/);
  assert.ok(big.streamed < 16 * 1024 * 1024, `the server wrote ${big.streamed} of 64 MiB before the CLI hung up`);
});

test('network and token strings are printed escaped: no control character reaches the terminal', async () => {
  const evil = 'evil\x1b[31m\x07\u009b2J';
  const key = generateKey('ES256', { kid: evil });
  const weird = await startServer(key);
  weird.setHeaders({ 'Cache-Control': 'max-age=60' });
  const raw = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;
  const escaped = 'evil\\u001b[31m\\u0007\\u009b2J';

  const inspect = await run(['inspect', weird.url]);
  assert.equal(inspect.code, 0, inspect.stderr);
  assert.doesNotMatch(inspect.stdout, raw);
  assert.ok(inspect.stdout.includes(`kid    ${escaped}\n`), inspect.stdout);
  const json = await run(['inspect', weird.url, '--json']);
  assert.doesNotMatch(json.stdout, raw);
  assert.equal(JSON.parse(json.stdout).keys[0].kid, evil, '--json keeps the value, escaped the JSON way');

  // a token naming an unknown kid with control characters, claims with some: explained, escaped
  const stranger = generateKey('ES256', { kid: `${evil}-other` });
  const token = signJwt(stranger, claims({ sub: `mallory\x1b]0;title\x07`, aud: `api\x1b[2J` }));
  const verify = await run(['verify', token, '--issuer', ISSUER, '--jwks-uri', weird.url]);
  assert.equal(verify.code, 1, verify.stdout + verify.stderr);
  assert.doesNotMatch(verify.stdout, raw);
  assert.ok(verify.stdout.includes(`The token names kid "${escaped}-other"`), verify.stdout);
  assert.ok(verify.stdout.includes(`has 1 key: "${escaped}" (EC, ES256, use sig)`), verify.stdout);
  assert.ok(verify.stdout.includes('"sub": "mallory\\u001b]0;title\\u0007"'), verify.stdout);
  const decode = await run(['decode', token]);
  assert.equal(decode.code, 0);
  assert.doesNotMatch(decode.stdout, raw);

  // a failure message echoing the network on stderr: a discovery document naming a jwks_uri that is refused
  weird.route('/.well-known/openid-configuration', (req, res) =>
    sendJson(res, { issuer: weird.origin, jwks_uri: `http://example.invalid/${evil}` }),
  );
  const refused = await run(['inspect', weird.origin]);
  assert.equal(refused.code, 2, refused.stdout + refused.stderr);
  assert.ok(refused.stderr.includes(`jwks_uri: http://example.invalid/${escaped} must use https`), refused.stderr);
  assert.doesNotMatch(refused.stderr, raw);
});

test("verify --timeout 1x: a usage error with the engine's message, exit 2", async () => {
  let message;
  try {
    parseDuration('1x', '--timeout');
  } catch (err) {
    message = err.message;
  }
  assert.match(message, /--timeout/);
  const r = await run(verifyArgs(signJwt(rsa, claims()), '--timeout', '1x'));
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.ok(r.stderr.includes(`jwks-verify: ${message}\n`), r.stderr);
  // a bare number is seconds, as the Verifier's numbers
  assert.equal((await run(verifyArgs(signJwt(rsa, claims()), '--timeout', '2', '--clock-tolerance', '1.5'))).code, 0);
});

test('the package declares bin/jwks-verify.js as the jwks-verify bin, with a node shebang', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin['jwks-verify'];
  assert.match(bin, /^(\.\/)?bin\/jwks-verify\.js$/);
  assert.match(readFileSync(CLI, 'utf8'), /^#!\/usr\/bin\/env node\n/);
});

test('verify --validate-url: live, revoked (exit 1), endpoint failing (exit 3); --opaque; usage errors', async () => {
  const key = generateKey('RS256', { kid: 'live-1' });
  const srv = await startServer(key);
  const endpoint = addValidationEndpoint(srv);
  const base = ['verify', '--issuer', ISSUER, '--jwks-uri', srv.url, '--audience', 'api', '--validate-url', endpoint.url];
  const live = signJwt(key, claims());
  const ok = await run([...base, live]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /VALID: .*the validation endpoint says it is live/);
  const revoked = signJwt(key, claims({ jti: 'r' }));
  endpoint.revoke(revoked);
  const r1 = await run([...base, revoked]);
  assert.equal(r1.code, 1, r1.stdout);
  assert.match(r1.stdout, /REVOKED OR INACTIVE \(ERR_TOKEN_INACTIVE\)/);
  endpoint.setMode({ type: 'status', status: 503, headers: { 'retry-after': '9' } });
  const r3 = await run([...base, signJwt(key, claims({ jti: 'd' })), '--json']);
  assert.equal(r3.code, 3, r3.stdout);
  assert.equal(JSON.parse(r3.stdout).code, 'ERR_REVALIDATION_FAILED');
  endpoint.setMode({ type: 'ok' });
  endpoint.setBody({ id: 'agent-7' });
  const opaque = await run(['verify', '--issuer', ISSUER, '--validate-url', endpoint.url, '--opaque', 'aBcD-opaque_token.1', '--json']);
  assert.equal(opaque.code, 0, opaque.stdout + opaque.stderr);
  assert.deepEqual(JSON.parse(opaque.stdout).payload, { id: 'agent-7' });
  assert.equal(endpoint.count, 4, 'one call per verification');
  for (const args of [
    ['--opaque'],
    ['--introspect', ''],
    ['--introspect', '', '--client-id', 'c', '--client-secret-env', 'JWKS_VERIFY_TEST_UNSET_VARIABLE'],
    ['--validate-url', endpoint.url, '--validate-method', 'PUT'],
  ]) {
    const r = await run(['verify', '--issuer', ISSUER, '--jwks-uri', srv.url, ...args, live]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
  }
});

test('verify --introspect: an opaque oidc-provider token, the client secret read from the environment', async () => {
  const op = await startOidcProvider({ accessTokenFormat: 'opaque', introspection: true });
  cleanups.push(() => op.close());
  const token = await op.getAccessToken();
  const args = [
    'verify',
    '--issuer',
    op.issuer,
    '--introspect',
    '',
    '--client-id',
    OIDC_CLIENT_ID,
    '--client-secret-env',
    'INTROSPECTION_SECRET',
    '--opaque',
    token,
  ];
  const r = await runNode([CLI, ...args], { env: { INTROSPECTION_SECRET: OIDC_CLIENT_SECRET }, killAfterMs: 30_000 });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /LIVE/);
  assert.ok(!r.stdout.includes(OIDC_CLIENT_SECRET) && !r.stderr.includes(OIDC_CLIENT_SECRET));
  await op.revoke(token);
  const gone = await runNode([CLI, ...args], { env: { INTROSPECTION_SECRET: OIDC_CLIENT_SECRET }, killAfterMs: 30_000 });
  assert.equal(gone.code, 1, gone.stdout);
});
