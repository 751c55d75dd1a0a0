/**
 * Toxiproxy's own HTTP API test suite (its api_test.go, compiled, from ../shared/peers/toxiproxy/) run against
 * `faultline proxy` as a child process on 127.0.0.1:8475, the port those tests are written for. Every test but
 * TestVersionEndpointReturnsVersion must pass: that one wants the test build's version string "git", and
 * /version must stay a semver ≥ 2.6.0 (the Ruby client picks PATCH from it).
 *
 *   this test ─spawn─▶ faultline proxy --port 8475 ◀─HTTP─ api.test (TOXIPROXY_EXTERNAL=1) ─▶ --- PASS/FAIL lines
 *
 * The suite also opens proxies on fixed localhost ports (7070, 7171, 7373, 7474, 7575, 7676, 3310, 20001). Port
 * 8475 is the lock: only the process holding it runs the suite, and a second copy of this test (another checkout
 * on the machine) waits for it to be free. Nothing else in the repository uses those ports.
 * Skips, saying so, when the peer directory is absent (CI clones the repository with shared/ beside it).
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { test } from 'node:test';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PEER = join(ROOT, '..', 'shared', 'peers', 'toxiproxy');
const API_PORT = 8475;
/** The one test allowed to fail: it wants the test build's version "git", and /version must stay a semver ≥ 2.6.0. */
const VERSION_TEST = 'TestVersionEndpointReturnsVersion';
const present = existsSync(join(PEER, 'api.test')) && existsSync(join(PEER, 'api-tests.txt'));

/** The test names the pattern file selects: `^(A|B|…)$`. */
function selectedTests(pattern: string): string[] {
  const m = /^\^\((.*)\)\$$/.exec(pattern.trim());
  assert.ok(m !== null, `unexpected pattern in api-tests.txt: ${pattern.slice(0, 80)}`);
  return m[1].split('|');
}

interface Child {
  readonly process: ChildProcess;
  readonly exited: Promise<number | null>;
  /** Resolves true once the child printed its start-up line (it holds the port), false if it exited first. */
  readonly listening: Promise<boolean>;
  output(): string;
}

function spawnProxy(): Child {
  const child = spawn(process.execPath, ['bin/faultline', 'proxy', '--port', String(API_PORT), '--json'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const listening = new Promise<boolean>((resolve) => {
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      output += s;
      if (output.includes('\n')) resolve(true);
    });
    void exited.then(() => resolve(false));
  });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (output += s));
  return { process: child, exited, listening, output: () => output };
}

/** Starts `faultline proxy` on 8475, waiting (bounded) while another copy of this test holds the port. */
async function startOnSuitePort(waitMs = 120_000): Promise<Child> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const child = spawnProxy();
    if (await child.listening) return child;
    if (Date.now() > deadline) {
      throw new Error(`127.0.0.1:${API_PORT} stayed busy for ${waitMs} ms; the suite needs it. Last start-up output:\n${child.output()}`);
    }
    await delay(500);
  }
}

test('toxiproxy API suite passes against `faultline proxy`', { skip: present ? false : `skipped: no toxiproxy peer at ${PEER}`, timeout: 240_000 }, async (t) => {
  const names = selectedTests(readFileSync(join(PEER, 'api-tests.txt'), 'utf8'));
  assert.equal(names.length, 34);
  const child = await startOnSuitePort();
  t.after(async () => {
    if (child.process.exitCode === null) {
      child.process.kill('SIGTERM');
      await child.exited;
    }
  });
  // The faultline process started above is what answers, not a stray server.
  const version = (await (await fetch(`http://127.0.0.1:${API_PORT}/version`)).json()) as { version: string };
  assert.match(version.version, /^2\.\d+\.\d+$/);

  const pattern = readFileSync(join(PEER, 'api-tests.txt'), 'utf8').trim();
  const output = await new Promise<string>((resolve) => {
    execFile(
      join(PEER, 'api.test'),
      ['-test.v', '-test.run', pattern],
      { env: { ...process.env, TOXIPROXY_EXTERNAL: '1' }, timeout: 180_000, maxBuffer: 16 << 20 },
      // The suite exits 1 when any test fails (the version test does); the verdict comes from the lines below.
      (_err, stdout, stderr) => resolve(`${stdout}${stderr}`),
    );
  });
  const results = new Map<string, 'PASS' | 'FAIL'>();
  for (const m of output.matchAll(/^\s*--- (PASS|FAIL): (\w+) /gm)) results.set(m[2], m[1] as 'PASS' | 'FAIL');
  const passed = names.filter((n) => results.get(n) === 'PASS');
  const failed = names.filter((n) => results.get(n) !== 'PASS');
  t.diagnostic(`toxiproxy API suite: ${passed.length}/${names.length} passed; not passed: ${failed.join(', ') || 'none'}`);
  assert.deepEqual([...results.keys()].sort(), [...names].sort(), `every selected test ran and reported:\n${output}`);
  assert.deepEqual(
    failed.filter((n) => n !== VERSION_TEST),
    [],
    `failing toxiproxy tests:\n${output}`,
  );
  assert.ok(passed.length >= 33, `${passed.length} of 34 passed`);
  // The server survived the suite and stops on SIGTERM with nothing keeping it alive.
  child.process.kill('SIGTERM');
  const code = await Promise.race([child.exited, delay(10_000, undefined, { ref: false }).then(() => 'still running' as const)]);
  assert.equal(code, 0, `faultline proxy after SIGTERM: ${String(code)}\n${child.output()}`);
});
