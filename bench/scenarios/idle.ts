/**
 * Idle memory: the server's VmRSS and JS heap in use (after forced GCs)
 * with N idle connections minus the same with none, ÷ N; the slope between
 * 2,000 and 8,000 connections and the fixed part with none, in the same
 * process, for raw, raw copying the request headers as ws4d must, and every
 * other server of the run (Node's `ws` too).
 *
 * @module
 */
import { delay as sleep } from "@std/async/delay";
import type { Child } from "../_child.ts";
import { openFilesLimit } from "../_child.ts";
import { rssParts } from "../_proc.ts";
import { parseReady } from "../_protocol.ts";
import {
  heap,
  type Measurement,
  medianOf,
  type Pick,
  rate,
  ratioCell,
  table,
  values,
} from "../_report.ts";
import { connectTimeout, type Runner, split } from "../_runner.ts";
import { formatCount, formatFixed, formatSpread } from "../_stats.ts";
import {
  RAW_HEADERS,
  type ServerVariant,
  WS4D_SERVER_ENTRY,
} from "../_variants.ts";

const TARGET = 10_000;
/** The two counts of the slope, in the same server process (issue #25). */
const SLOPE_FROM = 2_000;
const SLOPE_TO = 8_000;

/** Memory of a server at one count of idle connections. */
interface Level {
  readonly conns: number;
  /** JS heap in use, bytes. */
  readonly heap: number;
  /** VmRSS, KiB. */
  readonly rss: number;
  /** Of it, file-backed (`RssFile`), KiB. */
  readonly file: number;
}

/** Asks the server a question on its stdin and reads the answer. */
async function ask(server: Child, question: string): Promise<string> {
  await server.send(question);
  return await server.readLine(20_000, `the answer to ${question}`);
}

/**
 * The server's JS heap in use (bytes) and VmRSS (KiB) after forced GCs and
 * a pause, with `conns` connections.
 */
async function settledMemory(server: Child, conns: number): Promise<Level> {
  await ask(server, "gc");
  await sleep(1_000);
  const heap = Number(await ask(server, "heap"));
  await sleep(500);
  return { conns, heap, ...rssParts(server.pid) };
}

/** Asks `count` until the server holds no connection, at most 5 s. */
async function drained(server: Child): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if (Number(await ask(server, "count")) === 0) return;
    await sleep(100);
  }
  throw new Error(`${server.name} still holds a connection after 5 s`);
}

/** The counts a round holds, in order: 2,000, 8,000, then the target. */
export function levels(target: number): number[] {
  return [SLOPE_FROM, SLOPE_TO, target].filter((n, i, all) =>
    n <= target && all.indexOf(n) === i
  );
}

/** Bytes per connection between two levels: heap and VmRSS. */
function slope(from: Level | undefined, to: Level | undefined) {
  const conns = (to?.conns ?? 0) - (from?.conns ?? 0);
  if (from === undefined || to === undefined || conns <= 0) {
    return { heap: NaN, rss: NaN };
  }
  return {
    heap: (to.heap - from.heap) / conns,
    rss: ((to.rss - from.rss) * 1024) / conns,
  };
}

/**
 * One server process: its memory once its listener is up and one
 * connection has been opened and closed (the fixed part), then with 2,000,
 * 8,000 and `target` idle connections opened on top of each other.
 */
function idleRound(
  runner: Runner,
  variant: ServerVariant,
  target: number,
): Promise<Measurement> {
  return runner.inRound(async (round) => {
    const { server, url } = await round.server(variant, {
      scenario: "echo",
      dataType: "text",
    });
    // One connection first: what is built at the first one is fixed, not
    // per connection.
    const first = round.load("load first", { mode: "idle", url, conns: 1 });
    parseReady(await first.readLine(connectTimeout(1), "ready"));
    await first.kill();
    await drained(server);
    const base = await settledMemory(server, 0);
    const held: Level[] = [];
    let open = 0;
    for (const level of levels(target)) {
      const more = level - open;
      const loads = split(more).map((conns, i) =>
        round.load(`load ${level}.${i}`, { mode: "idle", url, conns })
      );
      await Promise.all(
        loads.map(async (load) =>
          parseReady(await load.readLine(connectTimeout(more), "ready"))
        ),
      );
      open = level;
      const reached = Number(await ask(server, "count"));
      held.push(await settledMemory(server, reached));
    }
    // Idle load processes hold their connections until killed (inRound).
    const last = held.at(-1);
    const reached = last?.conns ?? 0;
    const slopes = slope(held[0], held[1]);
    return {
      value: reached > 0 && last ? (last.rss - base.rss) / reached : NaN,
      heap: reached > 0 && last ? (last.heap - base.heap) / reached : NaN,
      p50: NaN,
      p99: NaN,
      serverCpu: NaN,
      loadCpu: [],
      errors: target - reached,
      reached,
      idle: {
        slopeHeap: slopes.heap,
        slopeRss: slopes.rss,
        fixedHeap: base.heap / 1024,
        fixedRss: base.rss,
        fixedRssFile: base.file,
      },
    };
  });
}

const slopeRss: Pick = (m) => m.idle?.slopeRss ?? NaN;
const slopeHeap: Pick = (m) => m.idle?.slopeHeap ?? NaN;
const fixedRss: Pick = (m) => m.idle?.fixedRss ?? NaN;
const fixedHeap: Pick = (m) => m.idle?.fixedHeap ?? NaN;
const fixedFile: Pick = (m) => m.idle?.fixedRssFile ?? NaN;
const fixedAnon: Pick = (m) =>
  (m.idle?.fixedRss ?? NaN) - (m.idle?.fixedRssFile ?? NaN);
const mib = (kib: number) => formatFixed(kib / 1024, 1);

