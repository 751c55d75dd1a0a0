/**
 * The conventions every command keeps, checked over the whole commander tree (built as main.ts builds it), so a
 * new command or subcommand is checked the day it is registered:
 *   - help text: a description, and `--help` that prints its usage and every option;
 *   - `--json` wherever the command prints output (ALLOW_NO_JSON lists the few whose output already is a
 *     document or a script, each with why), and `--quiet` everywhere;
 *   - no ANSI escapes when stdout is not a TTY or NO_COLOR is set; colour and live lines only on a TTY;
 *   - `faultline completion bash|zsh` lists every command, subcommand and option (and bash really completes);
 *   - exit codes as documented (docs/errors.md): a few real processes that fail fast — no lab is started.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CommanderError, type Command } from 'commander';
import { EXIT, exitCodeFor } from '../core/exit.ts';
import { completionScript, completionTree } from './completion.ts';
import { buildProgram } from './index.ts';
import { palette, progressLine, useColour } from './options.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const BIN = join(ROOT, 'bin/faultline');
const ANSI = /\x1b\[/;
const dir = mkdtempSync(join(tmpdir(), 'fl-conventions-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Commands without --json, and why: each prints a document or text that is already the machine-readable result.
 * (A command listed here that gains --json, or that no longer exists, fails the test: the list cannot go stale.)
 */
const ALLOW_NO_JSON: Record<string, string> = {
  help: "its output is commander's help text; every command's --help is the same text",
  schema: 'its output is a JSON document already (the JSON Schema of faultline.yaml)',
  init: 'its output is the YAML system file itself, written to be redirected (or --out FILE)',
  export: 'its output is the exported experiment document (JSON unless --yaml), written to be redirected',
  completion: 'its output is a shell script, to be sourced',
};

/** Every command of the tree below the root, with its path ('proxy ca'). */
function commands(program: Command): { path: string; cmd: Command }[] {
  const out: { path: string; cmd: Command }[] = [];
  const walk = (c: Command, path: string): void => {
    for (const sub of c.commands) {
      const p = path ? `${path} ${sub.name()}` : sub.name();
      out.push({ path: p, cmd: sub });
      walk(sub, p);
    }
  };
  walk(program, '');
  return out;
}

const hasOption = (cmd: Command, long: string): boolean => cmd.options.some((o) => o.long === long);

/**
 * Runs the program in this process on `args` (as `faultline …` would), with commander's own output (help, usage
 * errors) captured per command; what an action throws is returned, as main.ts would map it to an exit code.
 */
async function inProcess(args: string[]): Promise<{ out: string; err: string; code: string | undefined; thrown?: unknown }> {
  const program = buildProgram();
  let out = '';
  let err = '';
  const capture = (c: Command): void => {
    c.configureOutput({ writeOut: (t) => void (out += t), writeErr: (t) => void (err += t) });
    c.commands.forEach(capture);
  };
  capture(program);
  try {
    await program.parseAsync(['node', 'faultline', ...args]);
    return { out, err, code: undefined };
  } catch (e) {
    if (e instanceof CommanderError) return { out, err, code: e.code };
    return { out, err, code: undefined, thrown: e };
  }
}

