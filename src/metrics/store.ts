/**
 * The in-memory series store: every sample a run collected (scrapes of every lab process, the load generator's
 * seconds), keyed by metric name + labels, as time-ordered points. It alone owns series identity, point order
 * and the JSONL persistence format (one series per line); SLI math reads it and never writes to it.
 *
 *   scraper / load samples ─add()─▶ SeriesStore ─select()─▶ sli.ts ─▶ runner
 *                                        └─ toJsonl() ─▶ <run>/series.jsonl ─ fromJsonl() ─▶ `faultline report`
 */

/** A label matcher: exact value, or a predicate (e.g. status ≥ 500). */
export type LabelMatch = Record<string, string | ((value: string) => boolean)>;

export interface Series {
  name: string;
  labels: Readonly<Record<string, string>>;
  /** [time ms since the epoch, value], strictly increasing in time. */
  points: [number, number][];
}

/**
 * @example
 *   const store = new SeriesStore();
 *   store.add(Date.now(), 'lab_http_requests_total', { service: 'api', route: '/orders' }, 42);
 *   store.select('lab_http_requests_total', { service: 'api' }); // → [Series]
 */
export class SeriesStore {
  readonly #series = new Map<string, Series>();
  readonly #byName = new Map<string, Series[]>();

  /** Appends one point; a point not later than the series' last one replaces it (a re-scrape of the same instant). */
  add(t_ms: number, name: string, labels: Record<string, string>, value: number): void {
    const key = seriesKey(name, labels);
    let s = this.#series.get(key);
    if (!s) {
      s = { name, labels: { ...labels }, points: [] };
      this.#series.set(key, s);
      const list = this.#byName.get(name);
      if (list) list.push(s);
      else this.#byName.set(name, [s]);
    }
    const last = s.points.at(-1);
    if (last && t_ms <= last[0]) {
      if (t_ms === last[0]) last[1] = value;
      return;
    }
    s.points.push([t_ms, value]);
  }

  /** Every series named `name` whose labels satisfy `match`. */
  select(name: string, match: LabelMatch = {}): Series[] {
    const list = this.#byName.get(name) ?? [];
    const entries = Object.entries(match);
    if (entries.length === 0) return list;
    return list.filter((s) => entries.every(([k, m]) => (typeof m === 'function' ? s.labels[k] !== undefined && m(s.labels[k]) : s.labels[k] === m)));
  }

  /** Every series (for persistence and for enumerating what was seen, e.g. the blast radius). */
  all(): Iterable<Series> {
    return this.#series.values();
  }

  get size(): number {
    return this.#series.size;
  }

  /** One JSON object per series per line: `{"name":…,"labels":{…},"points":[[t,v],…]}`. NaN/Inf as strings. */
  toJsonl(): string {
    let out = '';
    for (const s of this.#series.values()) {
      out += `${JSON.stringify({ name: s.name, labels: s.labels, points: s.points.map(([t, v]) => [t, encode(v)]) })}\n`;
    }
    return out;
  }

  /**
   * Reads back what `toJsonl` wrote.
   * @example const store = SeriesStore.fromJsonl(readFileSync('run/series.jsonl', 'utf8'));
   */
  static fromJsonl(text: string): SeriesStore {
    const store = new SeriesStore();
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const s = JSON.parse(line) as { name: string; labels: Record<string, string>; points: [number, number | string][] };
      for (const [t, v] of s.points) store.add(t, s.name, s.labels, decode(v));
    }
    return store;
  }
}

function seriesKey(name: string, labels: Record<string, string>): string {
  const keys = Object.keys(labels).sort();
  let k = name;
  for (const l of keys) k += `\u0000${l}\u0001${labels[l]}`;
  return k;
}

function encode(v: number): number | string {
  return Number.isFinite(v) ? v : String(v);
}

function decode(v: number | string): number {
  return typeof v === 'number' ? v : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : NaN;
}
