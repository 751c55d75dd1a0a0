/**
 * The dashboard's bounded memory: one shared time column and one value column per derived series, each a
 * fixed-size ring (an hour at 1 s by default). It alone owns eviction; appending is O(series) per round and
 * reading "everything after t" is a binary search plus one copy, so an hour of data stays cheap to serve.
 *
 *   collector round ─append(t, values)─▶ Ring ─since(t)─▶ /ui/api/series JSON
 */

/**
 * @example
 *   const ring = new Ring(3600);
 *   ring.append(Date.now(), new Map([['api/rps/all', 12]]));
 *   ring.since(0); // → { t: [ms], series: { 'api/rps/all': [12] } }
 */
export class Ring {
  readonly capacity: number;
  readonly #t: Float64Array;
  readonly #columns = new Map<string, Float64Array>();
  /** Index the next append writes to. */
  #head = 0;
  #length = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 2) throw new RangeError(`ring capacity must be an integer ≥ 2 (got ${capacity})`);
    this.capacity = capacity;
    this.#t = new Float64Array(capacity);
  }

  get length(): number {
    return this.#length;
  }

  /** Ids of every series seen so far (a series never seen again keeps its column: it may be a dead process). */
  ids(): string[] {
    return [...this.#columns.keys()];
  }

  /**
   * One round: `t_ms` must increase. A series absent from `values` gets NaN (a gap), and a series new in this
   * round is NaN for every earlier slot — so all columns always share the time column.
   */
  append(t_ms: number, values: ReadonlyMap<string, number>): void {
    const last = this.#length > 0 ? this.#t[(this.#head - 1 + this.capacity) % this.capacity] : -Infinity;
    if (!(t_ms > last)) return;
    for (const id of values.keys()) {
      if (!this.#columns.has(id)) this.#columns.set(id, new Float64Array(this.capacity).fill(NaN));
    }
    this.#t[this.#head] = t_ms;
    for (const [id, col] of this.#columns) col[this.#head] = round(values.get(id) ?? NaN);
    this.#head = (this.#head + 1) % this.capacity;
    if (this.#length < this.capacity) this.#length++;
  }

  /** Every slot with time > `t_ms`, oldest first; NaN becomes null so the result is plain JSON. */
  since(t_ms: number): { t: number[]; series: Record<string, (number | null)[]> } {
    const start = (this.#head - this.#length + this.capacity) % this.capacity;
    const at = (i: number): number => (start + i) % this.capacity;
    // Times are increasing in logical order: binary search for the first slot after t_ms.
    let lo = 0;
    let hi = this.#length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#t[at(mid)] > t_ms) hi = mid;
      else lo = mid + 1;
    }
    const n = this.#length - lo;
    const t = new Array<number>(n);
    for (let i = 0; i < n; i++) t[i] = this.#t[at(lo + i)];
    const series: Record<string, (number | null)[]> = {};
    for (const [id, col] of this.#columns) {
      const out = new Array<number | null>(n);
      let any = false;
      for (let i = 0; i < n; i++) {
        const v = col[at(lo + i)];
        if (Number.isFinite(v)) {
          out[i] = v;
          any = true;
        } else out[i] = null;
      }
      // A column that is all gaps in the asked range costs the page nothing to skip.
      if (any || lo === 0) series[id] = out;
    }
    return { t, series };
  }
}

/** Four significant digits: more than a 160 px panel can show, and it makes an hour's JSON ~3× smaller. */
function round(v: number): number {
  return v === 0 || !Number.isFinite(v) ? v : Number(v.toPrecision(4));
}
