/**
 * State changes during a run: gauges a system file names under `server_metrics.states` (a circuit breaker's
 * closed / half-open / open, a feature flag, an instance in or out of rotation) read back from the series the run
 * scraped, and turned into the moments each one changed, in seconds from the first inject. They are evidence
 * beside the verdict (how a mitigation acted: when the breaker opened, when it closed again), never judged.
 *
 *   SeriesStore ─ series name + labels ─▶ one track per (service, `by` label) ─▶ value changed? ─▶ StateChange
 *
 * A value the spec has no name for is shown as the number itself. Each change is placed at the first scrape that
 * saw the new value, so it is precise to one scrape interval (`precision_s`), which a report says.
 */
import type { SeriesStore } from '../metrics/store.ts';
import type { StateSpec } from '../system/view.ts';

export interface StateChange {
  name: string;
  service: string;
  /** The `by` label's value, when the spec has one. */
  of?: string;
  /** Seconds from the first inject (negative: before it), and the wall-clock time in ms. */
  t_s: number;
  at_ms: number;
  from: string;
  to: string;
}

export interface StateChanges {
  changes: StateChange[];
  /** The scrape interval the moments are precise to, in seconds. */
  precision_s: number;
}

/**
 * Every change of every declared state between `from_ms` and `to_ms` (the value seen at the window's start is
 * the starting state, not a change), in time order.
 * @example stateChanges(store, [{ name: 'breaker', series: 'lab_breaker_state', by: 'dependency', values: { '0': 'closed', '2': 'open' } }], t0, t1, firstInject, 1000)
 */
export function stateChanges(store: SeriesStore, specs: readonly StateSpec[], from_ms: number, to_ms: number, zero_ms: number, interval_ms: number): StateChanges {
  const changes: StateChange[] = [];
  for (const spec of specs) {
    const name = (v: number): string => spec.values?.[String(v)] ?? String(v);
    for (const series of store.select(spec.series, spec.labels ?? {})) {
      const service = series.labels.service ?? 'unknown';
      const of = spec.by === undefined ? undefined : series.labels[spec.by];
      if (spec.by !== undefined && of === undefined) continue;
      let last: number | undefined;
      for (const [t, value] of series.points) {
        if (t < from_ms || t > to_ms) continue;
        if (last !== undefined && value !== last) {
          changes.push({ name: spec.name, service, ...(of !== undefined ? { of } : {}), t_s: Math.round((t - zero_ms) / 10) / 100, at_ms: t, from: name(last), to: name(value) });
        }
        last = value;
      }
    }
  }
  changes.sort((a, b) => a.at_ms - b.at_ms || a.service.localeCompare(b.service));
  return { changes, precision_s: interval_ms / 1000 };
}