test('every command: a description, --help with its usage and options, --quiet, and --json where it prints output', async () => {
  const all = commands(buildProgram());
  assert.ok(all.length >= 20, `${all.length} commands walked`);
  for (const { path, cmd } of all) {
    assert.ok(cmd.description().trim().length > 0, `${path}: has a description`);
    assert.ok(hasOption(cmd, '--quiet'), `${path}: has --quiet`);
    if (path in ALLOW_NO_JSON) assert.ok(!hasOption(cmd, '--json'), `${path} has --json now: take it off ALLOW_NO_JSON`);
    else assert.ok(hasOption(cmd, '--json'), `${path}: prints output, so it needs --json (or a reason in ALLOW_NO_JSON)`);
    const help = await inProcess([...path.split(' '), '--help']);
    if (path === 'help') continue; // `help --help` is commander's own help of `help`: checked below as `help <cmd>`
    assert.equal(help.code, 'commander.helpDisplayed', `${path} --help`);
    assert.match(help.out, new RegExp(`^Usage: faultline ${path} `), `${path} --help: usage line`);
    for (const o of cmd.options) assert.ok(help.out.includes(o.long ?? o.short!), `${path} --help lists ${o.flags}`);
    assert.doesNotMatch(help.out + help.err, ANSI, `${path} --help: no ANSI escapes off a TTY`);
  }
  for (const name of Object.keys(ALLOW_NO_JSON)) assert.ok(all.some((c) => c.path === name), `ALLOW_NO_JSON names ${name}, which is no command`);
  // `faultline help X` prints X's help, prepared as `X --help` is.
  const viaHelp = await inProcess(['help', 'inject']);
  assert.match(viaHelp.out, /^Usage: faultline inject /);
  assert.match(viaHelp.out, /fault type: .*latency/, "inject's help names the fault types (loaded before use)");
});

