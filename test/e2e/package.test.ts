/**
 * The package as a user gets it: `npm pack` (its prepack builds dist/ afresh, scripts/build.ts --clean), then a
 * fresh project in a temp dir installs the tarball from disk and its dependencies from the npm registry, and
 * there, far from this checkout's sources:
 *   - the tarball holds dist/ (JS and types), bin/ and the built-in lab (lab/, run through tsx), no src/;
 *   - `npx faultline --help` answers, from the built CLI (bin/faultline says which one it ran), and
 *     `npx faultline toxics --json` loads a command's code on demand from the installed chunks;
 *   - a plain .mjs imports `startProxyServer` from 'faultline', proxies real bytes to an echo server, closes;
 *   - a .ts file type-checks against the package's own types (strict, no skipLibCheck), and a misuse does not
 *     (`@ts-expect-error`), so types that came out as `any`, or not at all, fail the test.
 *
 *   npm pack ─▶ faultline-<v>.tgz ─npm install─▶ $TMP/app/node_modules/faultline ─▶ npx · node app.mjs · tsc
 *
 * Needs the npm registry (or npm's cache: --prefer-offline). The temp dir is removed afterwards.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; devDependencies: Record<string, string> };
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const exec = promisify(execFile);
// The user's environment, not this checkout's switches.
const { FAULTLINE_FROM_SOURCE: _f, FAULTLINE_BIN_DEBUG: _d, ...userEnv } = process.env;

let tmp: string;
let app: string;
let tarball: string;
const took: string[] = [];

async function timed<T>(label: string, run: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const result = await run();
  took.push(`${label} ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return result;
}

/** Runs a command in the temp project; resolves with its output, rejects with it (and the exit code). */
function inApp(cmd: string, args: string[], env: NodeJS.ProcessEnv = userEnv, timeout = 60_000): Promise<{ stdout: string; stderr: string }> {
  return exec(cmd, args, { cwd: app, env, timeout, maxBuffer: 16 << 20 });
}

