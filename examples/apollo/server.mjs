// Apollo Server 5 (startStandaloneServer) with the bearer token verified once per request by jwks-verify/apollo.
//
//   node examples/apollo/server.mjs          starts the embedded demo issuer and this API, tries it, prints a curl command
//   node examples/apollo/server.mjs --once   the same, then exits
//
// `me` needs any valid token, `orders` needs the scope `orders:read`, `hello` is public.
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { createVerifier } from 'jwks-verify';
import { authContext, requireAuth, requireScope } from 'jwks-verify/apollo';
import { pathToFileURL } from 'node:url';

export const typeDefs = `#graphql
  type Order { id: ID!, total: Float! }
  type Query {
    hello: String!
    me: String!
    orders: [Order!]!
  }
`;

export const resolvers = {
  Query: {
    hello: () => 'world',
    me: (_parent, _args, ctx) => requireAuth(ctx).payload.sub,
    orders: (_parent, _args, ctx) => {
      const auth = requireScope(ctx, 'orders:read'); // FORBIDDEN (403) without the scope
      return [{ id: `${auth.payload.sub}-1`, total: 42.5 }];
    },
  },
};

/** Starts the GraphQL server on 127.0.0.1; resolves `{ url, server }`. */
export async function startApi({ verifier, port = 0 }) {
  const server = new ApolloServer({ typeDefs, resolvers });
  // A missing token gives `auth: null` (credentialsRequired is false by default here); a bad token fails the
  // request with UNAUTHENTICATED / HTTP 401; the provider's outage with SERVICE_UNAVAILABLE / HTTP 503.
  const context = authContext({ verifier, context: async ({ req }) => ({ requestId: req.headers['x-request-id'] ?? null }) });
  const { url } = await startStandaloneServer(server, { context, listen: { port, host: '127.0.0.1' } });
  return { url, server };
}

async function main() {
  const { startIssuer } = await import('../issuer.mjs');
  const idp = await startIssuer();
  const verifier = createVerifier({ issuer: idp.issuer, audience: 'demo-api' });
  const { url, server } = await startApi({ verifier, port: Number(process.env.PORT ?? 0) });
  console.log(`GraphQL API on ${url} (issuer ${idp.issuer})`);
  const stop = async () => {
    await server.stop();
    verifier.close();
    await idp.close();
  };
  const tries = [
    ['{ me orders { id total } }', idp.sign({ sub: 'alice', scope: 'orders:read' })],
    ['{ me orders { id } }', idp.sign({ sub: 'bob', scope: 'read' })],
    ['{ hello }', null],
    ['{ hello }', idp.sign({ sub: 'alice' }, { expiresIn: -60 })],
  ];
  for (const [query, token] of tries) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query }),
    });
    console.log(`  ${query} ${token ? 'with a token' : 'without a token'} -> ${res.status} ${(await res.text()).trim()}`);
  }
  if (process.argv.includes('--once')) return stop();
  const token = idp.sign({ sub: 'alice', scope: 'orders:read' }, { expiresIn: 3600 });
  console.log(
    `Try it: curl -s ${url} -H 'content-type: application/json' -H "Authorization: Bearer ${token}" -d '{"query":"{ me orders { id total } }"}'`,
  );
  console.log('Ctrl-C to stop.');
  process.once('SIGINT', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
