// A fleet of Node processes (forked `fleet-worker.mjs`), each with its own Verifier, for the shared-tier suites.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const WORKER = fileURLToPath(new URL('./fleet-worker.mjs', import.meta.url));

/** One forked process: `call(op, args)` resolves its answer; `close()` ends it. */
async function startWorker(options) {
  const child = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map();
  let next = 0;
  child.on('message', (m) => {
    if (m.ready) return;
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.error) p.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
    else p.resolve(m.result);
  });
  await new Promise((resolve, reject) => {
    child.once('message', (m) => (m.ready ? resolve() : reject(new Error('worker did not start'))));
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
  });
  const call = (op, args) =>
    new Promise((resolve, reject) => {
      const id = ++next;
      pending.set(id, { resolve, reject });
      child.send({ id, op, args });
    });
  await call('create', { options });
  return {
    call,
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      call('close').catch(() => {});
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Starts `n` processes, each with `new Verifier(options)` (JSON-serialisable options; `onEvent` is set by the
 * worker). Resolves `{ workers, all(op, args), close() }`: `all` calls every worker at once and resolves their answers
 * in order.
 */
export async function startFleet(n, options) {
  const workers = await Promise.all(Array.from({ length: n }, () => startWorker(options)));
  return {
    workers,
    all: (op, args) => Promise.all(workers.map((w) => w.call(op, args))),
    close: () => Promise.all(workers.map((w) => w.close())),
  };
}
