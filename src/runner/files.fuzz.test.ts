/**
 * Fuzz of the file loaders users feed (fast-check, fixed seed): every committed experiment file and system file,
 * mutated at random — keys dropped, values swapped for other JSON, types changed — must either load, or be
 * refused with INVALID_INPUT naming where (a path or file:line), before anything runs. Never a crash, never a
 * different error. `FAULTLINE_FUZZ_RUNS` raises the count (`npm run fuzz`).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { isFaultlineError } from '../core/errors.ts';
import { loadSystem } from '../system/system.ts';
import { loadExperiments } from './schema.ts';

const RUNS = Number(process.env.FAULTLINE_FUZZ_RUNS ?? 60);
const ROOT = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'faultline-fuzz-'));
after(() => rmSync(dir, { recursive: true, force: true }));

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every path to a value in a parsed document. */
function paths(v: Json, at: (string | number)[] = []): (string | number)[][] {
  if (v === null || typeof v !== 'object') return [at];
  const keys = Array.isArray(v) ? v.map((_, i) => i) : Object.keys(v);
  return [at, ...keys.flatMap((k) => paths((v as Record<string | number, Json>)[k], [...at, k]))];
}

function mutate(doc: Json, path: (string | number)[], kind: number, value: Json): Json {
  const copy = structuredClone(doc);
  if (path.length === 0) return kind === 0 ? value : copy;
  const parent = path.slice(0, -1).reduce<Json>((n, k) => (n as Record<string | number, Json>)[k], copy) as Record<string | number, Json>;
  const key = path.at(-1)!;
  if (kind === 0) parent[key] = value;
  else if (kind === 1) {
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else delete parent[key];
  } else parent[`${String(key)}_x`] = value; // an unknown key beside a known one
  return copy;
}

function checkLoader(name: string, files: string[], load: (file: string) => unknown): void {
  it(`${name}: ${RUNS} mutated files each load or are refused with INVALID_INPUT naming where`, () => {
    const docs = files.map((f) => ({ f, doc: parse(readFileSync(f, 'utf8'), { merge: true }) as Json }));
    let refused = 0;
    let loaded = 0;
    fc.assert(
      fc.property(fc.nat({ max: docs.length - 1 }), fc.nat(), fc.nat({ max: 2 }), fc.jsonValue({ maxDepth: 2 }), (which, pick, kind, value) => {
        const { f, doc } = docs[which];
        const all = paths(doc);
        const out = join(dir, `${name}-${which}.yaml`);
        writeFileSync(out, stringify(mutate(doc, all[pick % all.length], kind, value as Json)));
        try {
          load(out);
          loaded++;
        } catch (err) {
          assert.ok(isFaultlineError(err), `${f}: a mutation crashed the loader: ${(err as Error)?.stack ?? err}`);
          assert.equal(err.code, 'INVALID_INPUT', `${f}: ${err.code} ${err.message}`);
          assert.ok(/[a-z_\]]+:|:\d+/.test(err.message), `no location in: ${err.message}`);
          refused++;
        }
      }),
      { seed: 20261201, numRuns: RUNS },
    );
    process.stdout.write(`# ${name}: ${RUNS} mutations, ${refused} refused, ${loaded} loaded\n`);
  });
}

describe('file loaders under mutation (fuzz)', () => {
  const experiments = readdirSync(join(ROOT, 'experiments'))
    .filter((f) => /^exp.*\.yaml$|payments-latency-ci\.yaml$/.test(f))
    .map((f) => join(ROOT, 'experiments', f));
  // Mutated copies live in a temp dir: their relative mix paths are made absolute first.
  const absolutised = experiments.map((f, i) => {
    const doc = parse(readFileSync(f, 'utf8')) as { load?: { mix?: string } };
    if (doc.load?.mix) doc.load.mix = join(ROOT, 'experiments', doc.load.mix);
    const out = join(dir, `base-${i}.yaml`);
    writeFileSync(out, stringify(doc));
    return out;
  });
  checkLoader('experiments', absolutised, (f) => loadExperiments(f));
  checkLoader('systems', [join(ROOT, 'lab', 'faultline.yaml'), join(ROOT, 'examples', 'shop', 'faultline.yaml')], (f) => loadSystem(f));
});
