// Issuers: OpenID Connect discovery against a real provider, discovery documents that lie, several issuers in one
// verifier with tokens routed by `iss`, and unknown issuers refused before any network I/O.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateKey, signJwt, toJwks } from './support/keys.mjs';
import { startJwksServer, sendJson } from './support/jwks-server.mjs';
import { startOidcProvider } from './support/oidc.mjs';
import { verifyFails, rejectsWith, clockNow } from './support/expect.mjs';

const { Verifier } = createRequire(import.meta.url)('../index.js');

const DISCOVERY = '/.well-known/openid-configuration';

const open = [];
/** A Verifier closed when the file ends. */
function verifier(options) {
  const v = new Verifier(options);
  open.push(v);
  return v;
}
after(() => {
  for (const v of open) v.close();
});

function claims(iss, extra = {}) {
  const iat = clockNow();
  return { iss, sub: 'user-1', iat, exp: iat + 300, ...extra };
}

/** A JWKS server that also serves a discovery document naming `issuer` (default: its own origin). */
async function discoveryServer(keys, doc = (srv) => ({ issuer: srv.origin, jwks_uri: srv.url })) {
  const srv = await startJwksServer({ jwks: toJwks(keys) });
  srv.route(DISCOVERY, (_req, res) => sendJson(res, doc(srv)));
  return srv;
}

describe('OpenID Connect discovery', () => {
  test('a real access token from oidc-provider verifies; jwksUri comes from discovery', async () => {
    const op = await startOidcProvider();
    try {
      const v = verifier({ issuer: op.issuer, audience: op.audience, typ: 'at+jwt' });
      const token = await op.getAccessToken();
      const paths = () => op.log.map((e) => e.path);
      assert.deepEqual(paths(), ['/token']);
      const result = await v.verify(token);
      assert.equal(result.issuer, op.issuer);
      assert.equal(result.payload.iss, op.issuer);
      assert.equal(result.payload.aud, op.audience);
      assert.equal(result.payload.scope, 'api:read');
      assert.equal(result.header.kid, op.signingKey.kid);
      assert.equal(result.header.typ, 'at+jwt');
      assert.deepEqual(paths(), ['/token', DISCOVERY, '/jwks']);
      const [health] = v.health();
      assert.equal(health.issuer, op.issuer);
      assert.equal(health.jwksUri, op.jwksUri);
      assert.equal(health.state, 'fresh');
      assert.deepEqual(health.kids, [op.signingKey.kid]);
      // A second token: no more requests to the provider.
      await v.verify(await op.getAccessToken());
      assert.deepEqual(paths(), ['/token', DISCOVERY, '/jwks', '/token']);
    } finally {
      await op.close();
    }
  });

  test('EdDSA and ES256 providers work the same way', async () => {
    for (const alg of ['EdDSA', 'ES256']) {
      const op = await startOidcProvider({ alg });
      try {
        const v = verifier({ issuer: op.issuer, audience: op.audience });
        const result = await v.verify(await op.getAccessToken());
        assert.equal(result.header.alg, alg);
      } finally {
        await op.close();
      }
    }
  });

  test('a discovery document naming another issuer -> ERR_JWKS_INVALID, and its JWKS is not fetched', async () => {
    const key = generateKey('RS256');
    const srv = await discoveryServer([key], (s) => ({ issuer: `${s.origin}/other`, jwks_uri: s.url }));
    try {
      const v = verifier({ issuer: srv.origin });
      const token = signJwt(key, claims(srv.origin));
      await rejectsWith(() => v.verify(token), 'ERR_JWKS_INVALID');
      await rejectsWith(() => v.ready(), 'ERR_JWKS_INVALID');
      assert.equal(srv.count, 0, 'the JWKS of a lying discovery document is not fetched');
      assert.ok(srv.countFor(DISCOVERY) >= 1);
    } finally {
      await srv.close();
    }
  });

  test('a discovery document with a trailing-slash issuer does not match one without', async () => {
    const key = generateKey('RS256');
    const srv = await discoveryServer([key], (s) => ({ issuer: `${s.origin}/`, jwks_uri: s.url }));
    try {
      const v = verifier({ issuer: srv.origin });
      await rejectsWith(() => v.verify(signJwt(key, claims(srv.origin))), 'ERR_JWKS_INVALID');
      assert.equal(srv.count, 0);
    } finally {
      await srv.close();
    }
  });

  test('a discovered non-loopback http jwks_uri -> ERR_JWKS_INVALID', async () => {
    const key = generateKey('RS256');
    const srv = await discoveryServer([key], (s) => ({ issuer: s.origin, jwks_uri: 'http://keys.issuers.test/jwks.json' }));
    try {
      const v = verifier({ issuer: srv.origin });
      await rejectsWith(() => v.verify(signJwt(key, claims(srv.origin))), 'ERR_JWKS_INVALID');
    } finally {
      await srv.close();
    }
  });

  test('a discovery document without jwks_uri, or not JSON -> ERR_JWKS_INVALID', async () => {
    const key = generateKey('RS256');
    for (const doc of [(s) => ({ issuer: s.origin }), () => 'not json', () => ({ issuer: 42, jwks_uri: 'x' })]) {
      const srv = await discoveryServer([key], doc);
      try {
        const v = verifier({ issuer: srv.origin });
        await rejectsWith(() => v.verify(signJwt(key, claims(srv.origin))), 'ERR_JWKS_INVALID');
      } finally {
        await srv.close();
      }
    }
  });
});

