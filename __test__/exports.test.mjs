// The package's faces: CommonJS and ESM see the same names, and the declarations match the runtime.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync, existsSync } from 'node:fs';

const require = createRequire(import.meta.url);
const root = new URL('../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
const read = (file) => readFileSync(new URL(file, root), 'utf8');

/** Names with a runtime value declared at the top level of a .d.ts (classes, functions, consts, non-const enums). */
function declaredRuntimeNames(dts) {
  const names = new Set();
  for (const m of dts.matchAll(
    /^export\s+declare\s+(class|function|const|let|var|enum|abstract\s+class)\s+(enum\s+)?([A-Za-z_$][\w$]*)/gm,
  )) {
    if (m[1] === 'const' && m[2]) continue; // `export declare const enum`: inlined, no runtime value
    names.add(m[3]);
  }
  for (const m of dts.matchAll(/^export\s+(?:function|class)\s+([A-Za-z_$][\w$]*)/gm)) names.add(m[1]);
  return names;
}

const sorted = (it) => [...it].sort();

test('require("jwks-verify") and import("jwks-verify") expose the same names', async () => {
  const cjs = require('jwks-verify');
  const esm = await import('jwks-verify');
  const cjsNames = sorted(Object.keys(cjs));
  const esmNames = sorted(Object.keys(esm).filter((n) => n !== 'default'));
  assert.deepEqual(esmNames, cjsNames);
  for (const name of cjsNames) assert.equal(esm[name], cjs[name], name);
  assert.equal(esm.default, cjs);
  for (const name of ['Verifier', 'createVerifier', 'TokenSource', 'createTokenSource']) assert.equal(typeof cjs[name], 'function', name);
});

test('the runtime names declared in index.d.ts equal the runtime exports', () => {
  const declared = declaredRuntimeNames(read('index.d.ts'));
  const runtime = new Set(Object.keys(require('jwks-verify')));
  assert.ok(declared.has('Verifier') && declared.has('createVerifier'), `declared: ${sorted(declared)}`);
  assert.deepEqual(sorted(declared), sorted(runtime));
});

test('the entry points: CommonJS and ESM agree, and their declarations match', async () => {
  const entries = {
    express: {
      main: 'authenticate',
      names: ['authenticate', 'requireScope', 'parseAuthorization', 'failureAnswer', 'scopeAnswer', 'challenge', 'grantedScopes'],
    },
    fastify: { main: 'jwksVerify', names: ['jwksVerify'] },
    apollo: { main: 'authContext', names: ['authContext', 'requireAuth', 'requireScope'] },
  };
  for (const [entry, { main, names }] of Object.entries(entries)) {
    const cjs = require(`jwks-verify/${entry}`);
    const esm = await import(`jwks-verify/${entry}`);
    assert.equal(typeof cjs, 'function', `${entry}: module.exports is the main function`);
    assert.equal(cjs.default, cjs, `${entry}: .default`);
    assert.equal(esm.default, cjs, `${entry}: ESM default`);
    assert.deepEqual(sorted(Object.keys(cjs).filter((n) => n !== 'default')), sorted(names), `${entry}: runtime names`);
    for (const name of names) {
      assert.equal(typeof cjs[name], 'function', `${entry}.${name}`);
      assert.equal(esm[name], cjs[name], `${entry}: ESM named export ${name}`);
    }
    assert.equal(cjs[main], cjs);
    // the .d.ts declares each of them (namespace members, plus the main function and its default alias)
    const dts = read(`lib/${entry}.d.ts`);
    assert.match(dts, new RegExp(`^declare function ${main}\\b`, 'm'), `${entry}.d.ts declares ${main}`);
    assert.match(dts, new RegExp(`^export = ${main}$`, 'm'));
    assert.match(dts, new RegExp(`export \\{ ${main}, ${main} as default`), `${entry}.d.ts default alias`);
    const declaredFns = new Set([...dts.matchAll(/^\s+export function ([A-Za-z_$][\w$]*)/gm)].map((m) => m[1]));
    assert.deepEqual(sorted([...declaredFns, main]), sorted(names), `${entry}.d.ts functions`);
  }
});

test('package.json: every export target exists and is shipped by "files"; bin is bin/jwks-verify.js', () => {
  const targets = [];
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (typeof target === 'string') targets.push(target);
    else targets.push(target.types, target.default);
    assert.ok(subpath === '.' || subpath.startsWith('./'), subpath);
  }
  // an entry ending in "/" ships the whole folder
  const files = pkg.files.map(
    (f) => new RegExp(`^${f.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}${f.endsWith('/') ? '' : '$'}`),
  );
  for (const t of targets) {
    const file = t.replace(/^\.\//, '');
    assert.ok(existsSync(new URL(file, root)), `${t} exists`);
    if (file !== 'package.json')
      assert.ok(
        files.some((re) => re.test(file)),
        `${t} is in "files"`,
      );
  }
  assert.equal(pkg.bin['jwks-verify'].replace(/^\.\//, ''), 'bin/jwks-verify.js');
  assert.equal(require('jwks-verify/package.json').name, 'jwks-verify');
  assert.throws(() => require('jwks-verify/bin/jwks-verify.js'), { code: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });
});
