// A real redis-server (the Debian package) on 127.0.0.1 for the shared-tier suites: each call starts its own
// instance on a free port with no persistence, and a tiny RESP client to look inside it (keys, values, command
// counts) or to tamper with entries. `.ci/run` installs redis-server when the machine lacks it.
import { spawn } from 'node:child_process';
import net from 'node:net';

/** A free TCP port on 127.0.0.1. */
async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Encodes one RESP command. */
function encode(args) {
  let out = `*${args.length}\r\n`;
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
    out += `$${b.length}\r\n`;
    out = Buffer.concat([Buffer.from(out), b, Buffer.from('\r\n')]).toString('latin1');
  }
  return Buffer.from(out, 'latin1');
}

/** Parses one RESP reply from `buf` at `i`: `[value, next]`, or null when incomplete. Bulk strings are Buffers. */
function parse(buf, i = 0) {
  const eol = buf.indexOf('\r\n', i);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[i]);
  const line = buf.toString('latin1', i + 1, eol);
  const next = eol + 2;
  if (type === '+') return [line, next];
  if (type === '-') return [new Error(line), next];
  if (type === ':') return [Number(line), next];
  if (type === '$') {
    const n = Number(line);
    if (n < 0) return [null, next];
    if (buf.length < next + n + 2) return null;
    return [buf.subarray(next, next + n), next + n + 2];
  }
  if (type === '*') {
    const n = Number(line);
    if (n < 0) return [null, next];
    const items = [];
    let at = next;
    for (let k = 0; k < n; k++) {
      const r = parse(buf, at);
      if (!r) return null;
      items.push(r[0]);
      at = r[1];
    }
    return [items, at];
  }
  throw new Error(`RESP: unexpected reply type ${type}`);
}

/** One command on a fresh connection (at most `timeoutMs`). Resolves the reply (Buffers for bulk strings). */
export function command(port, args, { timeoutMs = 2000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`redis ${args[0]}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(encode(args)));
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const r = parse(buf);
      if (r) {
        clearTimeout(timer);
        socket.end();
        if (r[0] instanceof Error) reject(r[0]);
        else resolve(r[0]);
      }
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/**
 * Starts redis-server on a free port (`--save '' --appendonly no`, loopback only). Resolves
 * `{ url, port, command(...args), keys(pattern), get(key), set(key, value), calls(), pause(), resume(), kill(),
 * restart(), stop() }`: `calls()` is the total of `INFO commandstats` (the commands clients sent); `pause()` /
 * `resume()` SIGSTOP / SIGCONT the server (a hung Redis), `kill()` SIGKILLs it, `restart()` starts it again on the
 * same port (empty), `stop()` ends it for good.
 */
export async function startRedis() {
  const port = await freePort();
  let child;
  const start = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
      {
        stdio: 'ignore',
      },
    );
    const end = Date.now() + 10_000;
    for (;;) {
      try {
        if ((await command(port, ['PING'], { timeoutMs: 500 })) === 'PONG') return;
      } catch {
        if (Date.now() > end) throw new Error('redis-server did not start within 10 s');
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await start();
  const exited = () =>
    new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', resolve)));
  const api = {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    command: (...args) => command(port, args),
    /** Key names matching `pattern`, as strings. */
    keys: async (pattern = '*') => (await command(port, ['KEYS', pattern])).map((b) => b.toString()),
    get: (key) => command(port, ['GET', key]),
    set: (key, value) => command(port, ['SET', key, value]),
    /** Commands clients have sent so far (INFO commandstats, all commands), minus this helper's own INFO calls. */
    async calls() {
      const info = (await command(port, ['INFO', 'commandstats'])).toString();
      let total = 0;
      for (const m of info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) if (m[1] !== 'info') total += Number(m[2]);
      return total;
    },
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    async kill() {
      child.kill('SIGKILL');
      await exited();
    },
    restart: start,
    async stop() {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited();
    },
  };
  return api;
}
