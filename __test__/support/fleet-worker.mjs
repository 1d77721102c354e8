// One process of a fleet (see fleet.mjs): builds a Verifier from the options it is sent and runs what the parent
// asks, answering over IPC. Never prints tokens.
import { Verifier } from '../../index.js';

let verifier;
const events = [];

const handlers = {
  create({ options }) {
    verifier = new Verifier({ ...options, onEvent: (e) => events.push(e) });
    return true;
  },
  /** Verifies every token at once; per token `{ ok, code, ms }`. */
  async verify({ tokens }) {
    return Promise.all(
      tokens.map(async (t) => {
        const start = performance.now();
        try {
          await verifier.verify(t);
          return { ok: true, ms: performance.now() - start };
        } catch (e) {
          return { ok: false, code: e.code, message: e.message, ms: performance.now() - start };
        }
      }),
    );
  },
  /** Verifies `tokens` one after another, `rounds` times, `pauseMs` apart; per verification `{ ok, code, ms }`. */
  async sequence({ tokens, rounds, pauseMs }) {
    const out = [];
    for (let r = 0; r < rounds; r++) {
      for (const t of tokens) out.push(...(await handlers.verify({ tokens: [t] })));
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
    return out;
  },
  stats: () => verifier.stats(),
  health: () => verifier.health(),
  events: () => events,
  close() {
    verifier?.close();
    setImmediate(() => process.exit(0));
    return true;
  },
};

process.on('message', async ({ id, op, args }) => {
  try {
    process.send({ id, result: await handlers[op](args ?? {}) });
  } catch (e) {
    process.send({ id, error: { code: e.code, message: e.message } });
  }
});
process.send({ ready: true });
