/**
 * The load generator's only source of randomness: a small seeded PRNG (splitmix32), so the same seed gives the
 * same schedule and the same request bytes on every run and every machine. Math.random never touches a schedule.
 *
 *   seed ──hash(seed, stream, i)──▶ Rng ──▶ uint32 / float / int / exp
 *
 * Request i draws from its own stream (`Rng.reseed(hash32(seed, STREAM, i))`), so its content is a pure function
 * of (seed, i): a dropped or late request never shifts the ones after it.
 */

/** Mixes 32-bit words into one well-spread 32-bit word (splitmix32's finaliser, applied in turn). */
export function hash32(...words: number[]): number {
  let h = 0x9e3779b9;
  for (const w of words) {
    h = (h + Math.imul((w >>> 0) ^ 0x85ebca6b, 0x9e3779b1)) | 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= h >>> 16;
    // Numbers above 2^32 (a request index past 4 billion) keep their high part too.
    if (w > 0xffffffff) h = hash32(h, Math.floor(w / 0x100000000));
  }
  return h >>> 0;
}

/**
 * splitmix32: 32 bits of state, passes the usual statistical batteries for this use, and reseeding is one store,
 * so the hot path allocates nothing per request.
 * @example const rng = new Rng(42); rng.int(1, 6); // a die roll, the same one every run
 */
export class Rng {
  #s: number;

  constructor(seed: number) {
    this.#s = seed >>> 0;
  }

  /** Restarts the stream from `seed` (no allocation). */
  reseed(seed: number): void {
    this.#s = seed >>> 0;
  }

  /** Next uint32. */
  next(): number {
    this.#s = (this.#s + 0x9e3779b9) | 0;
    let z = this.#s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** Uniform in [0, 1) with 53 bits, so integer ranges beyond 2^32 stay uniform. */
  float(): number {
    const hi = this.next() >>> 5; // 27 bits
    const lo = this.next() >>> 6; // 26 bits
    return (hi * 67_108_864 + lo) / 9_007_199_254_740_992;
  }

  /** Uniform integer in [min, max], both inclusive. @example rng.int(1, 10_000) */
  int(min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1));
  }

  /** Exponential with mean 1 (the gap between Poisson arrivals at unit rate). */
  exp(): number {
    return -Math.log(1 - this.float());
  }
}

/** Stream ids, so the schedule, the mix and the keys never share draws. */
export const STREAM = { arrivals: 1, request: 2, key: 3 } as const;
