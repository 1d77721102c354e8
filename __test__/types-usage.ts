// Type-level usage of the public API as a TypeScript user writes it. Never run: checked by
// `tsc -p __test__/tsconfig.json` against the generated index.d.ts. `@ts-expect-error` lines must stay errors.
import { Verifier, createVerifier, TokenSource, createTokenSource } from '../index.js';
import type {
  AccessToken,
  Algorithm,
  ClientAuthMethod,
  ErrorCode,
  IssuerHealth,
  JwtPayload,
  TokenSourceEvent,
  TokenSourceOptions,
  VerifierEvent,
  VerifierOptions,
  VerifierStats,
  VerifyError,
  VerifyResult,
} from '../index.js';

interface MyClaims extends JwtPayload {
  myClaim: string;
  roles: string[];
}

const algorithms: Algorithm[] = ['RS256', 'PS256', 'ES256', 'ES512', 'EdDSA', 'Ed25519'];

const options: VerifierOptions = {
  issuer: 'https://issuer.example.com/',
  audience: ['api', 'admin'],
  algorithms,
  clockTolerance: '30s',
  maxTokenAge: 3600,
  requiredClaims: ['exp', 'sub'],
  subject: 'user-1',
  typ: 'at+jwt',
  maxTokenLength: 8192,
  cache: { maxAge: '10m', cooldown: 30, maxStale: '1d' },
  http: { timeout: '1.5s', headers: { 'user-agent': 'my-service' }, maxBytes: 1 << 20, allowHttp: false },
  tokenCache: 1000,
  logger: console,
  onEvent(event: VerifierEvent) {
    if ('shared' in event) {
      const redis: string = event.endpoint;
      console.log(event.type, redis, event.error?.message);
      return;
    }
    if (event.type === 'revalidate') {
      const endpoint: string = event.endpoint;
      const active: boolean | undefined = event.active;
      console.log(endpoint, active);
      return;
    }
    const type: 'fetch' | 'rotate' | 'stale' | 'error' | 'warning' = event.type;
    const uri: string = event.jwksUri;
    const took: number | undefined = event.durationMs;
    const failure: ErrorCode | undefined = event.error?.code;
    console.log(type, uri, took, failure, event.kids?.length, event.added, event.removed, event.status);
  },
};

const verifier = new Verifier(options);

const multi = createVerifier({
  issuers: [
    { issuer: 'https://a.example.com', jwksUri: 'https://a.example.com/jwks.json', audience: 'api' },
    { issuer: 'https://b.example.com', algorithms: ['ES256'] },
  ],
  tokenCache: false,
});

