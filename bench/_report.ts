/**
 * The benchmark's report, pure: what a round measured, the samples of a
 * scenario by server variant, their medians and ratios, the cells and
 * markdown tables printed, and the load-generator check. No I/O, no state:
 * `tests/bench_report_test.ts` tests it.
 *
 * @module
 */
import {
  formatCount,
  formatFixed,
  formatMillis,
  formatSpread,
  median,
  ratio,
} from "./_stats.ts";

/** One round's figures. */
export interface Measurement {
  /** Messages/s, deliveries/s, connections/s, or KiB per connection. */
  readonly value: number;
  /** Latency percentiles, µs (NaN where not measured). */
  readonly p50: number;
  readonly p99: number;
  /** CPU used over the window, in cores (1 = one core busy). */
  readonly serverCpu: number;
  readonly loadCpu: readonly number[];
  readonly errors: number;
  /** Idle: the connections the server held. */
  readonly reached?: number;
  /** Idle: JS heap in use per connection, bytes. */
  readonly heap?: number;
  /** Idle: the slope between two counts and the fixed part. */
  readonly idle?: IdleFigures;
}

/** Idle memory of one server process, after forced GCs. */
export interface IdleFigures {
  /** JS heap per connection between two counts of connections, bytes. */
  readonly slopeHeap: number;
  /** VmRSS per connection between the same two counts, bytes. */
  readonly slopeRss: number;
  /** JS heap with no connection (one opened and closed first), KiB. */
  readonly fixedHeap: number;
  /** VmRSS with no connection, KiB. */
  readonly fixedRss: number;
  /**
   * Of it, file-backed pages (`RssFile`, KiB): the runtime's executable and
   * its cache files mapped in, shared and clean; the rest is `RssAnon`.
   */
  readonly fixedRssFile: number;
}

/** A scenario's rounds, by server variant name, in the order run. */
export type Samples = ReadonlyMap<string, readonly Measurement[]>;

/** Picks one figure of a round. */
export type Pick = (m: Measurement) => number;

/** The round's rate (or memory, for idle). */
export function rate(m: Measurement): number {
  return m.value;
}

/** Server CPU µs per message, delivery or connection. */
export function cpuPerOp(m: Measurement): number {
  return (m.serverCpu / m.value) * 1e6;
}

/** Median latency, µs. */
export function p50(m: Measurement): number {
  return m.p50;
}

/** 99th percentile latency, µs. */
export function p99(m: Measurement): number {
  return m.p99;
}

/** JS heap per connection, bytes (idle). */
export function heap(m: Measurement): number {
  return m.heap ?? NaN;
}

/** The finite values of `pick` over the rounds of `variant`. */
export function values(
  samples: Samples,
  variant: string,
  pick: Pick,
): number[] {
  return (samples.get(variant) ?? []).map(pick).filter(Number.isFinite);
}

/** The median of `pick` over the rounds of `variant`. */
export function medianOf(
  samples: Samples,
  variant: string,
  pick: Pick,
): number {
  return median(values(samples, variant, pick));
}

/** `variant`'s median ÷ `base`'s median, NaN when either is missing. */
export function ratioTo(
  samples: Samples,
  base: string,
  variant: string,
  pick: Pick,
): number {
  return ratio(medianOf(samples, base, pick), medianOf(samples, variant, pick));
}

/**
 * The cell of {@linkcode ratioTo} with 2 decimals; empty for the base
 * itself or a base that did not run.
 */
export function ratioCell(
  samples: Samples,
  base: string,
  variant: string,
  pick: Pick,
): string {
  if (variant === base || !samples.has(base)) return "";
  return formatFixed(ratioTo(samples, base, variant, pick), 2);
}

/** `median (min–max)` of a variant's rates. */
export function spread(
  samples: Samples,
  variant: string,
  format: (value: number) => string = formatCount,
): string {
  return formatSpread(values(samples, variant, rate), format);
}

/** `p50 / p99` in milliseconds. */
export function latencyCell(samples: Samples, variant: string): string {
  return `${formatMillis(medianOf(samples, variant, p50))} / ${
    formatMillis(medianOf(samples, variant, p99))
  }`;
}

/** A markdown table, columns padded for reading as plain text too. */
export function table(
  head: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = head.map((cell, i) =>
    Math.max(cell.length, ...rows.map((row) => (row[i] ?? "").length))
  );
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [
    line(head),
    line(widths.map((width) => "-".repeat(width))),
    ...rows.map(line),
  ].join("\n");
}

/** The column heads of {@linkcode rateRows}. */
export const RATE_HEAD: readonly string[] = [
  "server",
  "msg/s",
  "÷ raw",
  "÷ ws4d",
  "p50 / p99 ms",
  "p99 ÷ raw",
];

/**
 * One row per variant of `samples`, each starting with `first`: its rate
 * (median and range), its ratio to `raw` and to `ws4d`, its latency, and
 * its p99 ratio to `raw`.
 */
