// A tiny embedded identity provider for the demo, the provider recipes and the tests.
// It uses only node:http and node:crypto, listens on 127.0.0.1, and serves:
//
//   GET  /.well-known/openid-configuration   discovery document (issuer, jwks_uri, token_endpoint)
//   GET  /jwks.json                          the public keys, `Cache-Control: max-age=300`
//   POST /oauth/token                        client credentials (client_id 'demo', client_secret 'demo-secret',
//                                            HTTP Basic or form fields) -> { access_token, token_type, expires_in }
//   GET|HEAD|POST /v1/oauth/token/validate   a bearer validation endpoint shaped like SCAYLE's: the token as
//                                            `Authorization: Bearer`; 200 for a live token this issuer issued,
//                                            401 for a revoked, expired or unknown one
//   GET|HEAD /api/v2/tokens/me               the same shaped like Genesys Cloud's: 200 with a description of the
//                                            token (organization, OAuth client, scopes), 401 otherwise
//
// Usage:
//   import { startIssuer } from './issuer.mjs'
//   const idp = await startIssuer()                 // RS256 keys on a free port
//   const token = idp.sign({ sub: 'alice' })        // signed by the current key, valid 5 minutes
//   idp.rotate()                                    // new current key; the old one leaves the JWKS
//   idp.revoke(token)                               // the validation endpoints answer 401 for it from now on
//   await idp.close()
import http from 'node:http';
import crypto from 'node:crypto';

/**
 * @typedef {'RS256'|'RS384'|'RS512'|'PS256'|'PS384'|'PS512'|'ES256'|'ES384'|'EdDSA'} IssuerAlgorithm
 */

/**
 * @typedef {object} JsonWebKey
 * @property {string} kty
 * @property {string} kid
 * @property {string} alg
 * @property {'sig'} use
 * @property {string} [n]
 * @property {string} [e]
 * @property {string} [crv]
 * @property {string} [x]
 * @property {string} [y]
 * @property {string[]} [x5c]
 */

/**
 * @typedef {object} SignOptions
 * @property {string} [kid]        sign with this key (any key this issuer ever made, also one rotated out);
 *                                 default: the current key
 * @property {number} [expiresIn]  seconds from now until `exp`; negative for an already expired token; default 300
 * @property {Record<string, unknown>} [header]  extra or overriding JWS header members (`undefined` removes one)
 */

/**
 * @typedef {object} OutageMode
 * @property {'status'|'reset'|'stall'} type  'status': answer `status` (default 503) with optional Retry-After;
 *                                            'reset': destroy the connection without answering;
 *                                            'stall': accept and never answer
 * @property {number} [status]
 * @property {number} [retryAfter]  seconds, sent as `Retry-After`
 */

/**
 * @typedef {object} Issuer
 * @property {string} issuer        `http://127.0.0.1:PORT` (no trailing slash unless `trailingSlash`), the `iss`
 *                                 of every token
 * @property {string} origin        `http://127.0.0.1:PORT`
 * @property {string} jwksUri       `${issuer}/jwks.json`
 * @property {string} discoveryUrl  `${issuer}/.well-known/openid-configuration`
 * @property {string} tokenEndpoint `${issuer}/oauth/token`
 * @property {string} validateUrl   `${origin}/v1/oauth/token/validate` (SCAYLE-shaped validation endpoint)
 * @property {string} tokensMeUrl   `${origin}/api/v2/tokens/me` (Genesys-Cloud-shaped; add `?preserveIdleTTL=true`)
 * @property {number} port
 * @property {IssuerAlgorithm} alg
 * @property {string} currentKid    kid of the key `sign()` uses by default
 * @property {(payload?: Record<string, unknown>, options?: SignOptions) => string} sign
 *   A compact JWS. Claims default to `iss` = issuer, `aud` 'demo-api', `sub` 'demo-user', `iat` now,
 *   `exp` iat + expiresIn, `scope` 'read'; `payload` members override them (`undefined` removes one).
 * @property {() => string} rotate   make a new key current and remove the previous ones from the JWKS; returns the new kid
 * @property {(options?: { current?: boolean }) => string} addKey
 *   publish a new key beside the existing ones (the current key stays current unless `current: true`); returns its kid
 * @property {(kid: string) => void} removeKey  remove a key from the JWKS (it can still sign, for tests)
 * @property {{ keys: JsonWebKey[] }} keys  a copy of the JWKS currently published
 * @property {number} requests           JWKS requests received (any answer, outage included)
 * @property {number} discoveryRequests  discovery document requests received
 * @property {number} tokenRequests      token endpoint requests received
 * @property {{ path: string, method: string, query: string }[]} validationLog
 *   every request to the two validation endpoints (the token itself is not kept)
 * @property {(token: string) => void} revoke  the validation endpoints answer 401 for `token` from now on
 * @property {(mode: OutageMode | false | null) => void} setOutage
 *   make the JWKS endpoint fail (the discovery and token endpoints keep working); `false` ends the outage
 * @property {(value: string | null) => void} setCacheControl  the JWKS `Cache-Control` header (null: none)
 * @property {() => Promise<void>} close  stop listening and drop open connections
 */