test('completion: the bash and zsh scripts list every command, subcommand and option; bash really completes', async () => {
  const program = buildProgram();
  const tree = new Map(completionTree(program).map((n) => [n.path, n.words.map((w) => w.word)]));
  const bash = completionScript(program, 'bash');
  const zsh = completionScript(program, 'zsh');
  const bashCase = (path: string): string[] => {
    const line = bash.split('\n').find((l) => l.startsWith(`    '${path}') echo `));
    assert.ok(line, `bash script has a case for "${path}"`);
    return line.replace(/^.*\) echo '/, '').replace(/' ;;$/, '').split(' ');
  };
  for (const { path, cmd } of [{ path: '', cmd: program }, ...commands(program)]) {
    const words = bashCase(path);
    for (const sub of cmd.commands) assert.ok(words.includes(sub.name()), `bash: "${path}" offers ${sub.name()}`);
    for (const o of cmd.options) for (const f of [o.long, o.short].filter(Boolean) as string[]) {
      assert.ok(words.includes(f), `bash: "${path}" offers ${f}`);
      assert.ok(zsh.includes(`'${f.replace(/:/g, '\\:')}:`), `zsh offers ${f}`);
    }
    assert.deepEqual(words, tree.get(path));
  }
  assert.doesNotMatch(bash + zsh, ANSI);
  // Real bash: the script parses, and completes a subcommand, a nested one and an option.
  const file = join(dir, 'faultline.bash');
  writeFileSync(file, bash);
  const complete = (...words: string[]): string[] => {
    const script = `source ${file}; COMP_WORDS=(faultline ${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length}; _faultline; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const r = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean);
  };
  assert.deepEqual(complete('inj'), ['inject']);
  assert.deepEqual(complete('proxy', 'c'), ['ca']);
  assert.deepEqual(complete('load', '--ex'), ['--export', '--experiment']);
  assert.ok(complete('proxy', 'ca', '--').includes('--dir'));
  const zshBin = spawnSync('zsh', ['--version']);
  if (zshBin.status === 0) {
    writeFileSync(join(dir, '_faultline'), zsh);
    assert.equal(spawnSync('zsh', ['-n', join(dir, '_faultline')]).status, 0, 'zsh -n: the zsh script parses');
  } else {
    console.log('# zsh is not installed here: the zsh script is checked for its words only, not run');
  }
  // The command refuses another shell as bad input.
  assert.equal((await inProcess(['completion', 'fish'])).code, 'commander.invalidArgument');
});

test('colour only on a TTY and never with NO_COLOR; progress is a live line on a TTY, plain lines otherwise, none with --quiet', () => {
  assert.equal(useColour({ isTTY: true }, {}), true);
  assert.equal(useColour({ isTTY: true }, { NO_COLOR: '1' }), false);
  assert.equal(useColour({ isTTY: true }, { TERM: 'dumb' }), false);
  assert.equal(useColour({ isTTY: false }, {}), false);
  assert.equal(useColour({}, { FORCE_COLOR: '1' }), false);
  assert.equal(palette({ isTTY: true }, {}).ok('held'), '\x1b[32mheld\x1b[39m');
  assert.equal(palette({ isTTY: true }, { NO_COLOR: 'x' }).ok('held'), 'held');
  assert.equal(palette({ isTTY: false }, {}).bad('failed'), 'failed');

  const sink = (isTTY: boolean) => {
    const s = { isTTY, text: '', write: (c: string) => ((s.text += c), true) };
    return s;
  };
  let t = 0;
  const now = (): number => t;
  const tty = sink(true);
  const plain = sink(false);
  const quiet = sink(true);
  const p = [progressLine(tty, { now }), progressLine(plain, { now, every_ms: 5000 }), progressLine(quiet, { now, quiet: true })];
  for (t = 0; t < 12_000; t += 1000) for (const x of p) x.update(`at ${t}`);
  for (const x of p) x.done();
  assert.match(tty.text, /^\r\x1b\[2Kat 0\r\x1b\[2Kat 1000/, 'a TTY gets every update, in place');
  assert.equal(plain.text, 'at 0\nat 5000\nat 10000\n', 'off a TTY: plain lines, one per 5 s');
  assert.doesNotMatch(plain.text, ANSI);
  assert.equal(quiet.text, '');
});

/** One real `faultline` process: stdout and stderr are pipes (not TTYs), NO_COLOR set. */
function run(args: string[]): Promise<{ status: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (err += c));
    child.on('close', (status) => resolve({ status, out, err }));
  });
}

test('exit codes as documented, from real processes that fail fast (no lab is started); --quiet keeps only errors', async () => {
  const empty = join(dir, 'no-lab');
  // Bad input found by an action: the error's own catalog entry says exit 2 (what main.ts ends with).
  const bad = await inProcess(['load', '--target', 'http://127.0.0.1:1', '--rate', 'lots']);
  assert.ok(bad.thrown instanceof Error && /--rate/.test(bad.thrown.message), String(bad.thrown));
  assert.equal(exitCodeFor(bad.thrown), EXIT.INVALID_INPUT);
  const cases: { args: string[]; exit: number; why: string; err?: RegExp; out?: RegExp }[] = [
    { args: ['no-such-command'], exit: EXIT.INVALID_INPUT, why: 'an unknown command is bad input', err: /unknown command/ },
    { args: ['faults', '--state-dir', empty, '--quiet'], exit: EXIT.ENVIRONMENT, why: 'FL_LAB_NOT_RUNNING is exit 3; --quiet still prints the error', err: /^error \[FL_LAB_NOT_RUNNING\]/ },
    { args: ['status', '--state-dir', empty, '--json'], exit: EXIT.RUNTIME, why: 'status: 4 when the lab is not running', out: /"running": false/ },
    { args: ['load', '--export', 'k6', '--target', 'http://127.0.0.1:1', '--rate', '5', '--duration', '2s', '--seed', '3', '--quiet'], exit: EXIT.OK, why: 'an export: the script on stdout, nothing on stderr with --quiet', out: /constant-arrival-rate/ },
  ];
  const results = await Promise.all(cases.map((c) => run(c.args)));
  cases.forEach((c, k) => {
    const r = results[k];
    const what = `faultline ${c.args.join(' ')} (${c.why})`;
    assert.equal(r.status, c.exit, `${what}: exit ${r.status}\n${r.err}`);
    if (c.err) assert.match(r.err, c.err, what);
    if (c.out) assert.match(r.out, c.out, what);
    assert.doesNotMatch(r.out + r.err, ANSI, `${what}: no ANSI escapes with NO_COLOR, off a TTY`);
  });
  assert.equal(results[3].err.replace(/^faultline: .*\n/gm, ''), '', '--quiet: nothing on stderr but errors');
});
