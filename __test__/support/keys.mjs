// Test keys and token signing for the integration suites. Everything here is synchronous
// (so `generateKey(...)` and `await generateKey(...)` both work) and uses node:crypto only.
import crypto from 'node:crypto';

/** Parameters of each JWS algorithm: key type to generate and how to sign. */
const ALGS = {
  RS256: { kind: 'rsa', hash: 'sha256' },
  RS384: { kind: 'rsa', hash: 'sha384' },
  RS512: { kind: 'rsa', hash: 'sha512' },
  PS256: { kind: 'rsa', hash: 'sha256', pss: true },
  PS384: { kind: 'rsa', hash: 'sha384', pss: true },
  PS512: { kind: 'rsa', hash: 'sha512', pss: true },
  ES256: { kind: 'ec', hash: 'sha256', curve: 'P-256' },
  ES384: { kind: 'ec', hash: 'sha384', curve: 'P-384' },
  ES512: { kind: 'ec', hash: 'sha512', curve: 'P-521' },
  EdDSA: { kind: 'ed25519' },
  Ed25519: { kind: 'ed25519' }, // RFC 9864's fully-specified name for EdDSA over Ed25519
  HS256: { kind: 'oct', hash: 'sha256', bytes: 32 },
  HS384: { kind: 'oct', hash: 'sha384', bytes: 48 },
  HS512: { kind: 'oct', hash: 'sha512', bytes: 64 },
};

export const ALGORITHMS = Object.freeze(Object.keys(ALGS));
export const ASYMMETRIC_ALGORITHMS = Object.freeze(ALGORITHMS.filter((a) => !a.startsWith('HS')));

/** Current time in whole seconds (real time: `advanceClockForTests` does not move it). */
export function now() {
  return Math.floor(Date.now() / 1000);
}

/** base64url without padding, of a Buffer/Uint8Array or of a string's UTF-8 bytes. */
export function b64url(input) {
  return Buffer.from(input).toString('base64url');
}

let kidCounter = 0;

/**
 * A fresh key for `alg`:
 * `{ alg, kid, privateKey, publicKey, jwk }` (+ `secret` Buffer for HS*, + `certificate` DER Buffer with x5c).
 * `jwk` is the public JWK with kid, alg (unless includeAlg is false) and use (unless use is null).
 * `x5c: true` adds a self-signed certificate of the key; `x5cOnly: true` implies it and removes n/e (RSA) or
 * x/y (EC, OKP) so that the certificate is the only source of the key.
 * HS*: `secret` (option, default random of the hash length) and an `oct` JWK with `k`.
 */
export function generateKey(alg, { kid, x5c = false, x5cOnly = false, use = 'sig', includeAlg = true, modulusLength, secret } = {}) {
  const spec = ALGS[alg];
  if (!spec) throw new Error(`generateKey: unknown alg ${alg}`);
  kid ??= `${alg.toLowerCase()}-${++kidCounter}-${crypto.randomBytes(4).toString('hex')}`;

  let privateKey;
  let publicKey;
  let jwk;
  let key = {};
  if (spec.kind === 'oct') {
    const bytes = secret === undefined ? crypto.randomBytes(spec.bytes) : Buffer.from(secret);
    privateKey = publicKey = crypto.createSecretKey(bytes);
    jwk = { kty: 'oct', k: b64url(bytes) };
    key.secret = bytes;
  } else {
    const pair =
      spec.kind === 'rsa'
        ? crypto.generateKeyPairSync('rsa', { modulusLength: modulusLength ?? 2048 })
        : spec.kind === 'ec'
          ? crypto.generateKeyPairSync('ec', { namedCurve: spec.curve })
          : crypto.generateKeyPairSync('ed25519');
    ({ privateKey, publicKey } = pair);
    jwk = publicKey.export({ format: 'jwk' });
  }
  jwk.kid = kid;
  if (includeAlg) jwk.alg = alg;
  if (use != null) jwk.use = use;

  key = { alg, kid, privateKey, publicKey, jwk, ...key };
  if ((x5c || x5cOnly) && spec.kind !== 'oct') {
    key.certificate = selfSignedCertificate(key, `CN=${kid}`);
    jwk.x5c = [key.certificate.toString('base64')];
    if (x5cOnly) {
      for (const member of ['n', 'e', 'x', 'y']) delete jwk[member];
    }
  }
  return key;
}

/** `{ keys: [...] }` of the keys' public JWKs. */
export function toJwks(...keys) {
  return { keys: keys.flat().map((k) => k.jwk) };
}

/** Signature bytes of `data` with `key` for `alg` (HS*: HMAC with `key.secret`; 'none': empty). */
export function signBytes(key, alg, data, { dsaEncoding = 'ieee-p1363' } = {}) {
  if (typeof alg === 'string' && alg.toLowerCase() === 'none') return Buffer.alloc(0);
  const spec = ALGS[alg];
  if (!spec) throw new Error(`signBytes: unknown alg ${alg}`);
  switch (spec.kind) {
    case 'oct': {
      if (key.secret === undefined) throw new Error('signBytes: HS* needs key.secret');
      return crypto.createHmac(spec.hash, key.secret).update(data).digest();
    }
    case 'rsa':
      return crypto.sign(spec.hash, data, {
        key: key.privateKey,
        ...(spec.pss
          ? { padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: crypto.constants.RSA_PSS_SALTLEN_DIGEST }
          : { padding: crypto.constants.RSA_PKCS1_PADDING }),
      });
    case 'ec':
      return crypto.sign(spec.hash, data, { key: key.privateKey, dsaEncoding });
    default:
      return crypto.sign(null, data, key.privateKey);
  }
}

