// A SCAYLE-shaped token validation endpoint on a JWKS server of `jwks-server.mjs`: `GET|HEAD|POST <path>` with the
// token as `Authorization: Bearer`; 200 for a live token, 401 for a revoked (or malformed) one, and failures on
// demand. Counts every request and remembers which tokens it was asked about (as SHA-256, like the engine).
import { createHash } from 'node:crypto';
import { sendJson } from './jwks-server.mjs';

const sha = (token) => createHash('sha256').update(token).digest('hex');

/**
 * Adds the endpoint to `server` (a `startJwksServer` result) at `path`. Returns a controller:
 * `url`, `count` (requests), `log` (`{ method, tokenHash, query, at }` each), `revoke(token)`, `setMode(mode)`,
 * `setBody(obj)` (the JSON body of a 200; default `{ active: true }`), `release()` (answers stalled requests with
 * the current mode), `reset()`.
 * Modes: `{ type: 'ok' }` (default), `{ type: 'status', status, headers, body }`, `{ type: 'stall' }` (hold the
 * request until `release()` or the server closes), `{ type: 'body', body, contentType }` (a 200 with that text).
 */
export function addValidationEndpoint(server, path = '/v1/oauth/token/validate') {
  const revoked = new Set();
  const log = [];
  const held = [];
  let mode = { type: 'ok' };
  let body = { active: true };

  function answer(req, res, token) {
    const m = mode;
    if (m.type === 'stall') return held.push({ req, res, token });
    if (m.type === 'status') {
      res.writeHead(m.status, { 'content-type': 'application/json', ...(m.headers ?? {}) });
      return res.end(m.body ?? '');
    }
    if (m.type === 'body') {
      res.writeHead(200, { 'content-type': m.contentType ?? 'application/json' });
      return res.end(m.body ?? '');
    }
    if (!token || revoked.has(sha(token))) {
      res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' });
      return res.end();
    }
    if (req.method === 'HEAD') {
      res.writeHead(200);
      return res.end();
    }
    return sendJson(res, body);
  }

  server.route(path, (req, res) => {
    const auth = req.headers.authorization ?? '';
    const token = /^Bearer (.+)$/.exec(auth)?.[1];
    log.push({ method: req.method, tokenHash: token ? sha(token) : null, query: new URL(req.url, 'http://x').search, at: Date.now() });
    answer(req, res, token);
  });

  return {
    url: `${server.origin}${path}`,
    get count() {
      return log.length;
    },
    log,
    /** How many requests asked about `token`. */
    countFor(token) {
      return log.filter((e) => e.tokenHash === sha(token)).length;
    },
    revoke(token) {
      revoked.add(sha(token));
    },
    setMode(next) {
      mode = next;
    },
    setBody(next) {
      body = next;
    },
    /** Answers every stalled request with the current mode. */
    release() {
      for (const { req, res, token } of held.splice(0)) if (!res.destroyed) answer(req, res, token);
    },
    reset() {
      log.length = 0;
    },
  };
}
