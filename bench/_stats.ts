/**
 * Statistics of the benchmark: medians, quantiles and ranges, a latency
 * histogram that two load processes can merge, number formatting.
 *
 * @module
 */
import { format as formatDuration } from "@std/fmt/duration";

/** The median of `values` (the mean of the two middle ones when even). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const upper = sorted[middle] as number;
  if (sorted.length % 2 === 1) return upper;
  return ((sorted[middle - 1] as number) + upper) / 2;
}

/**
 * The `q`-quantile (`q` from 0 to 1) of `values` by nearest rank: the
 * smallest value with at least `q` of all at or below it, as
 * {@linkcode Histogram.percentile} reads its buckets (`q` 0.99 of 100
 * values: the 99th smallest); NaN when empty. {@linkcode median} is the
 * middle (0.5) as the mean of the middle two.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { quantile } from "./_stats.ts";
 * const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1
 * assertEquals(quantile(values, 0.99), 99);
 * assertEquals(quantile(values, 0.07), 7);
 * assertEquals(quantile(values, 1), 100);
 * assertEquals(quantile(values, 0), 1);
 * ```
 */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  // q × n off by a float's last bit (0.07 × 100 is 7.000000000000001)
  // rounds to the rank it means.
  const rank = Math.ceil(q * sorted.length - 1e-9);
  return sorted[Math.min(Math.max(rank, 1), sorted.length) - 1] as number;
}

/** The smallest and largest of `values`. */
export function range(values: readonly number[]): [number, number] {
  if (values.length === 0) return [NaN, NaN];
  return [Math.min(...values), Math.max(...values)];
}

/** Buckets grow by 2%: a percentile is read within 1% of its value. */
const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
/** 1.02^1000 µs is about 7 minutes: far past any wait of the benchmark. */
const BUCKETS = 1000;

/** `[bucket, count]` pairs of the non-empty buckets, for JSON. */
export type SparseHistogram = Array<[number, number]>;

/**
 * A log-scale histogram of durations in microseconds. Recording is one
 * `Math.log` and one increment, cheap enough for the load generator's hot
 * path; two histograms merge exactly.
 */
export class Histogram {
  readonly #counts = new Float64Array(BUCKETS);
  #total = 0;

  /** Records one duration, in microseconds. */
  record(micros: number): void {
    const index = micros <= 1 ? 0 : Math.ceil(Math.log(micros) / LOG_GROWTH);
    this.#counts[index < BUCKETS ? index : BUCKETS - 1]! += 1;
    this.#total++;
  }

  /** How many durations were recorded. */
  get total(): number {
    return this.#total;
  }

  /** The counts of the non-empty buckets. */
  toSparse(): SparseHistogram {
    const pairs: SparseHistogram = [];
    this.#counts.forEach((count, index) => {
      if (count > 0) pairs.push([index, count]);
    });
    return pairs;
  }

  /** Adds the counts of another histogram. */
  addSparse(pairs: SparseHistogram): void {
    for (const [index, count] of pairs) {
      if (index >= 0 && index < BUCKETS) {
        this.#counts[index]! += count;
        this.#total += count;
      }
    }
  }

  /** The `p`-th percentile (0–100) in microseconds, NaN when empty. */
  percentile(p: number): number {
    if (this.#total === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#total));
    let seen = 0;
    for (let index = 0; index < BUCKETS; index++) {
      seen += this.#counts[index] as number;
      // The bucket's upper bound: GROWTH^index µs.
      if (seen >= rank) return Math.pow(GROWTH, index);
    }
    return Math.pow(GROWTH, BUCKETS - 1);
  }
}

/** `b ÷ a`, NaN when either is missing. */
export function ratio(a: number, b: number): number {
  return a > 0 && Number.isFinite(a) && Number.isFinite(b) ? b / a : NaN;
}

/** A count with thousands separators and no decimals: `123,456`. */
export function formatCount(value: number): string {
  if (!Number.isFinite(value)) return "n/a";
  return Math.round(value).toLocaleString("en-US");
}

/** A value with `digits` decimals. */
export function formatFixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "n/a";
}

/** Milliseconds from microseconds: 3 decimals below 1 ms, 2 below 10, then 1. */
export function formatMillis(micros: number): string {
  if (!Number.isFinite(micros)) return "n/a";
  const millis = micros / 1000;
  return millis.toFixed(millis < 1 ? 3 : millis < 10 ? 2 : 1);
}

/** `median (min–max)` of `values`, each formatted by `format`. */
export function formatSpread(
  values: readonly number[],
  format: (value: number) => string,
): string {
  if (values.length === 0) return "n/a";
  const [low, high] = range(values);
  return `${format(median(values))} (${format(low)}–${format(high)})`;
}

/**
 * A duration in milliseconds, rounded to `unitMs` (1000: whole seconds,
 * 100: tenths), as `@std/fmt/duration` writes it: `8m 18s`, `3s 200ms`.
 */
export function formatElapsed(ms: number, unitMs: number): string {
  if (!Number.isFinite(ms)) return "n/a";
  const rounded = Math.round(ms / unitMs) * unitMs;
  return rounded === 0 ? "0s" : formatDuration(rounded, { ignoreZero: true });
}