const local = createVerifier({
  keys: { keys: [{ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo', kid: 'k1' }] },
});
const hmac = new Verifier({ secret: new Uint8Array(32), algorithms: ['HS256'] });

// results: deeply frozen results, the same object for a repeated token ('fresh', the default, is a new object).
const frozen = createVerifier({ issuer: 'https://issuer.example.com', results: 'frozen', tokenCache: 5000 });
const fresh: VerifierOptions['results'] = 'fresh';
async function frozenSub(token: string): Promise<string | undefined> {
  const { payload } = await frozen.verify(token);
  return frozen.verifySync(token).payload.sub ?? payload.sub;
}

async function authenticate(token: string): Promise<string> {
  await verifier.ready();
  const result: VerifyResult<MyClaims> = await verifier.verify<MyClaims>(token);
  const mine: string = result.payload.myClaim;
  const roles: string[] = result.payload.roles;
  const issuer: string | null = result.issuer;
  if (result.header === null) throw new Error('an opaque token: only with revalidate.opaque');
  const jwsIssuer: string = result.issuer;
  const alg: Algorithm = result.header.alg;
  const kid: string | undefined = result.header.kid;

  // Without a type argument the payload is a JwtPayload.
  const plain = verifier.verifySync(token);
  const sub: string | undefined = plain.payload.sub;
  const aud: string | string[] | undefined = plain.payload.aud;
  const exp: number | undefined = plain.payload.exp;

  return [mine, roles.join(','), issuer, alg, kid, sub, aud, exp].join(' ');
}

/** Answers an HTTP status for a failed verification, narrowing on `code`. */
function statusFor(err: unknown): number {
  const e = err as VerifyError;
  if (e.code === 'ERR_JWT_EXPIRED') {
    const claim: string | undefined = e.claim; // 'exp', or 'iat' for maxTokenAge
    return claim === 'iat' ? 401 : 401;
  }
  if (e.code === 'ERR_JWKS_RATE_LIMITED') {
    const retryAfter: number | undefined = e.retryAfter;
    return retryAfter === undefined ? 503 : 503;
  }
  if (e.code === 'ERR_JWKS_FETCH_FAILED' || e.code === 'ERR_JWKS_TIMEOUT') {
    const status: number | undefined = e.status;
    return status ?? 503;
  }
  // @ts-expect-error: not an error code of this library
  if (e.code === 'ERR_JWT_EXPIRD') return 0;
  return 401;
}

function report(v: Verifier): void {
  const health: IssuerHealth[] = v.health();
  for (const h of health) {
    const state: 'fresh' | 'stale' | 'failing' | 'empty' = h.state;
    const kids: string[] = h.kids;
    const fetchedAt: number | null = h.fetchedAt;
    const expiresAt: number | null = h.expiresAt;
    const lastError: ErrorCode | undefined = h.lastError?.code;
    const jwksUri: string | null = h.jwksUri;
    console.log(h.issuer, state, kids, fetchedAt, expiresAt, lastError, jwksUri);
  }
  const stats: VerifierStats = v.stats();
  const prometheus: string = v.metrics({ labels: { service: 'orders-api' } }) + v.metrics();
  void prometheus;
  const numbers: number[] = [
    stats.verifications,
    stats.tokenCacheHits,
    stats.fetches,
    stats.notModified,
    stats.fetchErrors,
    stats.cooldownRefusals,
    stats.staleServes,
    stats.failures.ERR_JWT_EXPIRED ?? 0,
  ];
  console.log(numbers);
  v.close();
}

// @ts-expect-error: 'HS1024' is not an Algorithm
new Verifier({ issuer: 'https://issuer.example.com', algorithms: ['HS1024'] });

// @ts-expect-error: clockTolerance takes seconds or a duration string, not a boolean
createVerifier({ issuer: 'https://issuer.example.com', clockTolerance: true });

// @ts-expect-error: a duration string needs a known unit
createVerifier({ issuer: 'https://issuer.example.com', cache: { maxAge: '10 minutes' } });

// @ts-expect-error: verify takes a string token
void verifier.verify(42);

// @ts-expect-error: results is 'fresh' or 'frozen'
createVerifier({ issuer: 'https://issuer.example.com', results: 'maybe' });

void authenticate('token').catch(statusFor);
report(multi);
report(local);
report(hmac);
report(frozen);
void frozenSub('token');
console.log(fresh);

// logger: false, or anything with warn and info (a Fastify logger too).
const quiet: VerifierOptions = { issuer: 'https://issuer.example.com/', logger: false };
const lines: VerifierOptions = { issuer: 'https://issuer.example.com/', logger: { warn: (m: string) => void m, info: () => {} } };
void quiet;
void lines;

// The client-credentials token source.
const sourceOptions: TokenSourceOptions = {
  tokenUrl: 'https://login.mypurecloud.com/oauth/token',
  clientId: 'pipeline',
  clientSecret: process.env.GENESYS_CLIENT_SECRET ?? '',
  scope: ['analytics', 'users:readonly'],
  resource: 'https://api.example.com',
  params: { organization: 'org_1' },
  refreshBefore: '2m',
  http: { timeout: '3s' },
  onEvent(event: TokenSourceEvent) {
    const type: 'token' | 'error' | 'warning' = event.type;
    const expiresAt: number | undefined = event.expiresAt;
    const failure: ErrorCode | undefined = event.error?.code;
    console.log(type, event.tokenUrl, event.status, expiresAt, failure, event.message);
  },
};
const method: ClientAuthMethod = 'private_key_jwt';
const tokens = new TokenSource(sourceOptions);
const keyed = createTokenSource({
  issuer: 'https://id.example.com/',
  clientId: 'svc',
  authMethod: method,
  privateKey: { kty: 'OKP', crv: 'Ed25519', x: 'x', d: 'd' },
});

async function callApi(): Promise<number> {
  const token: AccessToken = await tokens.getToken();
  const value: string = token.accessToken;
  const scheme: string = token.tokenType;
  const until: number = token.expiresAt;
  const scope: string | undefined = token.scope;
  const res = await fetch('https://api.example.com/orders', { headers: { authorization: await keyed.authorizationHeader() } });
  if (res.status === 401) tokens.invalidate();
  tokens.close();
  return [value, scheme, scope].length + until;
}

function tokenFailure(err: unknown): number | undefined {
  const e = err as VerifyError;
  if (e.code === 'ERR_TOKEN_REQUEST_FAILED') {
    const oauth: string | undefined = e.oauthError;
    const description: string | undefined = e.errorDescription;
    return oauth === undefined && description === undefined ? e.status : 0;
  }
  if (e.code === 'ERR_TOKEN_RATE_LIMITED') return e.retryAfter;
  return undefined;
}

// @ts-expect-error: 'client_secret_jwt' is not supported
createTokenSource({ tokenUrl: 'https://x/token', clientId: 'c', clientSecret: 's', authMethod: 'client_secret_jwt' });

// @ts-expect-error: clientId is required
new TokenSource({ tokenUrl: 'https://x/token', clientSecret: 's' });

void callApi().catch(tokenFailure);
