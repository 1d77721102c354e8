// app/api/me/route.ts — a Next.js App Router route handler verifying the caller's bearer token.
//
// Runtime: this handler must run on the Node.js runtime. The Edge runtime cannot load native addons
// (jwks-verify is a compiled .node library, and Edge has neither `require` of native modules nor the Node APIs
// the addon uses), so `runtime = 'nodejs'` is required. Also keep the addon out of the bundle, in next.config:
//   serverExternalPackages: ['jwks-verify']      (Next 15; Next 14: experimental.serverComponentsExternalPackages)
//
// Types: only the global web `Request` / `Response` (from @types/node here, from the DOM lib in a Next project);
// nothing from `next` is needed. The same verifier can serve server components: `await verifier.verify(token)`
// with the token from `cookies()`.
import { createVerifier } from 'jwks-verify';
import { failureAnswer, parseAuthorization } from 'jwks-verify/express';

export const runtime = 'nodejs';
export const dynamic = 'force-dynamic';

// One Verifier per process (module scope): its key cache is shared by every request.
const verifier = createVerifier({
  issuer: process.env.AUTH_ISSUER ?? 'https://id.example.com/',
  audience: process.env.AUTH_AUDIENCE ?? 'my-api',
});

interface Profile {
  sub: string;
  scope: string | null;
}

export async function GET(request: Request): Promise<Response> {
  const parsed = parseAuthorization(request.headers.get('authorization'));
  if (parsed.token === undefined) {
    const challenge = parsed.malformed !== undefined ? `Bearer error="invalid_request"` : 'Bearer';
    return Response.json(
      { error: parsed.malformed !== undefined ? 'invalid_request' : 'unauthorized' },
      { status: parsed.malformed !== undefined ? 400 : 401, headers: { 'www-authenticate': challenge } },
    );
  }
  try {
    const { payload } = await verifier.verify(parsed.token);
    const profile: Profile = { sub: String(payload.sub), scope: typeof payload.scope === 'string' ? payload.scope : null };
    return Response.json(profile);
  } catch (err) {
    const answer = failureAnswer(err); // 401 invalid_token, or 503 + Retry-After when the keys cannot be had
    if (answer === null) throw err;
    return Response.json(answer.body, { status: answer.status, headers: answer.headers });
  }
}
