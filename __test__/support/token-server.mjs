// A token endpoint that misbehaves on demand, for the TokenSource fault suites: a route of the JWKS server
// (jwks-server.mjs) on 127.0.0.1 that records every request's form and answers as its mode says.
import { startJwksServer, sendJson } from './jwks-server.mjs';

/** The form of a request body as an object; a repeated name gives an array (`resource=a&resource=b`). */
function formObject(params) {
  const form = {};
  for (const name of new Set(params.keys())) {
    const all = params.getAll(name);
    form[name] = all.length === 1 ? all[0] : all;
  }
  return form;
}

/**
 * Starts a token endpoint at `path` (default '/oauth/token'). Returns
 * `{ url, origin, requests, count, issued, setMode, route, close }`; see support/README.md.
 */
export async function startTokenServer({ path = '/oauth/token' } = {}) {
  const srv = await startJwksServer();
  let mode = { type: 'ok' };
  const requests = [];
  const issued = [];
  const timers = new Set();

  function answer(res, m = mode) {
    switch (m.type) {
      case 'slow': {
        const t = setTimeout(() => {
          timers.delete(t);
          if (!res.destroyed) answer(res, { ...m, type: 'ok' });
        }, m.delayMs);
        timers.add(t);
        return;
      }
      case 'ok': {
        const token = `tok-${issued.length + 1}-${Math.random().toString(36).slice(2)}`;
        issued.push(token);
        const body = { access_token: token, token_type: m.tokenType ?? 'Bearer', expires_in: m.expiresIn ?? 3600, ...(m.extra ?? {}) };
        for (const name of m.omit ?? []) delete body[name];
        return sendJson(res, body, 200, m.headers ?? {});
      }
      case 'status':
        return sendJson(res, m.body ?? '', m.status, m.headers ?? {});
      case 'stall':
        return; // accepted, never answered; close() destroys the socket
      case 'body':
        res.writeHead(200, { 'content-type': m.contentType ?? 'application/json' });
        return res.end(m.body ?? '');
      default:
        res.writeHead(500);
        return res.end(`unknown mode ${m.type}`);
    }
  }

  srv.route(path, (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method, headers: { ...req.headers }, body, form: formObject(new URLSearchParams(body)), at: Date.now() });
      answer(res);
    });
  });

  return {
    url: `${srv.origin}${path}`,
    origin: srv.origin,
    /** Every request to the token path: `{ method, headers, body, form, at }`. */
    requests,
    /** Requests to the token path so far. */
    get count() {
      return requests.length;
    },
    /** Every access_token answered in mode ok, in order. */
    issued,
    setMode(next) {
      mode = next;
    },
    route: (p, handler) => srv.route(p, handler),
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      return srv.close();
    },
  };
}
