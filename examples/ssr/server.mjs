// React server-side rendering for the verified user: node:http + react-dom/server, no JSX build step.
//
//   node examples/ssr/server.mjs          starts the embedded demo issuer and this server, renders a page, prints a curl command
//   node examples/ssr/server.mjs --once   the same, then exits
//
// The token comes from `Authorization: Bearer …` or, for pages a browser loads, an `access_token` cookie.
// The page is rendered only after `verifier.verify` accepted the token; React escapes every claim it renders.
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import React from 'react';
import { renderToString } from 'react-dom/server';
import { createVerifier } from 'jwks-verify';
import { parseAuthorization, failureAnswer } from 'jwks-verify/express';

const h = React.createElement;

/** The page of a signed-in user. */
export function Profile({ user }) {
  const scopes = typeof user.scope === 'string' ? user.scope.split(' ').filter(Boolean) : [];
  return h(
    'main',
    { className: 'profile' },
    h('h1', null, `Hello, ${user.name ?? user.sub}`),
    h(
      'dl',
      null,
      h('dt', null, 'Subject'),
      h('dd', { id: 'sub' }, user.sub),
      h('dt', null, 'Issuer'),
      h('dd', null, user.iss),
      h('dt', null, 'Session ends'),
      h('dd', null, new Date(user.exp * 1000).toISOString()),
    ),
    h(
      'ul',
      { id: 'scopes' },
      scopes.map((s) => h('li', { key: s }, s)),
    ),
  );
}

/** The page shown without a valid token. */
export function SignIn({ reason }) {
  return h('main', { className: 'sign-in' }, h('h1', null, 'Please sign in'), reason ? h('p', { id: 'reason' }, reason) : null);
}

function page(element, title) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body><div id="root">${renderToString(element)}</div></body></html>`;
}

function tokenOf(req) {
  if (req.headers.authorization !== undefined) return parseAuthorization(req.headers.authorization);
  const cookie = String(req.headers.cookie ?? '')
    .split(';')
    .map((c) => c.trim().split('='))
    .find(([name]) => name === 'access_token');
  return cookie && cookie[1] ? { token: decodeURIComponent(cookie[1]) } : { missing: true };
}

/** An http.Server (not yet listening) rendering `Profile` for verified users at `/`. */
export function createSsrServer({ verifier }) {
  return http.createServer(async (req, res) => {
    const send = (status, html, headers = {}) => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...headers });
      res.end(html);
    };
    if (new URL(req.url, 'http://localhost').pathname !== '/') return send(404, page(h('p', null, 'Not found'), 'Not found'));
    const parsed = tokenOf(req);
    if (!parsed.token) {
      const status = parsed.malformed ? 400 : 401;
      return send(status, page(h(SignIn, { reason: parsed.malformed }), 'Sign in'), { 'www-authenticate': 'Bearer' });
    }
    try {
      const { payload } = await verifier.verify(parsed.token);
      send(200, page(h(Profile, { user: payload }), 'Profile'));
    } catch (err) {
      const answer = failureAnswer(err); // same decisions as the API middleware: 401, or 503 for an outage
      if (!answer) {
        send(500, page(h('p', null, 'Internal error'), 'Error'));
        return;
      }
      const headers = { ...answer.headers };
      const element =
        answer.status === 503
          ? h('main', null, h('h1', null, 'Sign-in is temporarily unavailable'), h('p', null, 'Please retry in a moment.'))
          : h(SignIn, { reason: 'Your session is not valid any more.' });
      send(answer.status, page(element, answer.status === 503 ? 'Unavailable' : 'Sign in'), headers);
    }
  });
}

async function main() {
  const { startIssuer } = await import('../issuer.mjs');
  const idp = await startIssuer();
  const verifier = createVerifier({ issuer: idp.issuer, audience: 'demo-api' });
  const server = createSsrServer({ verifier });
  server.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${server.address().port}/`;
  console.log(`SSR server on ${url} (issuer ${idp.issuer})`);
  const stop = () => {
    server.close();
    server.closeAllConnections();
    verifier.close();
    return idp.close();
  };
  for (const token of [idp.sign({ sub: 'alice', name: 'Alice', scope: 'read profile' }), null]) {
    const res = await fetch(url, { headers: token ? { cookie: `access_token=${token}` } : {} });
    console.log(`  GET / ${token ? 'with a token cookie' : 'without a token'} -> ${res.status}\n    ${await res.text()}`);
  }
  if (process.argv.includes('--once')) return stop();
  console.log(`Try it: curl -s ${url} --cookie "access_token=${idp.sign({ sub: 'alice', name: 'Alice' }, { expiresIn: 3600 })}"`);
  console.log('Ctrl-C to stop.');
  process.once('SIGINT', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
