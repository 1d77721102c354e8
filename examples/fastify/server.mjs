// Fastify 5 API protected by jwks-verify/fastify.
//
//   node examples/fastify/server.mjs          starts the embedded demo issuer and this API, tries it, prints curl commands
//   node examples/fastify/server.mjs --once   the same, then exits
import Fastify from 'fastify';
import { createVerifier } from 'jwks-verify';
import jwksVerify from 'jwks-verify/fastify';
import { pathToFileURL } from 'node:url';

/** The application: `/health` is open; `/me` and `/orders` run `fastify.authenticate` in their onRequest hook. */
export async function createApp({ verifier, logger = false }) {
  const app = Fastify({ logger });
  await app.register(jwksVerify, { verifier, realm: 'demo-api' });

  app.get('/health', async () => ({ ok: true }));
  app.get('/me', { onRequest: app.authenticate }, async (request) => ({
    sub: request.auth.payload.sub,
    scope: request.auth.payload.scope ?? null,
  }));
  app.post('/orders', { onRequest: [app.authenticate, app.requireScope('orders:write')] }, async (request, reply) => {
    reply.code(201);
    return { created: true, by: request.auth.payload.sub };
  });
  return app;
}

async function main() {
  const { startIssuer } = await import('../issuer.mjs');
  const idp = await startIssuer();
  const verifier = createVerifier({ issuer: idp.issuer, audience: 'demo-api' });
  const app = await createApp({ verifier });
  const url = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
  console.log(`Fastify API on ${url} (issuer ${idp.issuer})`);
  const stop = async () => {
    await app.close();
    verifier.close();
    await idp.close();
  };
  const tries = [
    ['GET', '/me', idp.sign({ sub: 'alice' })],
    ['GET', '/me', 'not-a-token'],
    ['POST', '/orders', idp.sign({ sub: 'alice', scope: 'orders:write' })],
    ['POST', '/orders', idp.sign({ sub: 'alice' })],
    ['GET', '/health', null],
  ];
  for (const [method, path, token] of tries) {
    const res = await fetch(url + path, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
    const www = res.headers.get('www-authenticate');
    console.log(
      `  ${method} ${path} ${token ? 'with a token' : 'without a token'} -> ${res.status} ${await res.text()}${www ? `  [WWW-Authenticate: ${www}]` : ''}`,
    );
  }
  if (process.argv.includes('--once')) return stop();
  console.log(`Try it: curl -i ${url}/me -H "Authorization: Bearer ${idp.sign({ sub: 'alice' }, { expiresIn: 3600 })}"`);
  console.log('Ctrl-C to stop.');
  process.once('SIGINT', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