/**
 * Compact JWS from raw JSON texts (no re-serialisation: duplicate members and odd spacing survive).
 * Options: `alg` (default key.alg; 'none' gives an empty signature), `dsaEncoding` ('ieee-p1363' default, 'der').
 */
export function signRaw(key, headerJsonText, payloadJsonText, { alg = key.alg, dsaEncoding } = {}) {
  const signingInput = `${b64url(headerJsonText)}.${b64url(payloadJsonText)}`;
  return `${signingInput}.${b64url(signBytes(key, alg, Buffer.from(signingInput), { dsaEncoding }))}`;
}

/**
 * Compact JWS of `payload` (an object, or a string used as the raw payload text).
 * Header = `{ alg, kid, ...header }`; `kid: null` leaves kid out; a member set to undefined in `header` is dropped.
 * `alg` may differ from key.alg (e.g. 'HS256' with `{ secret }`, or 'none').
 */
export function signJwt(key, payload, { header = {}, kid = key.kid, alg = key.alg, dsaEncoding } = {}) {
  const h = { alg, ...(kid != null ? { kid } : {}), ...header };
  const payloadText = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return signRaw(key, JSON.stringify(h), payloadText, { alg, dsaEncoding });
}

// ---- a minimal self-signed X.509 v3 certificate, DER-encoded by hand (sync) ----

function der(tag, ...contents) {
  const body = Buffer.concat(contents.map((c) => Buffer.from(c)));
  let len;
  if (body.length < 0x80) len = Buffer.from([body.length]);
  else {
    const bytes = [];
    for (let n = body.length; n > 0; n >>= 8) bytes.unshift(n & 0xff);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, body]);
}

const seq = (...c) => der(0x30, ...c);

function oid(dotted) {
  const parts = dotted.split('.').map(Number);
  const bytes = [parts[0] * 40 + parts[1]];
  for (const p of parts.slice(2)) {
    const chunk = [p & 0x7f];
    for (let n = p >> 7; n > 0; n >>= 7) chunk.unshift((n & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
}

function utcTime(date) {
  const s = date.toISOString(); // 2026-01-02T03:04:05.000Z
  return der(0x17, Buffer.from(`${s.slice(2, 4)}${s.slice(5, 7)}${s.slice(8, 10)}${s.slice(11, 13)}${s.slice(14, 16)}${s.slice(17, 19)}Z`));
}

/** Certificate signature algorithm and how to sign the TBS with the key itself. */
function certSignature(key) {
  const spec = ALGS[key.alg];
  const NULL = Buffer.from([0x05, 0x00]);
  if (spec.kind === 'rsa') {
    const o = { sha256: '1.2.840.113549.1.1.11', sha384: '1.2.840.113549.1.1.12', sha512: '1.2.840.113549.1.1.13' }[spec.hash];
    return { algId: seq(oid(o), NULL), sign: (tbs) => crypto.sign(spec.hash, tbs, key.privateKey) };
  }
  if (spec.kind === 'ec') {
    const o = { sha256: '1.2.840.10045.4.3.2', sha384: '1.2.840.10045.4.3.3', sha512: '1.2.840.10045.4.3.4' }[spec.hash];
    return { algId: seq(oid(o)), sign: (tbs) => crypto.sign(spec.hash, tbs, { key: key.privateKey, dsaEncoding: 'der' }) };
  }
  return { algId: seq(oid('1.3.101.112')), sign: (tbs) => crypto.sign(null, tbs, key.privateKey) };
}

/** DER of a self-signed certificate for `key` (subject = issuer = CN), valid from a day ago for ten years. */
export function selfSignedCertificate(key, subject = `CN=${key.kid}`) {
  const cn = subject.replace(/^CN=/, '');
  const name = seq(der(0x31, seq(oid('2.5.4.3'), der(0x0c, Buffer.from(cn)))));
  const { algId, sign } = certSignature(key);
  const serial = crypto.randomBytes(8);
  serial[0] = (serial[0] & 0x7f) | 0x40; // a positive INTEGER whose first byte is not 0 (DER: no needless leading zero)
  const from = new Date(Date.now() - 86400e3);
  const to = new Date(Date.now() + 10 * 365 * 86400e3);
  const tbs = seq(
    der(0xa0, der(0x02, Buffer.from([2]))), // [0] version v3
    der(0x02, serial),
    algId,
    name,
    seq(utcTime(from), utcTime(to)),
    name,
    key.publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = sign(tbs);
  return seq(tbs, algId, der(0x03, Buffer.from([0]), signature));
}
