// What the provider recipes (scayle.mjs, genesys-cloud.mjs, introspection.mjs) share when they run
// against local servers: labelled outcome lines that count the unexpected ones, the test clock, and
// "run me when I am the script node was given".
import { pathToFileURL } from 'node:url';

/**
 * A report of labelled outcomes: `  label          text`. `accepts`/`refuses` verify a token and
 * say `ok  …` or `rejected CODE (claim x)`; anything else than expected counts as unexpected.
 * @param {(text: string) => void} [log]
 */
export function report(log = console.log) {
  let unexpected = 0;
  const line = (label, text) => log(`  ${label.padEnd(34)}${text}`);
  const describe = (err) => `${err?.code ?? err}${err?.claim ? ` (claim ${err.claim})` : ''}`;
  return {
    line,
    /** A line that is unexpected unless `ok`. */
    check(label, ok, text) {
      if (!ok) unexpected++;
      line(label, ok ? text : `UNEXPECTED ${text}`);
      return ok;
    },
    /** `verify(token)` must resolve; `detail(result)` describes it. Resolves the result or null. */
    async accepts(label, verifier, token, detail) {
      try {
        const result = await verifier.verify(token);
        line(label, `ok  ${detail(result)}`);
        return result;
      } catch (err) {
        unexpected++;
        line(label, `UNEXPECTED ${describe(err)}: ${err?.message}`);
        return null;
      }
    },
    /** `verify(token)` must reject with `code` (and `claim`, when given). */
    async refuses(label, verifier, token, code, claim) {
      try {
        await verifier.verify(token);
        unexpected++;
        line(label, `UNEXPECTED: accepted (expected ${code})`);
      } catch (err) {
        const ok = err?.code === code && (claim === undefined || err.claim === claim);
        if (!ok) unexpected++;
        line(label, `${ok ? 'rejected' : 'UNEXPECTED'} ${describe(err)}`);
      }
    },
    /** Prints the verdict; returns the number of unexpected outcomes. */
    done() {
      log(unexpected === 0 ? '\nok' : `\n${unexpected} unexpected result(s)`);
      return unexpected;
    },
  };
}

/**
 * A TestClock, to show what happens minutes later without waiting for them. A test aid, refused
 * unless JWKS_VERIFY_TEST_CLOCK=1, which this sets: real code never does.
 */
export async function testClock() {
  process.env.JWKS_VERIFY_TEST_CLOCK = '1';
  const { TestClock } = await import('jwks-verify');
  return new TestClock();
}

/**
 * When the module `meta` belongs to is the script node runs, runs `runLocal()` and exits 0 when it
 * counted nothing unexpected, else 1. The recipes run against local servers only: `--local` is
 * accepted (and is what happens anyway), other arguments are ignored with a note.
 * @param {ImportMeta} meta
 * @param {() => Promise<number>} runLocal
 */
export async function runAsScript(meta, runLocal) {
  if (!process.argv[1] || meta.url !== pathToFileURL(process.argv[1]).href) return;
  const extra = process.argv.slice(2).filter((a) => a !== '--local');
  if (extra.length) console.log(`(ignoring ${extra.join(' ')}: this example only runs against local servers)\n`);
  process.exit((await runLocal()) === 0 ? 0 : 1);
}
