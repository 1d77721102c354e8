// Typed Express usage of jwks-verify/express: `req.auth` is typed through the Express.Request augmentation.
import express, { type Request, type Response } from 'express';
import { createVerifier, type JwtPayload } from 'jwks-verify';
import authenticate, { requireScope, type AuthInfo } from 'jwks-verify/express';

interface Claims extends JwtPayload {
  sub: string;
  scope?: string;
  tenant?: string;
}

export function createTypedApp(issuer: string): express.Express {
  const verifier = createVerifier({ issuer, audience: 'demo-api' });
  const app = express();
  app.use('/api', authenticate({ verifier, realm: 'demo-api' }));
  // Options form: the middleware makes its own Verifier; the token may come from elsewhere than the header.
  app.use(
    '/reports',
    authenticate({
      issuer,
      audience: 'reports',
      credentialsRequired: false,
      getToken: (req) => (typeof req.query?.access_token === 'string' ? req.query.access_token : undefined),
    }),
  );

  app.get('/api/me', (req: Request, res: Response) => {
    const auth: AuthInfo | undefined = req.auth; // typed by the augmentation in jwks-verify/express
    const claims = auth?.payload as Claims;
    res.json({ sub: claims.sub, tenant: claims.tenant ?? null, alg: req.auth?.header?.alg });
  });
  app.post('/api/orders', requireScope('orders:write'), (req, res) => {
    res.status(201).json({ by: req.auth!.payload.sub });
  });
  return app;
}
