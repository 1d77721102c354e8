// Hostile tokens and hostile key sets: alg none, key confusion, keys smuggled through headers, malformed
// compact serialisations, oversized and deeply nested input, and JWKs that our rules refuse.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateKey, signJwt, signRaw, toJwks, b64url } from './support/keys.mjs';
import { startJwksServer } from './support/jwks-server.mjs';
import { verifyFails, throwsWith, rejectsWith, errorWith, clockNow } from './support/expect.mjs';

const { Verifier } = createRequire(import.meta.url)('../index.js');

const ISSUER = 'https://issuer.attacks.test';
const rsa = generateKey('RS256', { x5c: true });
const ec = generateKey('ES256');

function claims(extra = {}) {
  const iat = clockNow();
  return { iss: ISSUER, sub: 'user-1', iat, exp: iat + 300, ...extra };
}

const open = [];
/** A Verifier closed when the file ends. */
function verifier(options) {
  const v = new Verifier(options);
  open.push(v);
  return v;
}

/** `verify` rejects and `verifySync` throws with one of `codes` (where our rules allow more than one answer). */
async function verifyFailsWithOneOf(v, token, codes) {
  const oneOf = (err) => {
    assert.ok(codes.includes(err.code), `code ${err.code} (${err.message}) not one of ${codes}`);
    return true;
  };
  await assert.rejects(() => v.verify(token), oneOf);
  assert.throws(() => v.verifySync(token), oneOf);
}

let main;
let v;
before(async () => {
  main = await startJwksServer({ jwks: toJwks(rsa, ec) });
  v = verifier({ issuer: ISSUER, jwksUri: main.url });
  await v.ready();
});
after(async () => {
  for (const x of open) x.close();
  await main.close();
});

describe('algorithm attacks', () => {
  test("alg 'none' (any case) is never accepted, signature or not", async () => {
    await v.verify(signJwt(rsa, claims())); // the key set itself is fine
    for (const alg of ['none', 'None', 'NONE']) {
      await verifyFails(v, signJwt(rsa, claims(), { alg }), 'ERR_JOSE_ALG_NOT_ALLOWED');
      const withSignature = signRaw(rsa, JSON.stringify({ alg, kid: rsa.kid }), JSON.stringify(claims()), { alg: 'RS256' });
      await verifyFails(v, withSignature, 'ERR_JOSE_ALG_NOT_ALLOWED');
    }
    throwsWith(() => new Verifier({ issuer: ISSUER, jwksUri: main.url, algorithms: ['none'] }), 'ERR_INVALID_OPTIONS', {
      message: /algorithms/,
    });
  });

  test('HS256 signed with the RSA public key (PEM, DER, JWK text) as HMAC secret is refused', async () => {
    const materials = {
      'spki pem': rsa.publicKey.export({ type: 'spki', format: 'pem' }),
      'pkcs1 pem': rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }),
      'spki der': rsa.publicKey.export({ type: 'spki', format: 'der' }),
      'jwk json': JSON.stringify(rsa.jwk),
      'certificate der': rsa.certificate,
    };
    for (const [label, secret] of Object.entries(materials)) {
      for (const kid of [rsa.kid, null]) {
        const token = signJwt({ secret, kid: rsa.kid }, claims(), { alg: 'HS256', kid });
        await assert.rejects(() => v.verify(token), errorWith('ERR_JOSE_ALG_NOT_ALLOWED'), `${label}, kid ${kid}`);
        throwsWith(() => v.verifySync(token), 'ERR_JOSE_ALG_NOT_ALLOWED');
      }
    }
  });

  test('even with HS256 allowed (own secret), the RSA public key never serves as HMAC key', async () => {
    const hv = verifier({ issuer: ISSUER, jwksUri: main.url, algorithms: ['RS256', 'HS256'], secret: Buffer.alloc(32, 9) });
    await hv.ready();
    const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' });
    const token = signJwt({ secret: pem }, claims(), { alg: 'HS256', kid: rsa.kid });
    // Verified against the configured secret (signature fails) or not matched to the RSA key at all.
    await verifyFailsWithOneOf(hv, token, ['ERR_JWS_SIGNATURE_VERIFICATION_FAILED', 'ERR_JWKS_NO_MATCHING_KEY']);
  });
});

