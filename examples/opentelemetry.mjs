// jwks-verify's telemetry, wired to OpenTelemetry-shaped instruments: runnable without network and without the
// OpenTelemetry SDK (`node examples/opentelemetry.mjs`; it exits 1 if anything is unexpected).
//
// What jwks-verify offers:
//   - diagnostics_channel (Node 20.16+ / 22.3+), published only while a channel has subscribers:
//       'jwks-verify:fetch'       every JWKS fetch outcome: the `fetch` and `error` events of `onEvent`
//                                 ({ type, jwksUri, status, durationMs, kids, error })
//       'jwks-verify:revalidate'  every validation-endpoint call ({ type: 'revalidate', endpoint, status,
//                                 durationMs, active, error }; never the token)
//       'jwks-verify:verify'      every REFUSED verification, as { error } (the Error the caller gets: code,
//                                 claim, reason, kid...). Successes are not published: even asking whether the
//                                 channel has subscribers costs the token-cache hit path; count them with
//                                 `metrics()` (jwks_verify_verifications_total) instead.
//   - verifier.metrics(): stats() and health() in the Prometheus text format, for a /metrics route or the
//     OpenTelemetry Collector's prometheus receiver.
//
// With the real SDK, `instrument()` below becomes (sketch):
//   const tracer = trace.getTracer('jwks-verify'); const meter = metrics.getMeter('jwks-verify');
//   const refused = meter.createCounter('jwks_verify.refused');
//   subscribe('jwks-verify:fetch', (e) => tracer.startSpan('jwks fetch', { startTime: Date.now() - e.durationMs,
//     attributes: { 'url.full': e.jwksUri, 'http.response.status_code': e.status } }).end())
//   subscribe('jwks-verify:verify', ({ error }) => refused.add(1, { 'error.type': error.code }))
// Here a tiny in-process collector records what those instruments would receive.
import diagnosticsChannel from 'node:diagnostics_channel';
import { startIssuer } from './issuer.mjs';
import { report, runAsScript } from './recipe.mjs';

/** A stand-in for an OpenTelemetry exporter: it keeps the spans and counter points it gets. */
export function memoryCollector() {
  const spans = [];
  const points = [];
  return {
    spans,
    points,
    /** What `tracer.startSpan(name, { startTime, attributes })` then `span.end(endTime)` would export. */
    span(name, { startTime, endTime, attributes, error }) {
      spans.push({ name, startTime, endTime, attributes, status: error ? { code: 'ERROR', message: error } : { code: 'OK' } });
    },
    /** What `counter.add(value, attributes)` would export. */
    add(name, value, attributes) {
      points.push({ name, value, attributes });
    },
  };
}

/**
 * Subscribes to jwks-verify's channels and turns each message into spans and counter points on `collector`.
 * Returns a function that unsubscribes.
 */
export function instrument(collector) {
  const timed = (name, e, attributes) => {
    const endTime = Date.now();
    collector.span(name, {
      startTime: endTime - (e.durationMs ?? 0),
      endTime,
      attributes: { ...attributes, ...(e.status ? { 'http.response.status_code': e.status } : {}) },
      error: e.error ? `${e.error.code}: ${e.error.message}` : undefined,
    });
  };
  const subscribers = {
    'jwks-verify:fetch': (e) => timed('jwks-verify fetch', e, { 'url.full': e.jwksUri }),
    'jwks-verify:revalidate': (e) => timed('jwks-verify revalidate', e, { 'url.full': e.endpoint, 'jwks_verify.active': e.active }),
    'jwks-verify:verify': ({ error }) =>
      collector.add('jwks_verify.refused', 1, { 'error.type': error.code, ...(error.claim ? { 'jwks_verify.claim': error.claim } : {}) }),
  };
  for (const [name, fn] of Object.entries(subscribers)) diagnosticsChannel.subscribe(name, fn);
  return () => {
    for (const [name, fn] of Object.entries(subscribers)) diagnosticsChannel.unsubscribe(name, fn);
  };
}

/** Runs against the embedded issuer. Returns the number of unexpected results. */
export async function runLocal({ log = console.log } = {}) {
  const { createVerifier } = await import('jwks-verify');
  const r = report(log);
  const idp = await startIssuer({ alg: 'ES256' });
  const collector = memoryCollector();
  const unsubscribe = instrument(collector);
  const verifier = createVerifier({
    issuer: idp.issuer,
    audience: 'demo-api',
    revalidate: { endpoint: idp.validateUrl },
    logger: false, // this example prints its own lines
  });
  try {
    log('Traces and counters from the diagnostics channels:');
    await r.accepts('a valid token', verifier, idp.sign({ sub: 'alice' }), (res) => `sub ${res.payload.sub}`);
    await r.refuses('an expired token', verifier, idp.sign({ sub: 'bob' }, { expiresIn: -60 }), 'ERR_JWT_EXPIRED', 'exp');
    const revoked = idp.sign({ sub: 'carol' });
    idp.revoke(revoked);
    await r.refuses('a revoked token', verifier, revoked, 'ERR_TOKEN_INACTIVE');
    // Channel messages arrive on the JS thread as the engine reports them: let them land.
    for (let i = 0; i < 100 && collector.spans.filter((s) => s.name === 'jwks-verify revalidate').length < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const names = (name) => collector.spans.filter((s) => s.name === name);
    const fetches = names('jwks-verify fetch');
    const first = fetches[0]?.attributes ?? {};
    r.check(
      'span: the JWKS fetch',
      fetches.length >= 1 && first['url.full'] === idp.jwksUri,
      `${fetches.length} span(s), ${first['url.full']}, status ${first['http.response.status_code']}`,
    );
    const calls = names('jwks-verify revalidate');
    r.check(
      'spans: the validation calls',
      calls.length === 2 && calls.some((s) => s.attributes['jwks_verify.active'] === false),
      `${calls.length} span(s), active: ${calls.map((s) => s.attributes['jwks_verify.active']).join(', ')}`,
    );
    const refused = collector.points.map((p) => p.attributes['error.type']);
    r.check('counter: refused by code', refused.includes('ERR_JWT_EXPIRED') && refused.includes('ERR_TOKEN_INACTIVE'), refused.join(', '));
    r.check('no token in any span or point', !JSON.stringify(collector).includes(revoked.split('.')[2]), 'none');

    log("\nPrometheus text from verifier.metrics() (a /metrics route, or the Collector's prometheus receiver):");
    const text = verifier.metrics({ labels: { service: 'orders-api' } });
    const line = (name) => text.split('\n').find((l) => l.startsWith(name));
    for (const [label, prefix] of [
      ['metrics: verifications', 'jwks_verify_verifications_total'],
      ['metrics: failures by code', 'jwks_verify_failures_total{service="orders-api",code="ERR_JWT_EXPIRED"}'],
      ['metrics: key set state', 'jwks_verify_key_set_state'],
    ]) {
      r.check(label, line(prefix) !== undefined, line(prefix) ?? `${prefix} missing`);
    }
  } finally {
    unsubscribe();
    verifier.close();
    await idp.close();
  }
  return r.done();
}

await runAsScript(import.meta, runLocal);
