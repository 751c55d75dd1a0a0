/**
 * Sweeps: an experiment whose faults step one numeric parameter of one fault type through several values in one
 * fault window (e.g. a loss of 1, then 5, then 10 %), seen through each verdict's per-fault amplification
 * (effective/offered while each fault was on). This module alone owns the rule for when an experiment's runs are a
 * sweep — its before and after runs both have ≥ 2 per-fault segments of one type whose params differ in exactly
 * one field, numeric in each — and the figure of one: an inline SVG (no script, no external reference) of
 * effective/offered against that parameter, one line per variant with every point labelled, and the same numbers
 * as a table.
 *
 *   DemoRun[] ─ verdict.load.per_fault ─▶ sweepOf (the rule) ─▶ sweeps ─┬─ sweepSvg   ─▶ report.html
 *                                                                     └─ sweepTable ─▶ report.md · report.html
 */
import type { FaultSegment } from '../runner/evaluate.ts';
import { esc, times } from './format.ts';

/** What a sweep reads of one run (older verdicts have no per_fault). */
export interface SweepInput {
  key: string;
  variant: string;
  verdict: { load: { per_fault?: FaultSegment[]; amplification_of: string | null } };
}

export interface SweepPoint {
  x: number;
  ratio: number | null;
  offered: number;
  effective: number;
  from_s: number;
  to_s: number;
}

export interface Sweep {
  key: string;
  /** The fault type and the parameter that changed: the x axis is "<type> <param>". */
  type: string;
  param: string;
  /** What effective/offered counts (the verdict's amplification_of), for the y axis. */
  of: string | null;
  lines: { variant: string; points: SweepPoint[] }[];
}

/** The variants a sweep compares, in this order: the naive run and the mitigated one. */
const VARIANTS = ['before', 'after'] as const;

/**
 * The parameter a run's per-fault segments sweep, or null when they are no sweep: ≥ 2 segments, one fault type,
 * params that differ in exactly one field, numeric in every segment.
 * @example sweepOf([{ type: 'loss', params: { pct: 1, rto_ms: 200 } …}, { type: 'loss', params: { pct: 5, rto_ms: 200 } …}]) // { type: 'loss', param: 'pct' }
 */
export function sweepOf(segs: readonly Pick<FaultSegment, 'type' | 'params'>[]): { type: string; param: string } | null {
  if (segs.length < 2 || segs.some((g) => g.type !== segs[0].type)) return null;
  const keys = new Set(segs.flatMap((g) => Object.keys(g.params)));
  const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
  const differ = [...keys].filter((k) => segs.some((g) => !same(g.params[k], segs[0].params[k])));
  if (differ.length !== 1) return null;
  const param = differ[0];
  return segs.every((g) => typeof g.params[param] === 'number' && Number.isFinite(g.params[param])) ? { type: segs[0].type, param } : null;
}

/** A run's points, by parameter value; faults on at the same time with the same value (one per target) are one point. */
function points(segs: readonly FaultSegment[], param: string): SweepPoint[] {
  const seen = new Map<string, SweepPoint>();
  for (const g of segs) {
    const x = g.params[param] as number;
    const k = `${x}@${g.from_s}-${g.to_s}`;
    if (!seen.has(k)) seen.set(k, { x, ratio: g.ratio, offered: g.offered, effective: g.effective, from_s: g.from_s, to_s: g.to_s });
  }
  return [...seen.values()].sort((a, b) => a.x - b.x || a.from_s - b.from_s);
}

/**
 * Every experiment whose before and after runs are both a sweep of the same parameter, in plan order.
 * @example sweeps(summary.runs).map((s) => `${s.type} ${s.param}`) // ['loss pct']
 */
export function sweeps(runs: readonly SweepInput[]): Sweep[] {
  const keys = [...new Set(runs.map((r) => r.key))];
  return keys.flatMap((key): Sweep[] => {
    const pair = VARIANTS.map((v) => runs.find((r) => r.key === key && r.variant === v));
    if (pair.some((r) => r === undefined)) return [];
    const found = pair.map((r) => sweepOf(r!.verdict.load.per_fault ?? []));
    const [a, b] = found;
    if (!a || !b || a.type !== b.type || a.param !== b.param) return [];
    return [{
      key,
      type: a.type,
      param: a.param,
      of: pair[0]!.verdict.load.amplification_of ?? pair[1]!.verdict.load.amplification_of,
      lines: pair.map((r) => ({ variant: r!.variant, points: points(r!.verdict.load.per_fault!, a.param) })),
    }];
  });
}

/** The x axis title: "<type> <param>". */
export const axisX = (s: Sweep): string => `${s.type} ${s.param}`;
/** What the y axis counts, in full (the SVG's rotated title says only "effective/offered"). */
export const axisY = (s: Sweep): string => `effective/offered${s.of ? ` (${s.of})` : ''}`;
const cell = (p: SweepPoint): string => `${times(p.ratio)} (${p.offered} → ${p.effective})`;

/**
 * The sweep's numbers: one row per parameter value, one column per variant (ratio, and offered → effective).
 * @example sweepTable(s).rows[0] // ['1', '×1.00 (440 → 441)', '×1.01 (452 → 455)']
 */
export function sweepTable(s: Sweep): { head: string[]; rows: string[][] } {
  const xs = [...new Set(s.lines.flatMap((l) => l.points.map((p) => p.x)))].sort((a, b) => a - b);
  return {
    head: [axisX(s), ...s.lines.map((l) => `${l.variant}: effective/offered (offered → effective)`)],
    rows: xs.map((x) => [String(x), ...s.lines.map((l) => l.points.filter((p) => p.x === x).map(cell).join('; ') || '—')]),
  };
}

