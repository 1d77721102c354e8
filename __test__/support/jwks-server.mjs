// A real HTTP JWKS server on 127.0.0.1 for the integration suites: serves a key set, counts and logs requests,
// and misbehaves on demand (status codes, stalls, garbage, huge bodies, redirects, slowness, 304s).
import http from 'node:http';

const CHUNK = 64 * 1024;

function headerValue(headers, name) {
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === wanted) return v;
  return undefined;
}

/**
 * Streams `bytes` bytes of JSON-looking text (`{"keys":[],"pad":"xxxx…"}`, cut short if bytes is small), telling
 * `onWrite(size)` of every piece handed to the socket.
 */
function streamHuge(res, { bytes, chunked = false }, onWrite) {
  const head = '{"keys":[],"pad":"';
  const tail = '"}';
  const headers = { 'content-type': 'application/json' };
  if (!chunked) headers['content-length'] = String(bytes);
  res.writeHead(200, headers);
  let sent = 0;
  let stopped = false;
  res.on('close', () => {
    stopped = true;
  });
  const next = () => {
    if (stopped) return;
    while (sent < bytes) {
      const size = Math.min(CHUNK, bytes - sent);
      let piece;
      if (sent === 0) piece = (head + 'x'.repeat(Math.max(0, size - head.length))).slice(0, size);
      else if (sent + size === bytes && size >= tail.length) piece = 'x'.repeat(size - tail.length) + tail;
      else piece = 'x'.repeat(size);
      sent += size;
      onWrite(size);
      if (!res.write(piece)) {
        res.once('drain', next);
        return;
      }
    }
    res.end();
  };
  next();
}

/**
 * An http server on 127.0.0.1 (a free port) for `handler`. Returns `{ server, origin, port, close }`;
 * `close()` stops it at once, open (stalled, keep-alive) sockets included; idempotent, returns a promise.
 */
export async function listenOnLoopback(handler) {
  const server = http.createServer(handler);
  const sockets = new Set();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  let closed;
  return {
    server,
    port,
    origin: `http://127.0.0.1:${port}`,
    close() {
      closed ??= new Promise((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closed;
    },
  };
}

/** Answers `body` as JSON (for `route` handlers, e.g. a discovery document). */
export function sendJson(res, body, status = 200, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

/**
 * Starts a JWKS server. Returns
 * `{ url, origin, port, count, log, setJwks, setHeaders, setMode, route, countFor, reset, close }`.
 */
export async function startJwksServer({ jwks = { keys: [] }, path = '/jwks.json' } = {}) {
  let current = jwks;
  let extraHeaders = {};
  let mode = { type: 'ok' };
  let count = 0;
  let streamed = 0;
  const log = [];
  const routes = new Map();
  const timers = new Set();

  function answerOk(req, res) {
    const etag = headerValue(extraHeaders, 'etag');
    const lastModified = headerValue(extraHeaders, 'last-modified');
    const inm = req.headers['if-none-match'];
    const ims = req.headers['if-modified-since'];
    const notModified =
      (etag !== undefined && inm !== undefined && inm.split(',').some((t) => t.trim() === etag)) ||
      (etag === undefined && lastModified !== undefined && ims !== undefined && Date.parse(ims) >= Date.parse(lastModified));
    if (notModified) {
      res.writeHead(304, extraHeaders);
      res.end();
      return;
    }
    const body = typeof current === 'string' ? current : JSON.stringify(current);
    res.writeHead(200, { 'content-type': 'application/json', ...extraHeaders });
    res.end(body);
  }

  function answerJwks(req, res) {
    const m = mode;
    switch (m.type) {
      case 'ok':
        return answerOk(req, res);
      case 'status':
        res.writeHead(m.status, { 'content-type': 'application/json', ...extraHeaders, ...(m.headers ?? {}) });
        return res.end(m.body ?? '');
      case 'stall':
        return; // accepted, never answered; close() destroys the socket
      case 'body':
        res.writeHead(200, { ...extraHeaders, 'content-type': m.contentType ?? 'application/json' });
        return res.end(m.body ?? '');
      case 'huge':
        return streamHuge(res, m, (size) => {
          streamed += size;
        });
      case 'redirect':
        res.writeHead(m.status ?? 302, { location: m.location });
        return res.end();
      case 'slow': {
        const t = setTimeout(() => {
          timers.delete(t);
          if (!res.destroyed) answerOk(req, res);
        }, m.delayMs);
        timers.add(t);
        return;
      }
      default:
        res.writeHead(500);
        return res.end(`unknown mode ${m.type}`);
    }
  }

  const { origin, port, close } = await listenOnLoopback((req, res) => {
    const pathname = new URL(req.url, 'http://127.0.0.1').pathname;
    log.push({ path: pathname, method: req.method, headers: { ...req.headers }, at: Date.now() });
    const handler = routes.get(pathname);
    if (handler) return handler(req, res);
    if (pathname === path) {
      count += 1;
      return answerJwks(req, res);
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });

  return {
    url: `${origin}${path}`,
    origin,
    port,
    path,
    /** Requests to the JWKS path (any mode). */
    get count() {
      return count;
    },
    /** Body bytes written so far by mode 'huge' (all requests): how much a client read before it hung up. */
    get streamed() {
      return streamed;
    },
    /** Every request on any path: `{ path, method, headers, at }`. */
    log,
    /** Requests logged for `p` (any path, routes included). */
    countFor(p) {
      return log.filter((e) => e.path === p).length;
    },
    /** Zero `count` and `streamed`, empty `log`. */
    reset() {
      count = 0;
      streamed = 0;
      log.length = 0;
    },
    /** Key set served in mode 'ok' (an object, or a string sent verbatim). */
    setJwks(next) {
      current = next;
    },
    /** Extra headers on JWKS answers (Cache-Control, ETag, Last-Modified...); replaces the previous set. */
    setHeaders(obj) {
      extraHeaders = { ...obj };
    },
    setMode(next) {
      mode = next;
    },
    route(p, handler) {
      routes.set(p, handler);
    },
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      return close();
    },
  };
}
