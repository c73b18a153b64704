/**
 * The benchmark's pure report (`bench/_report.ts`) and statistics
 * (`bench/_stats.ts`): medians, ratios, cells, tables, the load-generator
 * check and the `--quick` lines, on made-up rounds.
 *
 * @module
 */
import assert from "node:assert/strict";
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
import { formatSpread, Histogram, median } from "../bench/_stats.ts";

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
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  assert.equal(medianOf(samples, "raw", (m) => m.value), 200);
  assert.equal(medianOf(samples, "ws4d@HEAD~1", (m) => m.value), 200);
  assert.equal(ratioTo(samples, "raw", "ws4d", (m) => m.value), 0.9);
  assert.ok(Number.isNaN(ratioTo(samples, "nobody", "ws4d", (m) => m.value)));
});

Deno.test("ratioCell is empty for the base itself and for a base that did not run", () => {
  const value = (m: Measurement) => m.value;
  assert.equal(ratioCell(samples, "raw", "ws4d", value), "0.90");
  assert.equal(ratioCell(samples, "raw", "raw", value), "");
  assert.equal(ratioCell(samples, "nobody", "ws4d", value), "");
});

Deno.test("rateRows: one row per variant, in run order, with ratios to raw and ws4d", () => {
  const rows = rateRows(["64"], samples);
  assert.deepEqual(rows.map((row) => row[1]), [
    "raw",
    "ws4d",
    "ws4d@HEAD~1",
    "resume",
  ]);
  assert.deepEqual(rows[1], [
    "64",
    "ws4d",
    "180 (170–190)",
    "0.90",
    "",
    "0.100 / 0.200",
    "1.00",
  ]);
  assert.equal(rows[3]?.[4], "0.50");
});

Deno.test("table pads every column to its widest cell", () => {
  assert.equal(
    table(["a", "bbb"], [["long", "x"], ["", "y"]]),
    [
      "| a    | bbb |",
      "| ---- | --- |",
      "| long | x   |",
      "|      | y   |",
    ].join("\n"),
  );
  assert.equal(formatSpread([], String), "n/a");
});

Deno.test("the load-generator check says what limited each variant", () => {
  assert.equal(boundBy(0.95, 0.5, true), "server");
  assert.equal(boundBy(0.95, 0.95, true), "server (load cores full too)");
  assert.equal(boundBy(0.5, 0.95, true), "load generator");
  assert.equal(boundBy(0.5, 0.9, false), "both cores busy");
  assert.equal(boundBy(0.5, 0.5, false), "latency");
  const rows = cpuRows("echo", samples, {
    pinned: true,
    cores: 2,
    loadCores: 1,
  });
  assert.equal(rows.length, 4);
  assert.deepEqual(rows[0], [
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
  assert.deepEqual(quickLines(samples), [
    "ratio_resume_vs_ws4d=0.500",
    "ratio_vs_raw=0.900",
    "ratio_vs_HEAD~1=0.900",
  ]);
  const alone = new Map([["raw", [round(10)]], ["ws4d", [round(9)]]]);
  assert.deepEqual(quickLines(alone), ["ratio_vs_raw=0.900"]);
});

Deno.test("Histogram: percentiles within 2% and two histograms merge exactly", () => {
  const a = new Histogram();
  const b = new Histogram();
  for (let i = 1; i <= 100; i++) (i % 2 === 0 ? a : b).record(i * 10);
  a.addSparse(b.toSparse());
  assert.equal(a.total, 100);
  const p50 = a.percentile(50);
  assert.ok(p50 >= 500 && p50 <= 500 * 1.02, `p50 ${p50}`);
  const p99 = a.percentile(99);
  assert.ok(p99 >= 990 && p99 <= 990 * 1.02, `p99 ${p99}`);
  assert.ok(Number.isNaN(new Histogram().percentile(50)));
});
