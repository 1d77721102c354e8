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

/**
 * Starts `node ...args` as a long-running child (a server) in `cwd` with `env` added to `process.env`. Resolves
 * `{ child, value, output }` once `ready(output)` gives a truthy `value` (it is called, and awaited, every 50 ms, with
 * `output` = `{ stdout, stderr }` so far); rejects naming the child's stderr when it exits first or `timeoutMs`
 * passes. Stop it with `child.kill()` (e.g. in `t.after`).
 */
export function startNode(args, { cwd = PACKAGE_ROOT, env = {}, ready, timeoutMs = 20_000 }) {
  const child = spawn(process.execPath, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => (output.stdout += d));
  child.stderr.on('data', (d) => (output.stderr += d));
  let exited = null;
  child.once('exit', (code, signal) => (exited = { code, signal }));
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const poll = async () => {
      if (exited) return reject(new Error(`node ${args.join(' ')} exited (${JSON.stringify(exited)}): ${output.stderr}`));
      if (Date.now() - started > timeoutMs) {
        child.kill('SIGKILL');
        return reject(new Error(`node ${args.join(' ')} was not ready after ${timeoutMs} ms: ${output.stderr}`));
      }
      let value;
      try {
        value = await ready(output);
      } catch (err) {
        child.kill('SIGKILL');
        return reject(err);
      }
      if (value) resolve({ child, value, output });
      else setTimeout(poll, 50);
    };
    child.once('error', reject);
    poll();
  });
}