export function rateRows(
  first: readonly string[],
  samples: Samples,
): string[][] {
  return [...samples.keys()].map((variant) => [
    ...first,
    variant,
    spread(samples, variant),
    ratioCell(samples, "raw", variant, rate),
    ratioCell(samples, "ws4d", variant, rate),
    latencyCell(samples, variant),
    ratioCell(samples, "raw", variant, p99),
  ]);
}

/** Where the processes ran: what the load-generator check needs to know. */
export interface Placement {
  /** Server on CPU 0, load processes on the others. */
  readonly pinned: boolean;
  /** Cores of the machine. */
  readonly cores: number;
  /** Cores the load processes may use. */
  readonly loadCores: number;
}

/** A server at 90% of its core or more is what limits the run. */
export const SERVER_BOUND = 0.9;
/**
 * Unpinned: all processes at 85% of every core or more (the kernel's
 * loopback work is partly outside them).
 */
export const BOX_BOUND = 0.85;

/** What limited a run, from its CPU figures (cores). */
export function boundBy(
  server: number,
  loadShare: number,
  pinned: boolean,
): string {
  const loadFull = loadShare >= (pinned ? SERVER_BOUND : BOX_BOUND);
  return server >= SERVER_BOUND
    ? (loadFull ? "server (load cores full too)" : "server")
    : loadFull
    ? (pinned ? "load generator" : "both cores busy")
    : "latency";
}

/** The column heads of {@linkcode cpuRows}. */
export function cpuHead(placement: Placement): string[] {
  return [
    "scenario",
    "server",
    "server CPU %",
    "load processes CPU %",
    placement.pinned ? "load cores busy %" : "all cores busy %",
    "server CPU µs/op",
    "bound by",
    "errors",
  ];
}

/**
 * The load-generator check of a scenario: per variant, the server's and
 * the load processes' CPU (% of one core, medians), how busy the load's
 * cores were, the server's CPU per operation, what limited the run, and
 * the errors over all rounds.
 */
export function cpuRows(
  label: string,
  samples: Samples,
  placement: Placement,
): string[][] {
  const rows: string[][] = [];
  for (const [variant, list] of samples) {
    if (list.length === 0) continue;
    const server = median(list.map((m) => m.serverCpu));
    const processes = Math.max(...list.map((m) => m.loadCpu.length));
    const loads = Array.from(
      { length: processes },
      (_, i) => median(list.map((m) => m.loadCpu[i] ?? NaN)),
    );
    const loadSum = loads.reduce((a, b) => a + b, 0);
    // Pinned, the load processes share their own cores; else all of them.
    const loadShare = placement.pinned
      ? loadSum / placement.loadCores
      : (server + loadSum) / placement.cores;
    const errors = list.reduce((sum, m) => sum + m.errors, 0);
    rows.push([
      label,
      variant,
      formatFixed(server * 100, 0),
      loads.map((load) => formatFixed(load * 100, 0)).join(" + "),
      formatFixed(loadShare * 100, 0),
      formatFixed(median(list.map(cpuPerOp)), 2),
      boundBy(server, loadShare, placement.pinned),
      String(errors),
    ]);
  }
  return rows;
}

/** The progress line of one round, for stderr. */
export function roundLine(m: Measurement): string {
  return m.reached !== undefined
    ? `${formatFixed(m.value, 2)} KiB/conn VmRSS, ${
      formatCount(m.heap ?? NaN)
    } B/conn JS heap, over ${m.reached} connections; slope ${
      formatCount(m.idle?.slopeRss ?? NaN)
    } B/conn VmRSS, ${
      formatCount(m.idle?.slopeHeap ?? NaN)
    } B/conn JS heap; at 0: ${
      formatCount(m.idle?.fixedRss ?? NaN)
    } KiB VmRSS, ${formatCount(m.idle?.fixedHeap ?? NaN)} KiB JS heap`
    : `${formatFixed(m.value, 1)}/s (server ${
      formatFixed(m.serverCpu * 100, 0)
    }% CPU, load ${
      m.loadCpu.map((cpu) => formatFixed(cpu * 100, 0)).join("+")
    }%, ${m.errors} errors)`;
}

/**
 * The machine-readable last lines of `--quick`: named variants against
 * `ws4d` first, then `ratio_vs_raw` (ws4d ÷ raw), then one
 * `ratio_vs_<ref>` (ws4d ÷ ws4d@ref) per git ref compared.
 */
export function quickLines(samples: Samples): string[] {
  const lines: string[] = [];
  const refs: string[] = [];
  for (const variant of samples.keys()) {
    if (variant === "raw" || variant === "ws4d") continue;
    if (variant.startsWith("ws4d@")) refs.push(variant.slice(5));
    else {
      lines.push(
        `ratio_${variant}_vs_ws4d=${
          ratioTo(samples, "ws4d", variant, rate).toFixed(3)
        }`,
      );
    }
  }
  lines.push(
    `ratio_vs_raw=${ratioTo(samples, "raw", "ws4d", rate).toFixed(3)}`,
  );
  for (const ref of refs) {
    lines.push(
      `ratio_vs_${ref}=${
        ratioTo(samples, `ws4d@${ref}`, "ws4d", rate).toFixed(3)
      }`,
    );
  }
  return lines;
}