/** Signing parameters per algorithm. */
const ALGS = {
  RS256: { kind: 'rsa', hash: 'sha256' },
  RS384: { kind: 'rsa', hash: 'sha384' },
  RS512: { kind: 'rsa', hash: 'sha512' },
  PS256: { kind: 'rsa', hash: 'sha256', pss: true },
  PS384: { kind: 'rsa', hash: 'sha384', pss: true },
  PS512: { kind: 'rsa', hash: 'sha512', pss: true },
  ES256: { kind: 'ec', hash: 'sha256', curve: 'P-256' },
  ES384: { kind: 'ec', hash: 'sha384', curve: 'P-384' },
  EdDSA: { kind: 'ed25519', hash: null },
};

export const CLIENT_ID = 'demo';
export const CLIENT_SECRET = 'demo-secret';
export const DEFAULT_AUDIENCE = 'demo-api';

const b64url = (input) => Buffer.from(input).toString('base64url');

// --- a minimal DER encoder, enough for one self-signed X.509 certificate per key (for `x5c`) ---
function derLength(n) {
  if (n < 0x80) return Buffer.from([n]);
  const bytes = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const der = (tag, ...parts) => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
};
const seq = (...parts) => der(0x30, ...parts);
function oid(dotted) {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const bytes = [a * 40 + b];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
}
const utcTime = (date) => der(0x17, Buffer.from(date.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z'));
const name = (cn) => seq(der(0x31, seq(oid('2.5.4.3'), der(0x0c, Buffer.from(cn)))));

/** A self-signed certificate (DER) of `publicKey`, signed by `privateKey`. */
function selfSignedCertificate(kind, privateKey, publicKey, cn) {
  let algorithm;
  let hash = 'sha256';
  if (kind === 'rsa')
    algorithm = seq(oid('1.2.840.113549.1.1.11'), der(0x05)); // sha256WithRSAEncryption
  else if (kind === 'ec') {
    const curve = publicKey.asymmetricKeyDetails?.namedCurve;
    hash = curve === 'secp384r1' ? 'sha384' : 'sha256';
    algorithm = seq(oid(hash === 'sha384' ? '1.2.840.10045.4.3.3' : '1.2.840.10045.4.3.2')); // ecdsa-with-SHAxxx
  } else {
    algorithm = seq(oid('1.3.101.112')); // Ed25519
    hash = null;
  }
  const now = Date.now();
  const serial = crypto.randomBytes(8);
  serial[0] = (serial[0] & 0x7f) | 0x40; // a positive INTEGER whose first byte is not 0 (DER: no needless leading zero)
  const tbs = seq(
    der(0xa0, der(0x02, Buffer.from([2]))), // version v3
    der(0x02, serial),
    algorithm,
    name(cn),
    seq(utcTime(new Date(now - 3600_000)), utcTime(new Date(now + 365 * 86400_000))),
    name(cn),
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = crypto.sign(hash, tbs, privateKey);
  return seq(tbs, algorithm, der(0x03, Buffer.from([0]), signature));
}

/** Serialise a payload or header, dropping members whose value is `undefined`. */
const json = (value) => JSON.stringify(value);

/** The two validation endpoints (see the top of this file). */
const VALIDATE_PATH = '/v1/oauth/token/validate';
const TOKENS_ME_PATH = '/api/v2/tokens/me';

const sha256 = (text) => crypto.createHash('sha256').update(text).digest('hex');

/**
 * Start the embedded issuer on 127.0.0.1.
 * @param {{ port?: number, alg?: IssuerAlgorithm, audience?: string, cacheControl?: string | null,
 *           x5c?: boolean, x5cOnly?: boolean, trailingSlash?: boolean, opaqueTokens?: boolean }} [options]
 *   `port` 0 (default) picks a free port; `alg` default 'RS256'; `audience` default 'demo-api';
 *   `cacheControl` default 'max-age=300'; `x5c` adds a self-signed certificate of each key (`x5c`, `x5t#S256`)
 *   to its JWK, as Genesys Cloud and Entra ID publish them; `x5cOnly` also drops `n`/`e` (`x`/`y`), so the
 *   certificate is the only source of the key. Both default false. `trailingSlash` (default false) makes the
 *   issuer `http://127.0.0.1:PORT/` (as Genesys Cloud's `https://api.mypurecloud.com/`); the discovery
 *   document stays at `http://127.0.0.1:PORT/.well-known/openid-configuration`. `opaqueTokens` (default false)
 *   makes the token endpoint issue opaque access tokens (random strings, valid 86399 s, as Genesys Cloud's are)
 *   instead of JWTs; only the validation endpoints can tell whether one is live.
 * @returns {Promise<Issuer>}
 */
export async function startIssuer({
  port = 0,
  alg = 'RS256',
  audience = DEFAULT_AUDIENCE,
  cacheControl = 'max-age=300',
  x5c = false,
  x5cOnly = false,
  trailingSlash = false,
  opaqueTokens = false,
} = {}) {
  const spec = ALGS[alg];
  if (!spec) throw new Error(`startIssuer: unsupported alg ${alg} (use one of ${Object.keys(ALGS).join(', ')})`);

  /** Every key ever made, by kid: { kid, privateKey, jwk }. */
  const allKeys = new Map();
  /** kids currently published, in publication order. */
  let published = [];
  let currentKid = '';
  let counter = 0;
  let requests = 0;
  let discoveryRequests = 0;
  let tokenRequests = 0;
  /** Every token this issuer issued, by SHA-256: { exp (epoch s or undefined), clientId, scope }. */
  const issued = new Map();
  const revoked = new Set();
  /** @type {Issuer['validationLog']} */
  const validationLog = [];
  /** @type {OutageMode | null} */
  let outage = null;
  let jwksCacheControl = cacheControl;
  const tag = crypto.randomBytes(3).toString('hex');

  function makeKey() {
    let pair;
    if (spec.kind === 'rsa') pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    else if (spec.kind === 'ec') pair = crypto.generateKeyPairSync('ec', { namedCurve: spec.curve });
    else pair = crypto.generateKeyPairSync('ed25519');
    const kid = `key-${++counter}-${tag}`;
    /** @type {Record<string, unknown>} */
    const jwk = { ...pair.publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
    if (x5c || x5cOnly) {
      const cert = selfSignedCertificate(spec.kind, pair.privateKey, pair.publicKey, `jwks-verify demo ${kid}`);
      jwk.x5c = [cert.toString('base64')];
      jwk['x5t#S256'] = b64url(crypto.createHash('sha256').update(cert).digest());
      if (x5cOnly) for (const member of ['n', 'e', 'x', 'y']) delete jwk[member];
    }
    allKeys.set(kid, { kid, privateKey: pair.privateKey, jwk });
    return kid;
  }

  function signWith(kid, header, payload) {
    const key = allKeys.get(kid);
    if (!key) throw new Error(`issuer.sign: unknown kid ${kid}`);
    const input = `${b64url(json(header))}.${b64url(json(payload))}`;
    let signature;
    if (spec.kind === 'ed25519') {
      signature = crypto.sign(null, Buffer.from(input), key.privateKey);
    } else {
      const keyOptions = { key: key.privateKey };
      if (spec.pss) {
        keyOptions.padding = crypto.constants.RSA_PKCS1_PSS_PADDING;
        keyOptions.saltLength = crypto.constants.RSA_PSS_SALTLEN_DIGEST;
      }
      if (spec.kind === 'ec') keyOptions.dsaEncoding = 'ieee-p1363';
      signature = crypto.sign(spec.hash, Buffer.from(input), keyOptions);
    }
    return `${input}.${b64url(signature)}`;
  }

  currentKid = makeKey();
  published = [currentKid];

  const jwks = () => ({ keys: published.map((kid) => structuredClone(allKeys.get(kid).jwk)) });

  let origin = '';
  let issuer = '';

  /** @type {Issuer['sign']} */
  function sign(payload = {}, { kid = currentKid, expiresIn = 300, header = {} } = {}) {
    const iat = Math.floor(Date.now() / 1000);
    const claims = { iss: issuer, aud: audience, sub: 'demo-user', iat, exp: iat + expiresIn, scope: 'read', ...payload };
    const jwsHeader = { alg, typ: 'JWT', kid, ...header };
    const token = signWith(kid, jwsHeader, claims);
    issued.set(sha256(token), { exp: claims.exp, clientId: claims.client_id, scope: claims.scope });
    return token;
  }

  /** A random opaque access token, remembered like a signed one. */
  function issueOpaque(clientId, scope, expiresIn) {
    const token = crypto.randomBytes(48).toString('base64url');
    issued.set(sha256(token), { exp: Math.floor(Date.now() / 1000) + expiresIn, clientId, scope });
    return token;
  }

  /** The validation endpoints: 200 for a live token this issuer issued, else 401 (RFC 6750 invalid_token). */
  function validationEndpoint(req, res, path) {
    validationLog.push({ path, method: req.method ?? 'GET', query: new URL(req.url || '/', origin).search });
    const token = /^Bearer (\S+)$/i.exec(String(req.headers.authorization || ''))?.[1];
    const hash = token ? sha256(token) : '';
    const entry = issued.get(hash);
    const live = entry && !revoked.has(hash) && !(typeof entry.exp === 'number' && entry.exp <= Date.now() / 1000);
    if (!live) return send(res, 401, { error: 'invalid_token' }, { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
    if (req.method === 'HEAD') {
      res.writeHead(200);
      return res.end();
    }
    // Genesys Cloud's tokens/me describes the token; SCAYLE's endpoint only says yes.
    const scopes = String(entry.scope ?? '')
      .split(' ')
      .filter(Boolean);
    const org = { id: 'org-1', name: 'Demo Org' };
    const body =
      path === TOKENS_ME_PATH
        ? {
            organization: org,
            homeOrganization: org,
            authorizedScope: scopes,
            OAuthClient: { id: entry.clientId ?? null, name: 'demo client' },
          }
        : {};
    return send(res, 200, body, { 'Cache-Control': 'no-store' });
  }

  function send(res, status, body, headers = {}) {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  function readBody(req, limit = 64 * 1024) {
    return new Promise((resolve, reject) => {
      let size = 0;
      const chunks = [];
      req.on('data', (c) => {
        size += c.length;
        if (size > limit) {
          reject(new Error('body too large'));
          req.destroy();
        } else chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
  }

  async function tokenEndpoint(req, res) {
    tokenRequests++;
    const raw = await readBody(req);
    const type = String(req.headers['content-type'] || '');
    let form;
    if (type.includes('application/json')) {
      try {
        form = new URLSearchParams(Object.entries(JSON.parse(raw) ?? {}).map(([k, v]) => [k, String(v)]));
      } catch {
        return send(res, 400, { error: 'invalid_request', error_description: 'body is not JSON' });
      }
    } else {
      form = new URLSearchParams(raw);
    }
    let clientId = form.get('client_id');
    let clientSecret = form.get('client_secret');
    const auth = String(req.headers.authorization || '');
    if (/^basic /i.test(auth)) {
      const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon >= 0) {
        clientId = decodeURIComponent(decoded.slice(0, colon));
        clientSecret = decodeURIComponent(decoded.slice(colon + 1));
      }
    }
    if (clientId !== CLIENT_ID || clientSecret !== CLIENT_SECRET) {
      return send(res, 401, { error: 'invalid_client' }, { 'WWW-Authenticate': 'Basic realm="demo"' });
    }
    if (form.get('grant_type') !== 'client_credentials') {
      return send(res, 400, { error: 'unsupported_grant_type' });
    }
    const expiresIn = opaqueTokens ? 86399 : 300;
    const claims = { sub: clientId, client_id: clientId, scope: form.get('scope') || 'read' };
    if (form.get('audience')) claims.aud = form.get('audience');
    const accessToken = opaqueTokens
      ? issueOpaque(clientId, claims.scope, expiresIn)
      : sign(claims, { expiresIn, header: { typ: 'at+jwt' } });
    return send(
      res,
      200,
      { access_token: accessToken, token_type: 'Bearer', expires_in: expiresIn },
      {
        'Cache-Control': 'no-store',
      },
    );
  }

  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const path = (req.url || '/').split('?')[0];
    if (req.method === 'GET' && path === '/.well-known/openid-configuration') {
      discoveryRequests++;
      return send(
        res,
        200,
        {
          issuer,
          jwks_uri: `${origin}/jwks.json`,
          token_endpoint: `${origin}/oauth/token`,
          grant_types_supported: ['client_credentials'],
          token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
          id_token_signing_alg_values_supported: [alg],
          response_types_supported: ['token'],
          subject_types_supported: ['public'],
        },
        { 'Cache-Control': 'max-age=3600' },
      );
    }
    if (req.method === 'GET' && path === '/jwks.json') {
      requests++;
      if (outage) {
        if (outage.type === 'stall') return; // never answer; close() destroys the socket
        if (outage.type === 'reset') return req.socket.destroy();
        const headers = outage.retryAfter !== undefined ? { 'Retry-After': String(outage.retryAfter) } : {};
        return send(res, outage.status ?? 503, { error: 'temporarily_unavailable' }, headers);
      }
      return send(res, 200, jwks(), jwksCacheControl ? { 'Cache-Control': jwksCacheControl } : {});
    }
    if (req.method === 'POST' && path === '/oauth/token') {
      return tokenEndpoint(req, res).catch(() => {
        if (!res.headersSent) send(res, 400, { error: 'invalid_request' });
      });
    }
    const validationMethods = path === VALIDATE_PATH ? ['GET', 'HEAD', 'POST'] : path === TOKENS_ME_PATH ? ['GET', 'HEAD'] : [];
    if (validationMethods.includes(req.method ?? '')) return validationEndpoint(req, res, path);
    return send(res, 404, { error: 'not_found' });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actualPort = /** @type {import('node:net').AddressInfo} */ (server.address()).port;
  origin = `http://127.0.0.1:${actualPort}`;
  issuer = trailingSlash ? `${origin}/` : origin;

  /** @type {Issuer} */
  const api = {
    issuer,
    origin,
    jwksUri: `${origin}/jwks.json`,
    discoveryUrl: `${origin}/.well-known/openid-configuration`,
    tokenEndpoint: `${origin}/oauth/token`,
    validateUrl: `${origin}${VALIDATE_PATH}`,
    tokensMeUrl: `${origin}${TOKENS_ME_PATH}`,
    port: actualPort,
    alg,
    get currentKid() {
      return currentKid;
    },
    sign,
    rotate() {
      currentKid = makeKey();
      published = [currentKid];
      return currentKid;
    },
    addKey({ current = false } = {}) {
      const kid = makeKey();
      published.push(kid);
      if (current) currentKid = kid;
      return kid;
    },
    removeKey(kid) {
      published = published.filter((k) => k !== kid);
    },
    get keys() {
      return jwks();
    },
    get requests() {
      return requests;
    },
    get discoveryRequests() {
      return discoveryRequests;
    },
    get tokenRequests() {
      return tokenRequests;
    },
    validationLog,
    revoke(token) {
      revoked.add(sha256(token));
    },
    setOutage(mode) {
      outage = mode ? { ...mode } : null;
    },
    setCacheControl(value) {
      jwksCacheControl = value;
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
    },
  };
  return api;
}
