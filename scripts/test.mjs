#!/usr/bin/env node
// The project's test command (`npm test`): type-checks, then runs every *.test.ts under src/, lab/ and test/
// with Node's own test runner, unit files first, then end-to-end files one at a time; it closes with one
// "tests: N passed, N failed, N skipped" line over both. Extra arguments are test files or folders to run
// instead of all of them, e.g. `npm test -- src/proxy`.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
process.chdir(root);

function collect(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const args = process.argv.slice(2);
const targets = args.length > 0 ? args : ['src', 'lab', 'test'];
const files = targets.flatMap((t) => (t.endsWith('.ts') ? [t] : collect(t, []))).sort();

if (args.length === 0) {
  const tsc = spawnSync('npx', ['--no-install', 'tsc', '--noEmit', '-p', '.'], { stdio: 'inherit' });
  if (tsc.status !== 0) {
    console.error('type check failed');
    process.exit(tsc.status ?? 1);
  }
}
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
// Unit tests run two files at a time; end-to-end files (test/e2e/) one at a time, after them, because each
// starts a whole lab and two labs at once on a 2-core machine make each other's timings meaningless.
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const isE2e = (f) => f.split(/[\\/]/).includes('e2e');
const batches = [
  { files: files.filter((f) => !isE2e(f)), concurrency },
  { files: files.filter(isE2e), concurrency: '1' },
].filter((b) => b.files.length > 0);

const totals = { pass: 0, fail: 0, skipped: 0, cancelled: 0 };
let status = 0;
for (const batch of batches) {
  const code = await runBatch(batch.files, batch.concurrency);
  if (code !== 0) status = code;
}
// One closing line for both batches, in the plain form CI reads.
console.log(`\ntests: ${totals.pass} passed, ${totals.fail + totals.cancelled} failed, ${totals.skipped} skipped`);
process.exit(status);

/** Runs one `node --test` batch, passing its output through and adding its summary counts to the totals. */
function runBatch(batchFiles, n) {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', `--test-concurrency=${n}`, '--test-reporter=spec', ...batchFiles],
      { stdio: ['inherit', 'pipe', 'inherit'], env: { ...process.env, FORCE_COLOR: '0' } },
    );
    let tail = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      tail = (tail + chunk.toString('utf8')).slice(-4096);
    });
    child.on('close', (code) => {
      for (const key of Object.keys(totals)) {
        const m = new RegExp(`^ℹ ${key} (\\d+)$`, 'm').exec(tail);
        if (m) totals[key] += Number(m[1]);
      }
      resolve(code ?? 1);
    });
  });
}