describe('keys offered by the token are never fetched nor trusted', () => {
  let attacker;
  const evil = generateKey('RS256', { x5c: true });
  before(async () => {
    attacker = await startJwksServer({ jwks: toJwks(evil) });
    attacker.route('/cert.pem', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-pem-file' });
      res.end(`-----BEGIN CERTIFICATE-----\n${evil.jwk.x5c[0]}\n-----END CERTIFICATE-----\n`);
    });
  });
  after(() => attacker.close());

  const headers = () => ({
    jku: { jku: attacker.url },
    x5u: { x5u: `${attacker.origin}/cert.pem` },
    jwk: { jwk: evil.jwk },
    x5c: { x5c: evil.jwk.x5c },
  });

  for (const name of ['jku', 'x5u', 'jwk', 'x5c']) {
    test(`${name}: no request reaches the attacker's server and the token fails`, async () => {
      const header = headers()[name];
      // The attacker's own kid: not in the configured JWKS.
      await verifyFails(v, signJwt(evil, claims(), { header }), 'ERR_JWKS_NO_MATCHING_KEY', { kid: evil.kid });
      // The legitimate kid, the attacker's signature.
      await verifyFails(v, signJwt(evil, claims(), { header, kid: rsa.kid }), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
      // No kid: only configured keys are tried.
      await verifyFails(v, signJwt(evil, claims(), { header, kid: null }), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
      await sleep(100); // a background fetch would have happened by now
      assert.deepEqual(attacker.log, [], `requests to the attacker: ${JSON.stringify(attacker.log)}`);
    });
  }
});

describe('signature encodings', () => {
  test('an ES256 signature in DER form (not raw r||s) fails', async () => {
    await v.verify(signJwt(ec, claims()));
    await verifyFails(v, signJwt(ec, claims(), { dsaEncoding: 'der' }), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
  });
});

describe('crit and b64', () => {
  const cases = [
    ['crit: []', { crit: [] }, 'ERR_JWS_INVALID'],
    ["crit: ['exp'] (absent from the header)", { crit: ['exp'] }, 'ERR_JWS_INVALID'],
    ["crit: ['alg'] (a registered parameter)", { crit: ['alg'] }, 'ERR_JWS_INVALID'],
    ["crit: ['kid'] (a registered parameter)", { crit: ['kid'] }, 'ERR_JWS_INVALID'],
    ['crit not an array', { crit: 'unknown-ext', 'unknown-ext': true }, 'ERR_JWS_INVALID'],
    ["crit: ['unknown-ext'] without the parameter", { crit: ['unknown-ext'] }, 'ERR_JWS_INVALID'],
    ["crit: ['unknown-ext'] with the parameter", { crit: ['unknown-ext'], 'unknown-ext': 1 }, 'ERR_JOSE_NOT_SUPPORTED'],
    ["b64: false with crit: ['b64']", { b64: false, crit: ['b64'] }, 'ERR_JOSE_NOT_SUPPORTED'],
    ['b64: false without crit', { b64: false }, 'ERR_JOSE_NOT_SUPPORTED'],
  ];
  for (const [label, header, code] of cases) {
    test(`${label} -> ${code}`, async () => {
      await verifyFails(v, signJwt(rsa, claims(), { header }), code);
    });
  }
});

describe('token shape', () => {
  const good = () => signJwt(rsa, claims());

  test('longer than maxTokenLength (default 16384) -> ERR_JWS_INVALID', async () => {
    const long = signJwt(rsa, claims({ pad: 'x'.repeat(17_000) }));
    assert.ok(long.length > 16_384);
    await verifyFails(v, long, 'ERR_JWS_INVALID');
    const roomy = verifier({ issuer: ISSUER, jwksUri: main.url, maxTokenLength: 32_768 });
    await roomy.verify(long);
    const tight = verifier({ issuer: ISSUER, jwksUri: main.url, maxTokenLength: 100 });
    await tight.ready();
    await verifyFails(tight, good(), 'ERR_JWS_INVALID');
  });

  test('whitespace, a Bearer prefix, padding or non-base64url characters -> ERR_JWS_INVALID', async () => {
    const t = good();
    const [h, p, s] = t.split('.');
    const bad = [
      ` ${t}`,
      `${t} `,
      `${t}\n`,
      `\t${t}`,
      `${h}.${p.slice(0, 10)} ${p.slice(10)}.${s}`,
      `${h}.${p}.${s.slice(0, 10)}\n${s.slice(10)}`,
      `Bearer ${t}`,
      `bearer ${t}`,
      `${h}=.${p}.${s}`,
      `${h}.${p}==.${s}`,
      `${h}.${p}.${s}=`,
      `${h}.${p}.${s.slice(0, -1)}+`,
      `${h}.${p.slice(0, -1)}/.${s}`,
      `${h}.${p}.${s.slice(0, -1)}!`,
    ];
    for (const token of bad) {
      await assert.rejects(() => v.verify(token), errorWith('ERR_JWS_INVALID'), JSON.stringify(token.slice(0, 20)));
      throwsWith(() => v.verifySync(token), 'ERR_JWS_INVALID');
    }
  });

  test('wrong part counts and a JWE -> ERR_JWS_INVALID', async () => {
    const t = good();
    const [h, p] = t.split('.');
    const jweHeader = b64url(JSON.stringify({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: rsa.kid }));
    const jwe = [jweHeader, b64url('k'.repeat(256)), b64url('iv-iv-iv-iv!'), b64url('ciphertext'), b64url('tag-tag-tag-tag!')].join('.');
    for (const token of [`${t}.${b64url('x')}`, `${h}.${p}`, h, '', '.', '..', '...', jwe]) {
      await assert.rejects(() => v.verify(token), errorWith('ERR_JWS_INVALID'), JSON.stringify(token.slice(0, 20)));
      throwsWith(() => v.verifySync(token), 'ERR_JWS_INVALID');
    }
  });

  test('a header that is not a JSON object, or a non-string kid -> ERR_JWS_INVALID', async () => {
    const payload = JSON.stringify(claims());
    for (const header of ['not json', '"RS256"', '["RS256"]', 'null', '{"alg":"RS256"', `{"alg":"RS256","kid":42}`]) {
      await verifyFails(v, signRaw(rsa, header, payload, { alg: 'RS256' }), 'ERR_JWS_INVALID');
    }
  });

  test('duplicate member names: header -> ERR_JWS_INVALID, payload -> ERR_JWT_INVALID', async () => {
    const exp = clockNow() + 300;
    const payload = `{"iss":"${ISSUER}","sub":"user-1","exp":${exp}}`;
    const header = `{"alg":"RS256","kid":"${rsa.kid}"}`;
    await v.verify(signRaw(rsa, header, payload)); // control: the raw texts are fine as they are
    for (const dupHeader of [
      `{"alg":"RS256","kid":"${rsa.kid}","alg":"RS256"}`,
      `{"alg":"none","kid":"${rsa.kid}","alg":"RS256"}`,
      `{"alg":"RS256","kid":"other","kid":"${rsa.kid}"}`,
    ]) {
      await verifyFails(v, signRaw(rsa, dupHeader, payload, { alg: 'RS256' }), 'ERR_JWS_INVALID');
    }
    for (const dupPayload of [
      `{"iss":"${ISSUER}","sub":"user-1","sub":"admin","exp":${exp}}`,
      `{"iss":"${ISSUER}","sub":"user-1","exp":${exp},"exp":${exp + 10_000}}`,
      `{"iss":"${ISSUER}","sub":"user-1","s\\u0075b":"admin","exp":${exp}}`,
    ]) {
      await verifyFails(v, signRaw(rsa, header, dupPayload), 'ERR_JWT_INVALID');
    }
  });

  test('a payload that is not a JSON object -> ERR_JWT_INVALID', async () => {
    const header = JSON.stringify({ alg: 'RS256', kid: rsa.kid });
    for (const payload of ['[1,2,3]', `[${JSON.stringify(claims())}]`, '42', '"text"', 'null', 'true', '', 'not json']) {
      await verifyFails(v, signRaw(rsa, header, payload), 'ERR_JWT_INVALID');
    }
  });

  test('a payload nested 100 deep -> ERR_JWT_INVALID (10 deep is fine)', async () => {
    const header = JSON.stringify({ alg: 'RS256', kid: rsa.kid });
    const withDeep = (deep) => `${JSON.stringify(claims()).slice(0, -1)},"deep":${deep}}`;
    const arrays = (depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    const objects = (depth) => `${'{"a":'.repeat(depth - 1)}{}${'}'.repeat(depth - 1)}`;
    await v.verify(signRaw(rsa, header, withDeep(arrays(10))));
    await v.verify(signRaw(rsa, header, withDeep(objects(10))));
    await verifyFails(v, signRaw(rsa, header, withDeep(arrays(100))), 'ERR_JWT_INVALID');
    await verifyFails(v, signRaw(rsa, header, withDeep(objects(100))), 'ERR_JWT_INVALID');
  });

  test('non-string arguments -> ERR_JWS_INVALID (a rejection from verify, a throw from verifySync)', async () => {
    const t = good();
    for (const arg of [undefined, null, 42, {}, [t], Buffer.from(t), new String(t)]) {
      await rejectsWith(() => v.verify(arg), 'ERR_JWS_INVALID');
      throwsWith(() => v.verifySync(arg), 'ERR_JWS_INVALID');
    }
    await rejectsWith(() => v.verify(), 'ERR_JWS_INVALID');
    throwsWith(() => v.verifySync(), 'ERR_JWS_INVALID');
  });
});

describe('JWKs our rules refuse are not candidates', () => {
  /** A fresh server with `jwks`, a ready Verifier on it. */
  async function withKeySet(jwks, options, body) {
    const srv = await startJwksServer({ jwks });
    const kv = verifier({ issuer: ISSUER, jwksUri: srv.url, ...options });
    try {
      await kv.ready();
      await body(kv, srv);
    } finally {
      kv.close();
      await srv.close();
    }
  }

  test('an RSA key of 1024 bits is refused; the rest of the set still works', async () => {
    const weak = generateKey('RS256', { modulusLength: 1024 });
    const strong = generateKey('RS256');
    await withKeySet(toJwks(weak, strong), {}, async (kv) => {
      await verifyFails(kv, signJwt(weak, claims()), 'ERR_JWKS_NO_MATCHING_KEY', { kid: weak.kid });
      await verifyFails(kv, signJwt(weak, claims(), { kid: null }), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
      await kv.verify(signJwt(strong, claims()));
    });
  });

  test("use: 'enc' and key_ops without 'verify' are skipped", async () => {
    const enc = generateKey('RS256', { use: 'enc' });
    const encryptOnly = generateKey('ES256', { use: null });
    encryptOnly.jwk.key_ops = ['encrypt', 'wrapKey'];
    const verifyOps = generateKey('ES256', { use: null });
    verifyOps.jwk.key_ops = ['verify'];
    const plain = generateKey('EdDSA', { use: null });
    await withKeySet(toJwks(enc, encryptOnly, verifyOps, plain), {}, async (kv) => {
      await verifyFails(kv, signJwt(enc, claims()), 'ERR_JWKS_NO_MATCHING_KEY', { kid: enc.kid });
      await verifyFails(kv, signJwt(encryptOnly, claims()), 'ERR_JWKS_NO_MATCHING_KEY', { kid: encryptOnly.kid });
      await kv.verify(signJwt(verifyOps, claims()));
      await kv.verify(signJwt(plain, claims()));
    });
  });

  test('an oct key in a remote JWKS is ignored', async () => {
    const oct = generateKey('HS256');
    const good = generateKey('RS256');
    const token = signJwt(oct, claims());
    await withKeySet(toJwks(oct, good), {}, async (kv) => {
      await verifyFails(kv, token, 'ERR_JOSE_ALG_NOT_ALLOWED');
      await kv.verify(signJwt(good, claims()));
    });
    // With HS256 allowed (and an own secret), the published oct key still verifies nothing.
    await withKeySet(toJwks(oct, good), { algorithms: ['RS256', 'HS256'], secret: Buffer.alloc(32, 3) }, async (kv) => {
      await verifyFailsWithOneOf(kv, token, ['ERR_JWKS_NO_MATCHING_KEY', 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED']);
      await verifyFails(kv, signJwt(oct, claims(), { kid: null }), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
    });
  });

  test("a JWK whose alg differs from the token's is not a candidate", async () => {
    const pinned384 = generateKey('RS384');
    const pinnedPs = generateKey('PS256');
    const unpinned = generateKey('RS256', { includeAlg: false });
    const p256 = generateKey('ES256');
    const p256Unpinned = generateKey('ES256', { includeAlg: false });
    await withKeySet(toJwks(pinned384, pinnedPs, unpinned, p256, p256Unpinned), {}, async (kv) => {
      await verifyFails(kv, signJwt(pinned384, claims(), { alg: 'RS256' }), 'ERR_JWKS_NO_MATCHING_KEY', { kid: pinned384.kid });
      await verifyFails(kv, signJwt(pinnedPs, claims(), { alg: 'RS256' }), 'ERR_JWKS_NO_MATCHING_KEY', { kid: pinnedPs.kid });
      await kv.verify(signJwt(pinned384, claims()));
      // Without its own alg, an RSA key serves RS256 and PS256 alike.
      await kv.verify(signJwt(unpinned, claims(), { alg: 'RS256' }));
      await kv.verify(signJwt(unpinned, claims(), { alg: 'PS256' }));
      // ES384 needs a P-384 key: a P-256 key is no candidate, with or without its own alg.
      await verifyFails(kv, signJwt(p256, claims(), { alg: 'ES384' }), 'ERR_JWKS_NO_MATCHING_KEY', { kid: p256.kid });
      await verifyFails(kv, signJwt(p256Unpinned, claims(), { alg: 'ES384' }), 'ERR_JWKS_NO_MATCHING_KEY', {
        kid: p256Unpinned.kid,
      });
      await kv.verify(signJwt(p256Unpinned, claims()));
    });
  });
});