describe('several issuers in one verifier', () => {
  /** Three issuers, each with its own key and JWKS server. */
  async function threeIssuers() {
    const tenants = [];
    for (const [name, alg] of [
      ['a', 'RS256'],
      ['b', 'ES256'],
      ['c', 'EdDSA'],
    ]) {
      const key = generateKey(alg);
      const srv = await startJwksServer({ jwks: toJwks(key) });
      tenants.push({ issuer: `https://${name}.issuers.test`, key, srv });
    }
    const close = () => Promise.all(tenants.map((t) => t.srv.close()));
    return { tenants, close };
  }

  test('tokens are routed by iss to their own JWKS', async () => {
    const { tenants, close } = await threeIssuers();
    try {
      const v = verifier({
        issuers: tenants.map((t) => ({ issuer: t.issuer, jwksUri: t.srv.url, audience: `aud-${t.issuer}` })),
      });
      for (const [i, t] of tenants.entries()) {
        const result = await v.verify(signJwt(t.key, claims(t.issuer, { aud: `aud-${t.issuer}` })));
        assert.equal(result.issuer, t.issuer);
        assert.equal(result.payload.iss, t.issuer);
        assert.deepEqual(
          tenants.map((x) => x.srv.count),
          tenants.map((_, j) => (j <= i ? 1 : 0)),
          'each issuer fetched its own JWKS once, and only when a token named it',
        );
      }
      const requests = () => tenants.map((t) => t.srv.count);
      const before = requests();
      // iss of a, key of b: the key is looked up in a's set only.
      const [a, b] = tenants;
      await verifyFails(v, signJwt(b.key, claims(a.issuer, { aud: `aud-${a.issuer}` })), 'ERR_JWKS_NO_MATCHING_KEY', {
        kid: b.key.kid,
      });
      assert.equal(b.srv.count, before[1], "b's server is not asked about a's tokens");
      // Audience is per issuer.
      await verifyFails(v, signJwt(a.key, claims(a.issuer, { aud: `aud-${b.issuer}` })), 'ERR_JWT_CLAIM_VALIDATION_FAILED', {
        claim: 'aud',
      });
      const health = v.health();
      assert.deepEqual(health.map((h) => h.issuer).sort(), tenants.map((t) => t.issuer).sort());
    } finally {
      await close();
    }
  });

  test('algorithms are per issuer', async () => {
    const { tenants, close } = await threeIssuers();
    try {
      const [a, b] = tenants;
      const v = verifier({
        issuers: [
          { issuer: a.issuer, jwksUri: a.srv.url, algorithms: ['RS256'] },
          { issuer: b.issuer, jwksUri: b.srv.url, algorithms: ['ES256'] },
        ],
      });
      await v.verify(signJwt(a.key, claims(a.issuer)));
      await v.verify(signJwt(b.key, claims(b.issuer)));
      // An RS256 token claiming issuer b: b does not allow RS256.
      await rejectsWith(() => v.verify(signJwt(a.key, claims(b.issuer))), 'ERR_JOSE_ALG_NOT_ALLOWED');
    } finally {
      await close();
    }
  });

  test('ready() loads every issuer', async () => {
    const { tenants, close } = await threeIssuers();
    try {
      const v = verifier({ issuers: tenants.map((t) => ({ issuer: t.issuer, jwksUri: t.srv.url })) });
      await v.ready();
      assert.deepEqual(
        tenants.map((t) => t.srv.count),
        [1, 1, 1],
      );
      for (const t of tenants) assert.equal(v.verifySync(signJwt(t.key, claims(t.issuer))).issuer, t.issuer);
    } finally {
      await close();
    }
  });

  test('an unknown iss is refused (claim iss) before any request reaches any server', async () => {
    const { tenants, close } = await threeIssuers();
    const attacker = await discoveryServer([generateKey('RS256')]);
    try {
      const v = verifier({ issuers: tenants.map((t) => ({ issuer: t.issuer, jwksUri: t.srv.url })) });
      const key = tenants[0].key;
      const tokens = [
        signJwt(key, claims('https://evil.issuers.test')),
        signJwt(key, claims(attacker.origin)), // an issuer that would answer discovery
        signJwt(key, claims(`${tenants[0].issuer}/`)),
        signJwt(key, claims(tenants[0].issuer.toUpperCase())),
        signJwt(key, claims(undefined)),
        signJwt(key, claims(42)),
      ];
      for (const token of tokens) {
        await verifyFails(v, token, 'ERR_JWT_CLAIM_VALIDATION_FAILED', { claim: 'iss' });
      }
      await sleep(100); // a background fetch would have started by now
      assert.deepEqual(
        tenants.map((t) => t.srv.log.length),
        [0, 0, 0],
        'no request to any configured JWKS',
      );
      assert.deepEqual(attacker.log, [], 'no discovery at the issuer the token names');
    } finally {
      await close();
      await attacker.close();
    }
  });

  test('single-issuer mode refuses a foreign iss before I/O too', async () => {
    const key = generateKey('RS256');
    const srv = await startJwksServer({ jwks: toJwks(key) });
    try {
      const v = verifier({ issuer: 'https://only.issuers.test', jwksUri: srv.url });
      await verifyFails(v, signJwt(key, claims('https://evil.issuers.test')), 'ERR_JWT_CLAIM_VALIDATION_FAILED', { claim: 'iss' });
      await sleep(100);
      assert.equal(srv.log.length, 0);
    } finally {
      await srv.close();
    }
  });
});
