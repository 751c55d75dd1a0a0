/**
 * The experiments board: what `faultline run` told the controller about the runs in progress and just ended
 * (`POST /chaos/experiments/status`), plus where past run reports live. It alone owns that short in-memory
 * history (the run dirs on disk stay the record) and the rule for which run dirs the dashboard may serve.
 *
 *   runner ─POST status─▶ ExperimentBoard ─snapshot()─▶ GET /chaos/experiments, the dashboard's banner
 *   <runs dir>/<name>/report.html + dirs the runner reported ─runs()─▶ /ui/runs/<name>/report.html (read-only)
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { parseSchema } from '../core/schema.ts';

const PHASES = ['warmup', 'baseline', 'fault', 'recovery', 'judging', 'done'] as const;
/** How many runs the board remembers; older ones are still on disk. */
const KEEP = 20;
/** A run that has not reported for this long is shown as gone silent, not as running. */
const STALE_MS = 30_000;
/** A run dir name the dashboard serves: one path segment, nothing a URL or a path could misread. */
const RUN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/** What the runner posts: one run's phase now, and its verdict once judged. */
export const ExperimentStatus = z.strictObject({
  run_id: z.string().min(1).max(200),
  title: z.string().max(500),
  phase: z.enum(PHASES),
  left_s: z.number().nonnegative().optional(),
  faults_active: z.number().int().nonnegative().optional(),
  /** The verdict's result (`held` … `aborted`, or `invalid`) and its headline numbers, once phase is `done`. */
  verdict: z
    .object({
      result: z.string().max(40),
      baseline_p99: z.number().nullable().optional(),
      fault_p99: z.number().nullable().optional(),
      fault_err_rate: z.number().nullable().optional(),
      mttr_s: z.number().nullable().optional(),
    })
    .optional(),
  /** The run dir, absolute: its report.html becomes a link on the dashboard. */
  dir: z.string().max(4096).refine(isAbsolute, 'must be an absolute path').optional(),
});
export type ExperimentStatus = z.output<typeof ExperimentStatus>;

export interface BoardEntry extends ExperimentStatus {
  updated_at: number;
  /** True while the run reports and has not ended. */
  running: boolean;
}

export interface RunLink {
  name: string;
  /** Served at /ui/runs/<name>/report.html. */
  href: string;
  mtime_ms: number;
}

export interface BoardOptions {
  /** Where `faultline run` writes run dirs by default (its `runs/`); each subdir with a report.html is listed. */
  runsDir: string;
  /** Folder of committed experiment files (the schedule GET /chaos/experiments lists). */
  experimentsDir?: string;
}

/**
 * @example
 *   const board = new ExperimentBoard({ runsDir: resolve('runs') });
 *   board.update({ run_id: 'r1', title: 'payments latency', phase: 'fault' });
 *   board.snapshot().running?.phase; // 'fault'
 */
export class ExperimentBoard {
  readonly runsDir: string;
  readonly #experimentsDir: string | undefined;
  readonly #entries = new Map<string, Omit<BoardEntry, 'running'>>();
  /** Run dirs the runner reported (which may lie outside runsDir), by name. */
  readonly #reported = new Map<string, string>();

  constructor(options: BoardOptions) {
    this.runsDir = options.runsDir;
    this.#experimentsDir = options.experimentsDir;
  }

  /** Records one status post; throws INVALID_INPUT (every problem listed) on a malformed one. */
  update(raw: unknown): BoardEntry {
    const status = parseSchema(ExperimentStatus, raw);
    const entry = { ...this.#entries.get(status.run_id), ...status, updated_at: Date.now() };
    // Re-inserting keeps the map in order of last report, so eviction drops the quietest run.
    this.#entries.delete(status.run_id);
    this.#entries.set(status.run_id, entry);
    while (this.#entries.size > KEEP) this.#entries.delete(this.#entries.keys().next().value!);
    if (status.dir !== undefined && RUN_NAME.test(basename(status.dir))) this.#reported.set(basename(status.dir), status.dir);
    return this.#view(entry);
  }

  /** The run in progress (if any), the recent ones newest first, and the committed experiment files. */
  snapshot(): { running: BoardEntry | null; recent: BoardEntry[]; schedule: string[] } {
    const recent = [...this.#entries.values()].reverse().map((e) => this.#view(e));
    return { running: recent.find((e) => e.running) ?? null, recent, schedule: this.#schedule() };
  }

  /** Past run reports, newest first: every subdir of runsDir with a report.html, and every dir the runner reported. */
  runs(): RunLink[] {
    const dirs = new Map<string, string>();
    try {
      for (const name of readdirSync(this.runsDir)) if (RUN_NAME.test(name)) dirs.set(name, join(this.runsDir, name));
    } catch {
      /* no runs yet */
    }
    for (const [name, dir] of this.#reported) if (!dirs.has(name)) dirs.set(name, dir);
    const links: RunLink[] = [];
    for (const [name, dir] of dirs) {
      const report = join(dir, 'report.html');
      try {
        links.push({ name, href: `/ui/runs/${encodeURIComponent(name)}/report.html`, mtime_ms: statSync(report).mtimeMs });
      } catch {
        /* a run dir without a report (still running, or not a run dir) */
      }
    }
    return links.sort((a, b) => b.mtime_ms - a.mtime_ms);
  }

  /** The report.html of run `name`, or undefined: only names runs() lists can be read, so no path escapes. */
  reportPath(name: string): string | undefined {
    if (!RUN_NAME.test(name)) return undefined;
    const dir = this.#reported.get(name) ?? join(this.runsDir, name);
    const file = join(dir, 'report.html');
    return existsSync(file) ? file : undefined;
  }

  #view(e: Omit<BoardEntry, 'running'>): BoardEntry {
    return { ...e, running: e.phase !== 'done' && Date.now() - e.updated_at < STALE_MS };
  }

  #schedule(): string[] {
    if (this.#experimentsDir === undefined) return [];
    try {
      return readdirSync(this.#experimentsDir).filter((f) => /\.ya?ml$/.test(f)).sort();
    } catch {
      return [];
    }
  }
}
