// The published package seen from outside (package, first-hour): `npm pack` of this checkout, installed into a fresh
// project. Hermetic: the tarball has no dependencies and is installed --offline with a private npm cache; what a
// consumer needs besides (Express, the types, TypeScript) comes from this checkout's node_modules through symlinks.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from './run-node.mjs';

/** This checkout's node_modules. */
export const NODE_MODULES = join(PACKAGE_ROOT, 'node_modules');

/** The compilers of the checks: TypeScript 5.9 (`typescript`) and 7 (`typescript7`, an npm alias), by their tsc. */
export const TSC = {
  5.9: join(NODE_MODULES, 'typescript', 'bin', 'tsc'),
  7: join(NODE_MODULES, 'typescript7', 'bin', 'tsc'),
};

/**
 * A scratch folder for one suite, removed by `cleanup()`, with `env`: the process environment plus a private npm
 * cache in the folder, --offline, and no audit, fund or update notices.
 */
export function packWorkspace(prefix) {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const env = {
    ...process.env,
    npm_config_cache: join(dir, 'npm-cache'),
    npm_config_offline: 'true',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
    npm_config_loglevel: 'error',
  };
  return { dir, env, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Runs `cmd ...args` (`opts` as for execFile: cwd, env, timeout); resolves `{ code, stdout, stderr, err }`, never
 * rejects (`code` -1 when the command could not run: `err.code` is then e.g. 'ENOENT').
 */
export function sh(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 120_000, maxBuffer: 32 << 20, encoding: 'utf8', ...opts }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr, err });
    });
  });
}

/**
 * `npm pack` of this checkout into `ws.dir` (scripts not run: the addon must be built already). Resolves
 * `{ ok: true, tgz, files }` (the tarball's path, the paths it holds) or `{ ok: false, reason }` when npm cannot pack
 * here (a suite then skips).
 */
export async function packTarball(ws) {
  const r = await sh('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', ws.dir], { cwd: PACKAGE_ROOT, env: ws.env });
  if (r.code !== 0) {
    return { ok: false, reason: `npm pack is not possible here: ${(r.stderr || r.err?.message || '').trim().split('\n')[0]}` };
  }
  const [info] = JSON.parse(r.stdout);
  return { ok: true, tgz: join(ws.dir, info.filename), files: info.files.map((f) => f.path) };
}

/**
 * A fresh project `ws.dir/<name>` (an ESM package.json) with the tarball installed offline, and `link` (package
 * names) symlinked from this checkout's node_modules. Resolves `{ app, installed }` (the project folder, the folder of
 * the installed jwks-verify); throws with npm's output when the install fails.
 */
export async function installTarball(ws, tgz, { name = 'consumer', link = [] } = {}) {
  const app = join(ws.dir, name);
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true, type: 'module' }));
  const install = await sh('npm', ['install', '--no-package-lock', '--ignore-scripts', tgz], { cwd: app, env: ws.env });
  if (install.code !== 0) throw new Error(`npm install of the tarball failed: ${install.stdout}${install.stderr}`);
  for (const dep of link) {
    const target = join(NODE_MODULES, dep);
    const path = join(app, 'node_modules', dep);
    mkdirSync(join(path, '..'), { recursive: true });
    if (!existsSync(path)) symlinkSync(target, path, 'dir');
  }
  return { app, installed: join(app, 'node_modules', 'jwks-verify') };
}
