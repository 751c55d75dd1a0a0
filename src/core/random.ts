/**
 * mulberry32: a small, fast, seedable PRNG for places that need reproducible picks without the load generator's
 * per-request streams (src/load/prng.ts owns those): which HTTP requests a fault hits, bootstrap resamples.
 * @example const rnd = mulberry32(42); rnd(); // the same float in [0, 1) on every run
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
