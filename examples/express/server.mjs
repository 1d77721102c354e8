// Express 5 API protected by jwks-verify/express.
//
//   node examples/express/server.mjs          starts the embedded demo issuer and this API, tries it, prints curl commands
//   node examples/express/server.mjs --once   the same, then exits
//
// In your app: replace the demo issuer by your provider's issuer URL and your API's audience.
import express from 'express';
import { createVerifier } from 'jwks-verify';
import { authenticate, requireScope } from 'jwks-verify/express';
import { pathToFileURL } from 'node:url';

/** The application: `/health` is open, everything under `/api` needs a valid bearer token. */
export function createApp({ verifier }) {
  const app = express();
  app.get('/health', (req, res) => res.json({ ok: true }));

  // 401 invalid_token / 400 invalid_request / 503 + Retry-After are answered by the middleware (RFC 6750).
  app.use('/api', authenticate({ verifier, realm: 'demo-api' }));

  app.get('/api/me', (req, res) => {
    res.json({ sub: req.auth.payload.sub, scope: req.auth.payload.scope ?? null, kid: req.auth.header.kid });
  });
  // 403 insufficient_scope unless the token's `scope` (or `scp`) has `orders:write`.
  app.post('/api/orders', requireScope('orders:write'), (req, res) => {
    res.status(201).json({ created: true, by: req.auth.payload.sub });
  });
  return app;
}

async function main() {
  const { startIssuer } = await import('../issuer.mjs');
  const idp = await startIssuer();
  const verifier = createVerifier({ issuer: idp.issuer, audience: 'demo-api' });
  const app = createApp({ verifier });
  const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  console.log(`Express API on ${url} (issuer ${idp.issuer})`);
  const stop = () => {
    server.close();
    server.closeAllConnections();
    verifier.close();
    return idp.close();
  };
  const tries = [
    ['GET', '/api/me', idp.sign({ sub: 'alice' })],
    ['GET', '/api/me', idp.sign({ sub: 'alice' }, { expiresIn: -60 })],
    ['POST', '/api/orders', idp.sign({ sub: 'alice', scope: 'read' })],
    ['POST', '/api/orders', idp.sign({ sub: 'alice', scope: 'read orders:write' })],
    ['GET', '/api/me', null],
  ];
  for (const [method, path, token] of tries) {
    const res = await fetch(url + path, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
    const www = res.headers.get('www-authenticate');
    console.log(
      `  ${method} ${path} ${token ? 'with a token' : 'without a token'} -> ${res.status} ${await res.text()}${www ? `  [WWW-Authenticate: ${www}]` : ''}`,
    );
  }
  if (process.argv.includes('--once')) return stop();
  console.log(`Try it: curl -i ${url}/api/me -H "Authorization: Bearer ${idp.sign({ sub: 'alice' }, { expiresIn: 3600 })}"`);
  console.log('Ctrl-C to stop.');
  process.once('SIGINT', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
