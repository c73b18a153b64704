/**
 * The benchmark's pure report (`bench/_report.ts`) and statistics
 * (`bench/_stats.ts`): medians, ratios, cells, tables, the load-generator
 * check, the `--quick` lines and the goal summary (`bench/_goals.ts`), on
 * made-up rounds.
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import {
  boundBy,
  cpuRows,
  type Measurement,
  medianOf,
  quickLines,
  rateRows,
  ratioCell,
  ratioTo,
  table,
} from "../bench/_report.ts";
import { formatSpread, Histogram, median, quantile } from "../bench/_stats.ts";
import { type Goal, goalCell, goalLine, verdict } from "../bench/_goals.ts";
import { levels } from "../bench/scenarios/idle.ts";

function round(value: number, extra: Partial<Measurement> = {}): Measurement {
  return {
    value,
    p50: 100,
    p99: 200,
    serverCpu: 1,
    loadCpu: [0.4, 0.5],
    errors: 0,
    ...extra,
  };
}

const samples = new Map<string, Measurement[]>([
  ["raw", [round(100), round(300), round(200)]],
  ["ws4d", [round(190, { p99: 300 }), round(180), round(170)]],
  ["ws4d@HEAD~1", [round(200), round(NaN)]],
  ["resume", [round(90)]],
]);

Deno.test("median, medianOf and ratioTo skip failed rounds and compare medians", () => {
  assertEquals(median([3, 1, 2]), 2);
  assertEquals(median([4, 1, 3, 2]), 2.5);
  assert(Number.isNaN(median([])));
  assertEquals(medianOf(samples, "raw", (m) => m.value), 200);
  assertEquals(medianOf(samples, "ws4d@HEAD~1", (m) => m.value), 200);
  assertEquals(ratioTo(samples, "raw", "ws4d", (m) => m.value), 0.9);
  assert(Number.isNaN(ratioTo(samples, "nobody", "ws4d", (m) => m.value)));
});

Deno.test("quantile is the nearest rank, as the histogram's percentile, of values in any order", () => {
  const values = Array.from({ length: 200 }, (_, i) => (i * 37) % 200 + 1);
  assertEquals(quantile(values, 0.99), 198);
  assertEquals(quantile(values, 0.5), 100);
  assertEquals(quantile(values, 0.07), 14);
  assertEquals(quantile(values, 0), 1);
  assertEquals(quantile(values, 1), 200);
  assertEquals(quantile([5], 0.99), 5);
  assert(Number.isNaN(quantile([], 0.5)));
  // The order given is left as it was.
  assertEquals(values.slice(0, 3), [1, 38, 75]);
  const histogram = new Histogram();
  for (const value of values) histogram.record(Math.pow(1.02, value));
  assertEquals(
    Math.round(Math.log(histogram.percentile(99)) / Math.log(1.02)),
    quantile(values, 0.99),
  );
});

Deno.test("ratioCell is empty for the base itself and for a base that did not run", () => {
  const value = (m: Measurement) => m.value;
  assertEquals(ratioCell(samples, "raw", "ws4d", value), "0.90");
  assertEquals(ratioCell(samples, "raw", "raw", value), "");
  assertEquals(ratioCell(samples, "nobody", "ws4d", value), "");
});

Deno.test("rateRows: one row per variant, in run order, with ratios to raw and ws4d", () => {
  const rows = rateRows(["64"], samples);
  assertEquals(rows.map((row) => row[1]), [
    "raw",
    "ws4d",
    "ws4d@HEAD~1",
    "resume",
  ]);
  assertEquals(rows[1], [
    "64",
    "ws4d",
    "180 (170–190)",
    "0.90",
    "",
    "0.100 / 0.200",
    "1.00",
  ]);
  assertEquals(rows[3]?.[4], "0.50");
});

Deno.test("table pads every column to its widest cell", () => {
  assertEquals(
    table(["a", "bbb"], [["long", "x"], ["", "y"]]),
    [
      "| a    | bbb |",
      "| ---- | --- |",
      "| long | x   |",
      "|      | y   |",
    ].join("\n"),
  );
  assertEquals(formatSpread([], String), "n/a");
});

Deno.test("the load-generator check says what limited each variant", () => {
  assertEquals(boundBy(0.95, 0.5, true), "server");
  assertEquals(boundBy(0.95, 0.95, true), "server (load cores full too)");
  assertEquals(boundBy(0.5, 0.95, true), "load generator");
  assertEquals(boundBy(0.5, 0.9, false), "both cores busy");
  assertEquals(boundBy(0.5, 0.5, false), "latency");
  const rows = cpuRows("echo", samples, {
    pinned: true,
    cores: 2,
    loadCores: 1,
  });
  assertEquals(rows.length, 4);
  assertEquals(rows[0], [
    "echo",
    "raw",
    "100",
    "40 + 50",
    "90",
    "5000.00",
    "server (load cores full too)",
    "0",
  ]);
});

Deno.test("quickLines: named variants, then ratio_vs_raw, then ratio_vs_<ref> last", () => {
  assertEquals(quickLines(samples), [
    "ratio_resume_vs_ws4d=0.500",
    "ratio_vs_raw=0.900",
    "ratio_vs_HEAD~1=0.900",
  ]);
  const alone = new Map([["raw", [round(10)]], ["ws4d", [round(9)]]]);
  assertEquals(quickLines(alone), ["ratio_vs_raw=0.900"]);
});

Deno.test("Histogram: percentiles within 2% and two histograms merge exactly", () => {
  const a = new Histogram();
  const b = new Histogram();
  for (let i = 1; i <= 100; i++) (i % 2 === 0 ? a : b).record(i * 10);
  a.addSparse(b.toSparse());
  assertEquals(a.total, 100);
  const p50 = a.percentile(50);
  assert(p50 >= 500 && p50 <= 500 * 1.02, `p50 ${p50}`);
  const p99 = a.percentile(99);
  assert(p99 >= 990 && p99 <= 990 * 1.02, `p99 ${p99}`);
  assert(Number.isNaN(new Histogram().percentile(50)));
});

Deno.test("verdict: at least, at most, the limit itself passes, a missing figure is n/a", () => {
  const floor: Goal = { row: "r", value: 0.97, limit: 0.97, atMost: false };
  assertEquals(verdict(floor), "PASS");
  assertEquals(verdict({ ...floor, value: 0.969 }), "MISS");
  const ceiling: Goal = { row: "p99", value: 1.1, limit: 1.1, atMost: true };
  assertEquals(verdict(ceiling), "PASS");
  assertEquals(verdict({ ...ceiling, value: 1.2 }), "MISS");
  assertEquals(verdict({ ...ceiling, value: NaN }), "n/a");
});

Deno.test("goalLine: counts, then every goal row with its figure, limit and verdict", () => {
  assertEquals(goalLine([]), "");
  assertEquals(
    goalCell({
      row: "idle slope VmRSS ws4d − raw",
      value: 879.4,
      limit: 1024,
      atMost: true,
      digits: 0,
      unit: " B/conn",
    }),
    "idle slope VmRSS ws4d − raw 879 B/conn (≤ 1024 B/conn) PASS",
  );
  assertEquals(
    goalLine([
      { row: "resume ÷ ws4d", value: 0.96, limit: 0.95, atMost: false },
      { row: "topic ÷ ws4d", value: 0.9, limit: 0.97, atMost: false },
      { row: "otel ÷ ws4d", value: NaN, limit: 0.97, atMost: false },
    ]),
    "Goals (#25): 1 PASS, 1 MISS, 1 n/a: resume ÷ ws4d 0.96 (≥ 0.95) PASS; topic ÷ ws4d 0.90 (≥ 0.97) MISS; otel ÷ ws4d n/a (≥ 0.97) n/a",
  );
});

Deno.test("idle levels: 2,000 and 8,000 for the slope, then the target, none above it", () => {
  assertEquals(levels(10_000), [2_000, 8_000, 10_000]);
  assertEquals(levels(8_000), [2_000, 8_000]);
  assertEquals(levels(5_000), [2_000, 5_000]);
});
