/**
 * The goals of issue #25, pure: each one a figure of the run, the limit it
 * must meet, and whether it did; the one-line summary printed at the end of
 * a run for the closing note. `tests/bench_report_test.ts` tests it.
 *
 * @module
 */
import { formatFixed } from "./_stats.ts";

/** One goal row: `value` must be at least (or at most) `limit`. */
export interface Goal {
  /** What is measured: `echo 512×1 64 B ws4d ÷ raw`. */
  readonly row: string;
  readonly value: number;
  readonly limit: number;
  /** True: `value ≤ limit` passes; false: `value ≥ limit` does. */
  readonly atMost: boolean;
  /** Decimals of `value` and `limit` in the summary (default 2). */
  readonly digits?: number;
  /** Written after the figures: ` B/conn`, ` KiB`. */
  readonly unit?: string;
}

/** `PASS`, `MISS`, or `n/a` when the figure is missing (rounds failed). */
export function verdict(goal: Goal): "PASS" | "MISS" | "n/a" {
  if (!Number.isFinite(goal.value)) return "n/a";
  const met = goal.atMost ? goal.value <= goal.limit : goal.value >= goal.limit;
  return met ? "PASS" : "MISS";
}

/** `echo 512×1 64 B ws4d ÷ raw 0.95 (≥ 0.97) MISS`. */
export function goalCell(goal: Goal): string {
  const digits = goal.digits ?? 2;
  const unit = goal.unit ?? "";
  const sign = goal.atMost ? "≤" : "≥";
  return `${goal.row} ${formatFixed(goal.value, digits)}${unit} (${sign} ${
    formatFixed(goal.limit, digits)
  }${unit}) ${verdict(goal)}`;
}

/**
 * The one-line summary: how many passed and missed, then every goal row
 * with its figure, limit and verdict; empty when the run had no goal row.
 *
 * @example
 * ```ts
 * import { goalLine } from "./_goals.ts";
 * goalLine([{ row: "resume ÷ ws4d", value: 0.96, limit: 0.95, atMost: false }]);
 * // "Goals (#25): 1 PASS, 0 MISS: resume ÷ ws4d 0.96 (≥ 0.95) PASS"
 * ```
 */
export function goalLine(goals: readonly Goal[]): string {
  if (goals.length === 0) return "";
  const count = (v: string) => goals.filter((g) => verdict(g) === v).length;
  const missing = count("n/a");
  return `Goals (#25): ${count("PASS")} PASS, ${count("MISS")} MISS${
    missing > 0 ? `, ${missing} n/a` : ""
  }: ${goals.map(goalCell).join("; ")}`;
}
