// Typed Fastify usage of jwks-verify/fastify: `fastify.authenticate` and `request.auth` come from its declarations.
import Fastify, { type FastifyInstance } from 'fastify';
import { createVerifier } from 'jwks-verify';
import jwksVerify from 'jwks-verify/fastify';

export async function createTypedApp(issuer: string): Promise<FastifyInstance> {
  const app = Fastify();
  // A Verifier made here logs key-source changes through app.log (the plugin does that for one it makes).
  await app.register(jwksVerify, { verifier: createVerifier({ issuer, audience: 'demo-api', logger: app.log }), realm: 'demo-api' });
  app.get('/me', { onRequest: app.authenticate }, async (request) => {
    const sub: unknown = request.auth?.payload.sub;
    return { sub, kid: request.auth?.header?.kid ?? null };
  });
  app.delete('/orders/:id', { onRequest: [app.authenticate, app.requireScope('orders:write')] }, async (request, reply) => {
    reply.code(204);
  });
  // The Verifier the plugin uses, e.g. for a readiness probe.
  app.get('/ready', async () => ({ issuers: app.jwksVerifier.health().map((h) => h.state) }));
  return app;
}
