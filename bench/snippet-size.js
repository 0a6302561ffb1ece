#!/usr/bin/env node
/**
 * @module Prints the snippet's minified and gzip size against its budget, beside any peer tracker
 * installed locally, measured the same way (rollup + terser as in scripts/build.js, gzip level 9).
 * A figure, not a test of speed: exits 1 only when the snippet is over budget.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BUDGET = 2000; // bytes, gzip
const SNIPPET = 'sdk/dist/leadscore.js';

/**
 * Peers by package name; files first, then the package.json entry (bundled with its imports). Both
 * are devDependencies, so every checkout has them; HubSpot's, Marketo's and Pardot's trackers are
 * served by their vendors only and cannot be measured here.
 */
const PEERS = [
  ['plausible-tracker', []],
  ['@plausible-analytics/tracker', []],
];

const gzip = (code) => gzipSync(code, { level: 9 }).length;

/** Same bundler and minifier settings as scripts/build.js, so the figures compare. */
async function minify(file) {
  const [{ rollup }, { default: terser }] = await Promise.all([import('rollup'), import('@rollup/plugin-terser')]);
  const build = await rollup({
    input: file,
    onwarn: () => {},
    plugins: [terser({ ecma: 2020, compress: { passes: 3, unsafe_arrows: true }, mangle: { toplevel: true }, format: { comments: false } })],
  });
  // ES output keeps a library's exports, which an unnamed IIFE would let terser drop as unused.
  const { output } = await build.generate({ format: 'es' });
  await build.close();
  return output[0].code;
}

function peerFile(name, files) {
  const dir = join(root, 'node_modules', name);
  if (!existsSync(join(dir, 'package.json'))) return undefined;
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const entry = typeof pkg.browser === 'string' ? pkg.browser : pkg.module || pkg.main || 'index.js';
  return [...files, entry].map((f) => join(dir, f)).find((f) => existsSync(f));
}

const row = (label, min, gz, note = '') =>
  console.log(`${label.padEnd(30)} ${String(min).padStart(7)} B minified ${String(gz).padStart(6)} B gzip  ${note}`);

const snippetPath = join(root, SNIPPET);
if (!existsSync(snippetPath)) {
  console.log(`${SNIPPET} is missing: run npm run build first`);
  process.exit(2);
}
// The build output is already the minified artifact the worker serves: measured as it is.
const snippet = readFileSync(snippetPath, 'utf8');
const size = gzip(snippet);
const over = size > BUDGET;
row(`leadscore (${SNIPPET})`, snippet.length, size, `budget ${BUDGET} B gzip: ${over ? `OVER by ${size - BUDGET} B` : `ok, ${BUDGET - size} B left`}`);

for (const [name, files] of PEERS) {
  const file = peerFile(name, files);
  if (!file) {
    console.log(`${name.padEnd(30)} not available locally`);
    continue;
  }
  const where = relative(root, file);
  try {
    const code = await minify(file);
    row(name, code.length, gzip(code), `(${where}, bundled and minified here)`);
  } catch (e) {
    const code = readFileSync(file, 'utf8');
    row(name, code.length, gzip(code), `(${where}, as shipped: ${e instanceof Error ? e.message.split('\n')[0] : e})`);
  }
}

process.exit(over ? 1 : 0);
