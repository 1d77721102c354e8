// The TokenSource examples run as users run them: locally (embedded issuer, stand-in API), and fetch-with-token.mjs
// with environment variables against the real oidc-provider on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runNode } from './support/run-node.mjs';
import { startOidcProvider, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET } from './support/oidc.mjs';
import { startProtectedApi } from '../examples/fetch-with-token.mjs';

test('examples/genesys-pipeline.mjs: 20 jobs, one token request, exit 0', async () => {
  const { code, stdout, stderr } = await runNode(['examples/genesys-pipeline.mjs'], {
    env: { GENESYS_CLIENT_ID: '', GENESYS_CLIENT_SECRET: '' },
  });
  assert.equal(code, 0, stdout + stderr);
  assert.match(stdout, /real token URL +https:\/\/login\.mypurecloud\.com\/oauth\/token/);
  assert.match(
    stdout,
    /mypurecloud\.ie +https:\/\/login\.mypurecloud\.ie\/oauth\/token +https:\/\/api\.mypurecloud\.ie$/m,
    'the region table',
  );
  assert.match(stdout, /jobs +20 of 20 ok/);
  assert.match(stdout, /token requests +1 for 20 API calls/);
});

test('examples/fetch-with-token.mjs: a 401, invalidate(), one retry with a new token, exit 0', async () => {
  const { code, stdout, stderr } = await runNode(['examples/fetch-with-token.mjs'], {
    env: { TOKEN_URL: '', CLIENT_ID: '', CLIENT_SECRET: '', API_URL: '' },
  });
  assert.equal(code, 0, stdout + stderr);
  assert.match(stdout, /first call +200 after a 401, invalidate\(\) and one retry/);
  assert.match(stdout, /token requests +2 /);
});

test('examples/fetch-with-token.mjs with TOKEN_URL, CLIENT_ID, CLIENT_SECRET, API_URL: the real provider, the secret never printed', async (t) => {
  const op = await startOidcProvider();
  t.after(() => op.close());
  const api = await startProtectedApi({ issuer: op.issuer, audience: op.audience });
  t.after(() => api.close());
  const env = { TOKEN_URL: op.tokenUrl, CLIENT_ID: OIDC_CLIENT_ID, CLIENT_SECRET: OIDC_CLIENT_SECRET, API_URL: `${api.url}/reports` };
  const ok = await runNode(['examples/fetch-with-token.mjs'], { env });
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /^200 http:\/\/127\.0\.0\.1:\d+\/reports$/m);
  assert.match(ok.stdout, /"client_id":"jwks-verify-test-client"/);

  const refused = await runNode(['examples/fetch-with-token.mjs'], { env: { ...env, CLIENT_SECRET: 'wrong-secret-0123456789' } });
  assert.equal(refused.code, 1);
  assert.match(refused.stdout, /ERR_TOKEN_REQUEST_FAILED: token endpoint .* answered 401: invalid_client/);
  assert.ok(!(refused.stdout + refused.stderr).includes('wrong-secret-0123456789'), 'the secret is not printed');

  const partial = await runNode(['examples/fetch-with-token.mjs'], {
    env: { TOKEN_URL: op.tokenUrl, CLIENT_ID: '', CLIENT_SECRET: '', API_URL: '' },
  });
  assert.equal(partial.code, 2);
});
