// Verifiers that close themselves when the test file ends.
import { after } from 'node:test';
import { createRequire } from 'node:module';

const { Verifier } = createRequire(import.meta.url)('../../index.js');

const open = [];
after(() => {
  for (const v of open) v.close();
});

/** `new Verifier(options)`, closed when the test file ends. */
export function openVerifier(options) {
  const v = new Verifier(options);
  open.push(v);
  return v;
}
