// Typed Apollo Server usage of jwks-verify/apollo.
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { createVerifier } from 'jwks-verify';
import { authContext, requireScope, type AuthContext } from 'jwks-verify/apollo';

interface Context extends AuthContext {
  requestId: string | null;
}

export async function startTypedApi(issuer: string): Promise<string> {
  const server = new ApolloServer<Context>({
    typeDefs: 'type Query { orders: [String!]! }',
    resolvers: {
      Query: {
        orders: (_parent: unknown, _args: unknown, ctx: Context) => [`order of ${String(requireScope(ctx, 'orders:read').payload.sub)}`],
      },
    },
  });
  const context = authContext({
    verifier: createVerifier({ issuer, audience: 'demo-api' }),
    context: async ({ req }) => ({ requestId: typeof req.headers['x-request-id'] === 'string' ? req.headers['x-request-id'] : null }),
  });
  const { url } = await startStandaloneServer(server, { context, listen: { port: 0, host: '127.0.0.1' } });
  return url;
}