describe('the packed package, installed in a fresh project', { timeout: 240_000 }, () => {
  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'faultline-package-'));
    app = join(tmp, 'app');
    mkdirSync(app);
    await timed('npm pack (with the prepack build)', () =>
      exec('npm', ['pack', '--pack-destination', tmp, '--loglevel=error'], { cwd: ROOT, env: userEnv, timeout: 180_000, maxBuffer: 16 << 20 }),
    );
    const packed = readdirSync(tmp).filter((f) => f.endsWith('.tgz'));
    assert.equal(packed.length, 1, `npm pack wrote ${packed.join(', ') || 'nothing'}`);
    tarball = join(tmp, packed[0]);
    writeFileSync(join(app, 'package.json'), `${JSON.stringify({ name: 'faultline-user', private: true, type: 'module' }, null, 2)}\n`);
    // @types/node is the user's (the package's types name node:net and node:http); same version as this checkout's.
    await timed('npm install', () =>
      inApp('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tarball, `@types/node@${PKG.devDependencies['@types/node']}`], userEnv, 180_000),
    );
  });

  after(() => {
    if (took.length > 0) console.log(`# package test: ${took.join(', ')}`);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test("the tarball holds the built CLI, library, types, watchdog and the built-in lab, and not faultline's sources", async () => {
    const { stdout } = await exec('tar', ['-tzf', tarball]);
    const files = stdout.split('\n').filter(Boolean);
    const wanted = ['bin/faultline', 'dist/esm/cli.mjs', 'dist/esm/index.mjs', 'dist/types/index.d.ts', 'dist/watchdog.mjs', 'dist/agent.mjs', 'lab/faultline.yaml', 'lab/api/main.ts', 'package.json', 'README.md'];
    for (const f of wanted) assert.ok(files.includes(`package/${f}`), `${f} is not in the tarball`);
    const unwanted = files.filter((f) => /^package\/(src|test|scripts|bench|experiments)\/|\.test\.ts$|build\.json$|tsbuildinfo$/.test(f));
    assert.deepEqual(unwanted, []);
  });

  test('`node --import faultline/agent` resolves from the installed package, and starts only with its env', async () => {
    writeFileSync(join(app, 'agent-check.mjs'), `console.log(globalThis[Symbol.for('faultline.agent')] === undefined ? 'idle' : 'running');\n`);
    const idle = await inApp(process.execPath, ['--import', 'faultline/agent', 'agent-check.mjs']);
    assert.equal(idle.stdout.trim(), 'idle');
    const env = { ...userEnv, FAULTLINE_AGENT_CONTROLLER: 'http://127.0.0.1:9', FAULTLINE_AGENT_TOKEN: 't', FAULTLINE_AGENT_SERVICE: 'check' };
    const running = await inApp(process.execPath, ['--import', 'faultline/agent', 'agent-check.mjs'], env);
    assert.equal(running.stdout.trim(), 'running');
  });

  test('`npx faultline --help` answers from the built CLI', async () => {
    const { stdout, stderr } = await inApp('npx', ['--yes=false', 'faultline', '--help'], { ...userEnv, FAULTLINE_BIN_DEBUG: '1' });
    assert.match(stdout, /^Usage: faultline \[options\] \[command\]/);
    for (const command of ['proxy', 'toxics', 'load', 'inject', 'run']) assert.match(stdout, new RegExp(`^  ${command} `, 'm'));
    assert.match(stderr, /^faultline: dist\/esm\/cli\.mjs /m, 'bin/faultline did not run the built CLI');
    const version = await inApp('npx', ['--yes=false', 'faultline', '--version']);
    assert.equal(version.stdout.trim(), PKG.version);
  });

  test('a command loads its code on demand from the installed chunks (`faultline toxics --json`)', async () => {
    const { stdout } = await inApp('npx', ['--yes=false', 'faultline', 'toxics', '--json']);
    const types = (JSON.parse(stdout) as { type: string }[]).map((t) => t.type);
    assert.ok(types.includes('latency') && types.includes('bandwidth'), `toxics: ${types.join(', ')}`);
  });

  test("plain ESM imports startProxyServer from 'faultline' and proxies real bytes", async () => {
    writeFileSync(
      join(app, 'app.mjs'),
      `import { connect, createServer } from 'node:net';
import { startProxyServer } from 'faultline';

const echo = createServer((socket) => socket.pipe(socket));
await new Promise((resolve) => echo.listen(0, '127.0.0.1', resolve));
const server = await startProxyServer({ port: 0 });
const proxy = await server.createProxy({ name: 'echo', upstream: \`127.0.0.1:\${echo.address().port}\` });
const reply = await new Promise((resolve, reject) => {
  const client = connect(proxy.port, '127.0.0.1', () => client.write('ping through faultline'));
  let got = '';
  client.setEncoding('utf8').on('data', (s) => {
    got += s;
    if (got.length >= 22) { client.destroy(); resolve(got); }
  });
  client.on('error', reject);
});
const listed = await (await fetch(\`\${server.url}/proxies\`)).json();
await server.close();
echo.close();
console.log(JSON.stringify({ reply, proxies: Object.keys(listed), api: server.url }));
`,
    );
    const { stdout } = await inApp(process.execPath, ['app.mjs'], userEnv, 30_000);
    const out = JSON.parse(stdout) as { reply: string; proxies: string[]; api: string };
    assert.equal(out.reply, 'ping through faultline');
    assert.deepEqual(out.proxies, ['echo']);
    assert.match(out.api, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  test("TypeScript type-checks against the package's types, and a misuse fails to", async () => {
    writeFileSync(
      join(app, 'tsconfig.json'),
      `${JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: ['node'] }, files: ['check.ts'] }, null, 2)}\n`,
    );
    writeFileSync(
      join(app, 'check.ts'),
      `import { startProxyServer, FaultlineError, type ProxyServer } from 'faultline';

const server: ProxyServer = await startProxyServer({ port: 0, host: '127.0.0.1' });
const proxy = await server.createProxy({ name: 'db', upstream: '127.0.0.1:5432' });
const port: number = proxy.port;
const url: string = server.url;
const err = new FaultlineError('INVALID_INPUT', 'x');
const status: number = err.status;
// @ts-expect-error the API port is a number
await startProxyServer({ port: '8474' });
// @ts-expect-error a proxy needs an upstream
await server.createProxy({ name: 'no-upstream' });
await server.close();
export { port, url, status };
`,
    );
    await timed('tsc', () => inApp(process.execPath, [TSC, '-p', '.'], userEnv, 120_000)).catch((err: { stdout?: string; stderr?: string }) => {
      assert.fail(`tsc failed in the user's project:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    });
  });
});
