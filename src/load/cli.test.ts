/**
 * The two commands through bin/faultline in a child process: bad flags and bad mix files exit 2 with a message
 * naming the field; --help shows examples; a short real run prints JSON lines and exits 0.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { answer, startServer } from './testing.ts';

const BIN = new URL('../../bin/faultline', import.meta.url).pathname;

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

test('bad flags and bad mix files exit 2 naming the field', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-load-'));
  const badMix = join(dir, 'bad.yaml');
  writeFileSync(
    badMix,
    'endpoints:\n  - name: a\n    weight: -3\n    path: /orders/{nope}\n  - name: b\n    weight: 1\n    method: FETCH\n    path: /\n',
  );
  const badYaml = join(dir, 'broken.yaml');
  writeFileSync(badYaml, 'endpoints: [\n  - name: a\n');
  const t = 'http://127.0.0.1:9';
  const cases: Array<[string[], RegExp[]]> = [
    [['load', '--rate', '10'], [/--target/]],
    [['load', '--target', t, '--rate', 'fast'], [/--rate: must be a number/]],
    [['load', '--target', t, '--rate', '10', '--duration', '10 parsecs'], [/--duration: "10 parsecs" is not a duration/]],
    [['load', '--target', t, '--stages', '30s:100,60s'], [/--stages\[1\]/]],
    [['load', '--target', 'http://10.1.2.3:80', '--rate', '10'], [/not a loopback address/]],
    [['load', '--target', t, '--rate', '10', '--pipelining', '4'], [/--pipelining: > 1 needs --throughput/]],
    [['load', '--target', t, '--rate', '10', '--arrivals', 'bursty'], [/--arrivals: must be one of uniform, poisson/]],
    [['load', '--target', t, '--rate', '10', '--mix', badMix], [/endpoints\[0\]\.weight/, /endpoints\[0\]\.path: unknown variable \{nope\}/, /endpoints\[1\]\.method/]],
    [['load', '--target', t, '--rate', '10', '--mix', badYaml], [/not valid YAML/]],
    [['load', '--target', t, '--rate', '10', '--mix', join(dir, 'missing.yaml')], [/--mix: cannot read/]],
    [['breakpoint', '--target', t, '--slo', 'p99<fast'], [/--slo: cannot read "p99<fast"/]],
    [['breakpoint', '--target', t, '--step-duration', '1500ms'], [/--step-duration: must be whole seconds/]],
    [['breakpoint', '--target', t, '--start', '500', '--max', '100'], [/--max: must be ≥ --start/]],
  ];
  try {
    const results = await Promise.all(cases.map(([args]) => cli(args)));
    results.forEach((r, k) => {
      const [args, patterns] = cases[k];
      assert.equal(r.code, 2, `${args.join(' ')} → exit ${r.code}\n${r.stderr}`);
      assert.match(r.stderr, /FL_INVALID_INPUT/, args.join(' '));
      for (const p of patterns) assert.match(r.stderr, p, `${args.join(' ')}:\n${r.stderr}`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--help shows examples; a short run prints JSON lines and exits 0', async () => {
  const srv = await startServer(answer());
  try {
    const [loadHelp, bpHelp, run, bp] = await Promise.all([
      cli(['load', '--help']),
      cli(['breakpoint', '--help']),
      cli(['load', '--target', srv.url, '--rate', '50', '--duration', '1s', '--seed', '5', '--json', '--max-lag', '1s']),
      cli(['breakpoint', '--target', srv.url, '--start', '20', '--step', '20', '--step-duration', '1s', '--max', '40', '--json', '--max-lag', '1s']),
    ]);
    assert.equal(loadHelp.code, 0);
    assert.match(loadHelp.stdout, /Examples:\n {2}faultline load --target/);
    assert.equal(bpHelp.code, 0);
    assert.match(bpHelp.stdout, /Examples:\n {2}faultline breakpoint --target/);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; seed?: number; total?: { sent: number } });
    assert.equal(lines[0].type, 'start');
    assert.ok(lines.some((l) => l.type === 'second'));
    const summary = lines.at(-1)!;
    assert.equal(summary.type, 'summary');
    assert.equal(summary.seed, 5);
    assert.equal(summary.total!.sent, 50);
    // The warm-up is reported, and none of it is in the counts.
    const warm = (summary as { warmup?: { target_requests: number; rehearsal_requests: number } }).warmup;
    assert.equal(warm?.target_requests, 0);
    assert.ok((warm?.rehearsal_requests ?? 0) > 0);
    // breakpoint --json: one line per step, then the verdict with what stopped the ramp and the ramp itself.
    assert.equal(bp.code, 0, bp.stderr);
    const bpLines = bp.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(bpLines.filter((l) => l.type === 'step').length, 2);
    const verdict = bpLines.find((l) => l.type === 'breakpoint')!;
    assert.equal(verdict.status, 'not_reached');
    assert.equal(verdict.stopped_by, 'max_rps');
    assert.equal(verdict.max_rps_derived, false);
    assert.equal(verdict.recommended_rps, 26);
    const ramp = verdict.ramp as { rate_rps: number; achieved_rps: number; p99_ms: number; error_rate: number; dispatch_lag_p99_ms: number }[];
    assert.deepEqual(ramp.map((s) => s.rate_rps), [20, 40]);
    for (const s of ramp) for (const k of ['achieved_rps', 'p99_ms', 'error_rate', 'dispatch_lag_p99_ms'] as const) assert.equal(typeof s[k], 'number');
  } finally {
    await srv.close();
  }
});
