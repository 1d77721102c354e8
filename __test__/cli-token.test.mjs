// `jwks-verify token` (bin/jwks-verify.js) as a child process against the real oidc-provider on 127.0.0.1: the
// secret from an environment variable or standard input (never an argument), private_key_jwt from a key file,
// discovery, and failures that never print the secret.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Verifier } from '../index.js';
import { runNode } from './support/run-node.mjs';
import { generateKey } from './support/keys.mjs';
import {
  startOidcProvider,
  OIDC_CLIENT_ID,
  OIDC_CLIENT_SECRET,
  OIDC_POST_CLIENT_ID,
  OIDC_POST_CLIENT_SECRET,
  OIDC_JWT_CLIENT_ID,
} from './support/oidc.mjs';

const key = generateKey('ES256', { kid: 'cli-es256' });
let op;
let verifier;
let dir;

before(async () => {
  op = await startOidcProvider({ clientKeys: [key] });
  verifier = new Verifier({ issuer: op.issuer, audience: op.audience });
  dir = mkdtempSync(join(tmpdir(), 'jwks-verify-cli-token-'));
});

after(async () => {
  verifier?.close();
  await op?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs `jwks-verify token ...args`. */
const token = (args, options = {}) => runNode(['bin/jwks-verify.js', 'token', ...args], options);
const clientArgs = (id = OIDC_CLIENT_ID) => ['--token-url', op.tokenUrl, '--client-id', id];

test('token --client-secret-env: prints "Bearer <token>" for curl -H "Authorization: $(…)"', async () => {
  const r = await token([...clientArgs(), '--client-secret-env', 'MY_SECRET'], { env: { MY_SECRET: OIDC_CLIENT_SECRET } });
  assert.equal(r.code, 0, r.stderr);
  const [scheme, jwt, ...rest] = r.stdout.trim().split(' ');
  assert.equal(scheme, 'Bearer');
  assert.equal(rest.length, 0);
  assert.equal((await verifier.verify(jwt)).payload.client_id, OIDC_CLIENT_ID);
});

test('token with the secret on standard input, --raw, client_secret_post, --scope; --json', async () => {
  const raw = await token([...clientArgs(OIDC_POST_CLIENT_ID), '--auth-method', 'client_secret_post', '--scope', 'api:read', '--raw'], {
    input: `${OIDC_POST_CLIENT_SECRET}\n`,
  });
  assert.equal(raw.code, 0, raw.stderr);
  assert.equal((await verifier.verify(raw.stdout.trim())).payload.scope, 'api:read');

  const json = await token([...clientArgs(), '--json'], { input: OIDC_CLIENT_SECRET });
  assert.equal(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout);
  assert.deepEqual(Object.keys(parsed).sort(), ['accessToken', 'expiresAt', 'scope', 'tokenType']);
  assert.equal(parsed.tokenType, 'Bearer');
  assert.ok(parsed.expiresAt > Date.now());
});

test('token --private-key-file (JWK or PEM) and --issuer (discovery)', async () => {
  const jwkFile = join(dir, 'key.json');
  const pemFile = join(dir, 'key.pem');
  writeFileSync(jwkFile, JSON.stringify({ ...key.privateKey.export({ format: 'jwk' }), kid: key.kid }));
  writeFileSync(pemFile, key.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  for (const file of [jwkFile, pemFile]) {
    const r = await token(['--issuer', op.issuer, '--client-id', OIDC_JWT_CLIENT_ID, '--private-key-file', file, '--raw']);
    assert.equal(r.code, 0, `${file}: ${r.stderr}`);
    assert.equal((await verifier.verify(r.stdout.trim())).payload.client_id, OIDC_JWT_CLIENT_ID);
  }
});

test("token with a wrong secret: exit 1, the endpoint's answer on stderr, the secret nowhere", async () => {
  const secret = 'wrong-secret-0123456789';
  for (const options of [
    { env: { S: secret }, args: ['--client-secret-env', 'S'] },
    { input: secret, args: [] },
  ]) {
    const r = await token([...clientArgs(), ...options.args], options);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^jwks-verify: token endpoint http:\/\/127\.0\.0\.1:\d+\/token answered 401: invalid_client/);
    assert.ok(!(r.stdout + r.stderr).includes(secret), 'the secret is not printed');
  }
});

test('token usage errors: exit 2; a secret is never taken from the command line', async () => {
  const cases = [
    [[...clientArgs(), 'my-secret-on-argv'], {}, /token takes no arguments/],
    [
      [...clientArgs(), '--client-secret', 'my-secret-on-argv'],
      {},
      /unknown option --client-secret \(did you mean --client-secret-env\?\)/,
    ],
    [['--token-url', op.tokenUrl], { input: 'x' }, /needs --client-id/],
    [['--client-id', 'c'], { input: 'x' }, /needs --token-url <url> or --issuer <url>/],
    [[...clientArgs(), '--client-secret-env', 'NOT_SET_ANYWHERE'], {}, /NOT_SET_ANYWHERE is not set/],
    [clientArgs(), {}, /client secret on standard input is empty/],
    [[...clientArgs(), '--auth-method', 'tls_client_auth'], { input: 'x' }, /"authMethod" must be/],
    [['--token-url', 'http://example.com/token', '--client-id', 'c'], { input: 'x' }, /"tokenUrl" must use https/],
  ];
  for (const [args, options, message] of cases) {
    const r = await token(args, options);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.ok(!(r.stdout + r.stderr).includes('my-secret-on-argv'), `the secret is echoed: ${r.stderr}`);
  }
});