const LINE_COLOURS = ['#cf222e', '#1a7f37'];

/** The smallest of 1, 2, 2.5, 5 × a power of ten that is ≥ `raw`: a grid step a reader can count in. */
function niceStep(raw: number): number {
  const mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((m) => m * mag).find((x) => x >= raw - 1e-12)!;
}

/** A line chart's input: one line per variant, each point with its y (null: not drawn) and its hover title. */
export interface Chart {
  label: string;
  xTitle: string;
  yTitle: string;
  yFmt: (y: number) => string;
  lines: { variant: string; points: { x: number; y: number | null; title: string }[] }[];
}

/**
 * A chart as an inline SVG (no script, no external reference): y from 0 against x, one line per variant, each point
 * labelled with its value and titled with its details.
 */
export function lineChart(c: Chart): string {
  const W = 600;
  const H = 320;
  const pad = { l: 72, r: 120, t: 20, b: 52 };
  const xs = c.lines.flatMap((l) => l.points.map((p) => p.x));
  const [xLo, xHi] = [Math.min(...xs), Math.max(...xs)];
  const margin = (xHi - xLo || 1) * 0.06;
  // From 0 (the honest baseline of a ratio or a latency) to a round step above the highest point.
  const top = Math.max(0, ...c.lines.flatMap((l) => l.points.map((p) => p.y ?? 0))) * 1.1 || 1;
  const yStep = niceStep(top / 4);
  const yHi = Math.ceil(top / yStep) * yStep;
  const X = (x: number): number => pad.l + ((x - xLo + margin) / (xHi - xLo + 2 * margin)) * (W - pad.l - pad.r);
  const Y = (y: number): number => pad.t + (1 - y / yHi) * (H - pad.t - pad.b);
  const f = (n: number): string => n.toFixed(1);
  const grid = Array.from({ length: Math.round(yHi / yStep) + 1 }, (_, k) => k * yStep).map((y) => `<line x1="${pad.l}" x2="${W - pad.r}" y1="${f(Y(y))}" y2="${f(Y(y))}" stroke="#d0d7de" stroke-dasharray="2 3"/><text x="${pad.l - 6}" y="${f(Y(y) + 4)}" text-anchor="end" font-size="11" fill="#57606a">${esc(c.yFmt(y))}</text>`);
  const ticks = [...new Set(xs)].map((x) => `<text x="${f(X(x))}" y="${H - pad.b + 16}" text-anchor="middle" font-size="11" fill="#57606a">${esc(String(x))}</text>`);
  const lines = c.lines.map((l, i) => {
    const colour = LINE_COLOURS[i % LINE_COLOURS.length];
    const drawn = l.points.filter((p): p is { x: number; y: number; title: string } => p.y !== null).sort((a, b) => a.x - b.x);
    const d = drawn.map((p, k) => `${k === 0 ? 'M' : 'L'}${f(X(p.x))},${f(Y(p.y))}`).join('');
    // One variant's labels above its points, the other's below, so two close lines keep their labels apart.
    const dy = i % 2 === 0 ? -8 : 16;
    const marks = drawn.map((p) => `<circle cx="${f(X(p.x))}" cy="${f(Y(p.y))}" r="3.5" fill="${colour}"><title>${esc(p.title)}</title></circle><text x="${f(X(p.x))}" y="${f(Y(p.y) + dy)}" text-anchor="middle" font-size="11" fill="${colour}">${esc(c.yFmt(p.y))}</text>`);
    const key = `<line x1="${W - pad.r + 12}" x2="${W - pad.r + 32}" y1="${pad.t + 10 + i * 18}" y2="${pad.t + 10 + i * 18}" stroke="${colour}" stroke-width="2"/><text x="${W - pad.r + 38}" y="${pad.t + 14 + i * 18}" font-size="12" fill="#1f2328">${esc(l.variant)}</text>`;
    return `<path d="${d}" fill="none" stroke="${colour}" stroke-width="2"/>${marks.join('')}${key}`;
  });
  const midY = (pad.t + H - pad.b) / 2;
  return `<svg class="sweep" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(c.label)}">
<line x1="${pad.l}" x2="${pad.l}" y1="${pad.t}" y2="${H - pad.b}" stroke="#8c959f"/><line x1="${pad.l}" x2="${W - pad.r}" y1="${H - pad.b}" y2="${H - pad.b}" stroke="#8c959f"/>
${grid.join('')}${ticks.join('')}
${lines.join('\n')}
<text x="${f((pad.l + W - pad.r) / 2)}" y="${H - 12}" text-anchor="middle" font-size="12" fill="#1f2328">${esc(c.xTitle)}</text>
<text x="16" y="${f(midY)}" text-anchor="middle" font-size="12" fill="#1f2328" transform="rotate(-90 16 ${f(midY)})">${esc(c.yTitle)}</text>
</svg>`;
}

/**
 * The sweep as an inline SVG: effective/offered (y, from 0) against the parameter (x), one line per variant, each
 * point labelled with its ratio and titled with its counts (what the ratio counts goes in the caption: it is long).
 */
export function sweepSvg(s: Sweep): string {
  return lineChart({
    label: `${s.key}: ${axisY(s)} against ${axisX(s)}`,
    xTitle: axisX(s),
    yTitle: 'effective/offered',
    yFmt: times,
    lines: s.lines.map((l) => ({
      variant: l.variant,
      points: l.points.map((p) => ({ x: p.x, y: p.ratio, title: `${l.variant}: ${axisX(s)} ${p.x} → ${cell(p)}, ${p.from_s}–${p.to_s} s into the fault window` })),
    })),
  });
}
