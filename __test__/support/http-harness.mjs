// Shared setup of the HTTP entry-point suites (express, fastify, apollo, ssr): a signing key and a look-alike,
// a JWKS server, Verifiers and servers on 127.0.0.1 that are closed after the file, claims and requests.
import { testClock } from './expect.mjs';
import { after } from 'node:test';
import http from 'node:http';
import { Verifier } from 'jwks-verify';
import { generateKey, toJwks, now } from './keys.mjs';
import { startJwksServer } from './jwks-server.mjs';

/**
 * One suite's fixture. Registers an `after` hook that runs `cleanups` in reverse order; `issuer` and `audience`
 * go into the Verifiers and the claims, `claims` (e.g. `{ scope }`) are the suite's further default claims.
 */
export function httpHarness({ issuer, audience, claims: defaults = {} }) {
  const cleanups = [];
  let jwks;

  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  /** A JWKS server (support/jwks-server.mjs) publishing `key`, closed after the file. */
  async function startJwks(key) {
    const server = await startJwksServer({ jwks: toJwks(key) });
    cleanups.push(() => server.close());
    return server;
  }

  return {
    /** Functions (sync or async) run in reverse order after the file's tests; push your own. */
    cleanups,

    startJwks,

    /**
     * `key` (of `alg`), `otherKey` (same alg, same kid, another key: a bad signature) and `jwks`, the suite's
     * JWKS server publishing `key` (closed after the file).
     */
    async startKeys(alg) {
      const key = generateKey(alg);
      const otherKey = generateKey(alg, { kid: key.kid });
      jwks = await startJwks(key);
      return { key, otherKey, jwks };
    },

    /** Claims valid for 5 minutes from now: `iss`, `aud`, `sub: 'alice'`, `iat`, `exp`, the defaults, then `extra`. */
    claims(extra = {}) {
      const t = now();
      return { iss: issuer, aud: audience, sub: 'alice', iat: t, exp: t + 300, ...defaults, ...extra };
    },

    /**
     * A Verifier for `issuer`/`audience` on `jwksUri` (the `startKeys` server unless told), reading the test clock
     * (`advanceClock` in expect.mjs moves it), closed after the file.
     */
    newVerifier(jwksUri = jwks.url, extra = {}) {
      const v = new Verifier({ issuer, audience, jwksUri, testClock, ...extra });
      cleanups.push(() => v.close());
      return v;
    },

    /**
     * Serves on 127.0.0.1, a free port, closed after the file: `serverOrHandler` is a node:http Server, or a request
     * handler (an Express app, a Connect-style function) for a new one. Resolves the origin `http://127.0.0.1:PORT`.
     */
    async listen(serverOrHandler) {
      const server = typeof serverOrHandler === 'function' ? http.createServer(serverOrHandler) : serverOrHandler;
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      cleanups.push(() => new Promise((resolve) => server.close(resolve)));
      return `http://127.0.0.1:${server.address().port}`;
    },
  };
}

/** GET `url` with `headers`: `{ status, headers, body }`, the body parsed as JSON, or the text if it is not JSON. */
export async function get(url, headers = {}) {
  const res = await fetch(url, { headers });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, headers: res.headers, body };
}

/** Request headers carrying `token` as a Bearer token. */
export const bearer = (token) => ({ authorization: `Bearer ${token}` });
