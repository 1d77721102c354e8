// Node in a child process, for the suites that run scripts or the package from outside (demo, runtime, cli).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The package root (the folder of package.json), with a trailing slash. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Runs `node ...args` (this Node, `process.execPath`) in `cwd` with `env` added to `process.env`; stdin is `input`
 * (a string) when given, else ignored. Resolves `{ code, signal, stdout, stderr, ms }` once the child has exited
 * (`ms`: how long it ran); kills it with SIGKILL after `killAfterMs` (then `signal` is 'SIGKILL'). Rejects only if it
 * cannot be started.
 */
export function runNode(args, { cwd = PACKAGE_ROOT, env = {}, killAfterMs = 20_000, input } = {}) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const stdin = input === undefined ? 'ignore' : 'pipe';
    const child = spawn(process.execPath, args, { cwd, env: { ...process.env, ...env }, stdio: [stdin, 'pipe', 'pipe'] });
    if (input !== undefined) child.stdin.end(input);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}