/** The idle memory tables: per connection at 10,000; slope and fixed part. */
export async function idleSection(runner: Runner): Promise<string> {
  const limit = await openFilesLimit();
  // The server holds one descriptor per connection, plus a few of its own.
  const target = Math.min(TARGET, Math.floor(limit - 100));
  const [raw, ...rest] = runner.settings.variants;
  const [ws4d, ...others] = rest;
  const variants = raw === undefined
    ? []
    : ws4d === undefined
    ? [raw, RAW_HEADERS]
    : [raw, RAW_HEADERS, ws4d, WS4D_SERVER_ENTRY, ...others];
  const samples = await runner.alternate(
    `idle ${target}`,
    variants,
    (variant) => idleRound(runner, variant, target),
    false,
  );
  const reached = Math.min(
    ...[...samples.values()].flat().map((m) => m.reached ?? 0),
  );
  const kib = (v: number) => formatFixed(v, 2);
  const signed = (v: number, format: (v: number) => string) =>
    Number.isFinite(v) ? `${v >= 0 ? "+" : "−"}${format(Math.abs(v))}` : "n/a";
  const overRaw = (name: string, pick: Pick, format: (v: number) => string) =>
    name === "raw" ? "" : signed(
      medianOf(samples, name, pick) - medianOf(samples, "raw", pick),
      format,
    );
  const rows = variants.map((variant) => {
    const name = variant.name;
    return [
      name === RAW_HEADERS.name ? RAW_HEADERS.about : name,
      formatSpread(values(samples, name, rate), kib),
      overRaw(name, rate, kib),
      formatCount(medianOf(samples, name, heap)),
      overRaw(name, heap, formatCount),
      ratioCell(samples, "raw", name, rate),
    ];
  });
  /** Per server: each figure's spread (as `format` gives it), then − raw. */
  const spreadRows = (
    figures: readonly (readonly [Pick, (v: number) => string])[],
  ) =>
    variants.map((variant) => {
      const name = variant.name;
      return [
        name === RAW_HEADERS.name ? RAW_HEADERS.about : name,
        ...figures.flatMap(([pick, format]) => [
          formatSpread(values(samples, name, pick), format),
          overRaw(name, pick, formatCount),
        ]),
      ];
    });
  const slopeRows = spreadRows([
    [slopeRss, formatCount],
    [slopeHeap, formatCount],
    [fixedRss, mib],
    [fixedHeap, mib],
  ]);
  const fixedRows = spreadRows([
    [fixedRss, mib],
    [fixedAnon, mib],
    [fixedFile, mib],
  ]);
  const over = (pick: Pick) =>
    medianOf(samples, "ws4d", pick) - medianOf(samples, "raw", pick);
  runner.goal(
    ...([[slopeRss, "VmRSS"], [slopeHeap, "JS heap"]] as const).map((
      [pick, what],
    ) => ({
      row: `idle slope ${what} ws4d − raw`,
      value: over(pick),
      limit: 1024,
      atMost: true,
      digits: 0,
      unit: " B/conn",
    })),
    ...([[fixedRss, "VmRSS"], [fixedHeap, "JS heap"]] as const).map((
      [pick, what],
    ) => ({
      row: `idle fixed ${what} ws4d − raw`,
      value: over(pick),
      limit: 2048,
      atMost: true,
      digits: 0,
      unit: " KiB",
    })),
  );
  const [from, to] = levels(target);
  const note = reached >= TARGET
    ? ""
    : `\n\nOnly ${reached} of ${TARGET} connections could be held (open files limit ${limit}).`;
  return `### Idle memory (${
    formatCount(reached)
  } idle connections: server VmRSS and JS heap with them − with none, ÷ N)\n\n${
    table([
      "server",
      "VmRSS KiB/conn",
      "− raw",
      "JS heap B/conn",
      "− raw",
      "VmRSS ÷ raw",
    ], rows)
  }\n\nThe 4D contract gives \`onConnection\` and \`ws.request\` every request header, and Deno forbids reading them after the upgrade, so ws4d copies them first; the raw-headers row is raw Deno doing only that.${note}

### Idle memory: slope from ${formatCount(from ?? NaN)} to ${
    formatCount(to ?? NaN)
  } connections, and the fixed part at 0

${
    table([
      "server",
      "VmRSS slope B/conn",
      "slope − raw (B/conn)",
      "JS heap slope B/conn",
      "slope − raw (B/conn)",
      "VmRSS at 0 MiB",
      "fixed − raw (KiB)",
      "JS heap at 0 MiB",
      "fixed − raw (KiB)",
    ], slopeRows)
  }

All in one server process per round, after forced GCs: first its listener up and one connection opened and closed (the fixed part, "at 0"), then ${
    formatCount(from ?? NaN)
  }, then ${
    formatCount(to ?? NaN)
  } idle connections (the slope between them), then ${
    formatCount(target)
  } (the table above). Goal (#25): slope ≤ raw + 1 KiB per connection, fixed ≤ raw + 2 MiB, both for VmRSS and the JS heap. Node's heap is V8's as Deno's is; its VmRSS has neither Deno's runtime nor its Rust side. \`ws4d/server\` is ws4d of the working tree imported from its \`./server\` entry (no client code).

The fixed VmRSS, in its two parts: private memory (VmRSS − \`RssFile\`: \`RssAnon\`, with \`RssShmem\`) and file-backed pages (\`RssFile\`: the runtime's executable, paged in as its compiler runs, and Deno's cache files mapped in; shared with every Deno process and clean).

${
    table([
      "server",
      "VmRSS at 0 MiB",
      "− raw (KiB)",
      "private at 0 MiB",
      "− raw (KiB)",
      "RssFile at 0 MiB",
      "− raw (KiB)",
    ], fixedRows)
  }`;
}
