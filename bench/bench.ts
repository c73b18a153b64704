// deno-lint-ignore-file no-console
/**
 * # ws4d benchmark: ws4d against raw `Deno.upgradeWebSocket`
 *
 * ```sh
 * deno task bench            # every scenario, about 7 minutes
 * deno task bench --quick    # echo, 64 connections × 16 in flight × 64 B, < 1 min
 * deno task bench --only broadcast   # one of echo|datatype|broadcast|setup|idle
 * deno task bench --rounds 5 --seconds 4 --no-pin
 * ```
 *
 * It prints markdown tables on stdout (progress goes to stderr). With
 * `--quick` the last line is `ratio_vs_raw=<x>`: ws4d's echo messages/s ÷
 * raw's, medians over the rounds. Rounds default to 3 per server, 5 with
 * `--quick`, whose one ratio is meant to be compared across commits.
 *
 * ## How it measures
 *
 * - The server runs alone in its process (`bench/server.ts`), either `raw`
 *   (`Deno.serve` + `Deno.upgradeWebSocket`, written directly) or `ws4d`
 *   (`WebSocketServer`), both doing the same work: greet each connection
 *   with `"hi"`, then echo (under `"object"` JSON.parse + JSON.stringify,
 *   under `"blob"` binary in, binary out) or send each message to every
 *   other connection.
 * - The load runs in two more processes (`bench/load.ts`), each owning half
 *   of the connections, with a small RFC 6455 client of its own
 *   (`bench/_wsclient.ts`): Deno's `WebSocket` client sends a 16 KiB frame
 *   in two writes without `TCP_NODELAY`, which made every 16 KiB round trip
 *   take 40 ms (delayed ACK), whatever the server.
 * - With 2 cores or more, `taskset` pins the server to CPU 0 and the load
 *   processes to the other CPUs (`--no-pin` to leave it to the scheduler):
 *   unpinned, a one-connection ping-pong ran at 12,000 or 77,000 round
 *   trips/s depending on whether the scheduler put both on one core.
 * - A fresh server and fresh load processes are started for every round.
 *   Rounds alternate raw, ws4d, raw, ws4d, …; each is 0.5 s of warm-up,
 *   then a measured window (2.5 s by default).
 * - Every cell is the median over the rounds, with min–max; a ratio is
 *   ws4d's median ÷ raw's median. Above 1 is faster for rates, slower for
 *   latencies, more for memory and CPU time.
 * - Echo keeps a fixed number of messages in flight per connection and
 *   times each round trip from send to reply. Broadcast has one sender; each
 *   load process counts how far all its receivers are, the second one
 *   reports its count to the sender's process over a loopback TCP
 *   connection, and the sender keeps at most 256 messages not yet received
 *   by every receiver: saturating, but bounded. Setup loops open a
 *   connection, wait for the greeting, close it and wait for the close.
 *   Idle memory is the server's VmRSS (`/proc/<pid>/status`) and JS heap
 *   in use (after forced GCs) with N idle connections minus the same with
 *   none, ÷ N, for raw, raw copying the request headers as ws4d must, and
 *   ws4d.
 *
 * ## Is the load generator the bottleneck?
 *
 * Each load process reads its own CPU time from `/proc/<pid>/stat` at both
 * ends of its measured window, and the first one reads the server's over
 * the same window. The last table gives them as % of one core. The server
 * runs its JavaScript on one thread: at ~100% of its core it is what limits
 * the run ("server"). If instead the load processes fill their core(s)
 * ("load generator"), the rate is the generator's, and the server's CPU
 * time per operation (µs/op) is the fair comparison; the connection setup
 * table gives it. "server (load cores full too)" means both were at their
 * limit. "latency" means neither was: few messages in flight, or stalls.
 *
 * Every wait has a timeout, every child process is killed at the end of its
 * round and on any exit; a watchdog ends the run after 15 minutes.
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  type Child,
  hasTaskset,
  openFilesLimit,
  runToEnd,
  spawn,
  spawnDeno,
} from "./_child.ts";
import { cpuModel, rssKiB } from "./_proc.ts";
import {
  type LoadConfig,
  parseReady,
  parseResult,
  type Payload,
  type ResultLine,
} from "./_protocol.ts";
import {
  formatCount,
  formatFixed,
  formatMillis,
  formatSpread,
  Histogram,
  median,
  ratio,
} from "./_stats.ts";

// --- options -------------------------------------------------------------------

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    rounds: { type: "string" },
    seconds: { type: "string", default: "2.5" },
    only: { type: "string" },
    "no-pin": { type: "boolean", default: false },
  },
  strict: true,
});
const ROUNDS = Number(flags.rounds ?? (flags.quick ? 5 : 3));
const MEASURE_MS = Number(flags.seconds) * 1000;
if (!Number.isInteger(ROUNDS) || ROUNDS < 1 || ROUNDS > 20) {
  throw new RangeError(`--rounds must be 1 to 20, got ${flags.rounds}`);
}
if (!(MEASURE_MS >= 500 && MEASURE_MS <= 30_000)) {
  throw new RangeError(`--seconds must be 0.5 to 30, got ${flags.seconds}`);
}
const WARMUP_MS = 500;
const WINDOW = { warmupMs: WARMUP_MS, measureMs: MEASURE_MS };

/**
 * The server gets CPU 0 to itself and the load processes the others
 * (`taskset`): the same placement every round, and a server core that the
 * generator cannot take.
 */
const CORES = navigator.hardwareConcurrency;
const PINNED = !flags["no-pin"] && CORES >= 2 && await hasTaskset();
const SERVER_CPUS = PINNED ? "0" : undefined;
const LOAD_CPUS = PINNED ? (CORES === 2 ? "1" : `1-${CORES - 1}`) : undefined;
const LOAD_CORES = PINNED ? CORES - 1 : CORES;

const SERVER_SCRIPT = new URL("./server.ts", import.meta.url).pathname;
const LOAD_SCRIPT = new URL("./load.ts", import.meta.url).pathname;

/** Open, greeted connections per second, at least, before a wait fails. */
const CONNECT_RATE_FLOOR = 200;
const BROADCAST_INFLIGHT = 256;
const SETUP_CONCURRENCY = 16;
const IDLE_TARGET = 10_000;

// --- processes -------------------------------------------------------------------

type Variant =
  | "raw"
  | "raw-headers"
  | "ws4d"
  | "ws4d-broadcast"
  | "ws4d-redis";

interface ServerSpec {
  readonly scenario: "echo" | "broadcast";
  readonly dataType: Payload;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Starts a server of `variant` and reads its port. */
async function startServer(
  variant: Variant,
  spec: ServerSpec,
  round: Child[],
): Promise<{ server: Child; url: string }> {
  const redis = variant === "ws4d-redis"
    // node-redis reads the environment and the host's name.
    ? ["--redis", redisUrl(), "--allow-env", "--allow-sys"]
    : [];
  const server = spawnDeno(`server ${variant}`, [
    "run",
    "--allow-net=127.0.0.1",
    ...redis.slice(2),
    "--v8-flags=--expose-gc",
    SERVER_SCRIPT,
    "--impl",
    variant === "raw" || variant === "raw-headers" ? variant : "ws4d",
    "--scenario",
    spec.scenario,
    "--dataType",
    spec.dataType,
    "--fanout",
    variant === "ws4d-broadcast"
      ? "broadcast"
      : variant === "ws4d-redis"
      ? "redis"
      : "loop",
    ...redis.slice(0, 2),
  ], SERVER_CPUS);
  round.push(server);
  const port = Number(await server.readLine(20_000, "its port"));
  if (!Number.isInteger(port) || port <= 0) {
    throw new Error(`${server.name} printed no port`);
  }
  return { server, url: `ws://127.0.0.1:${port}/` };
}

function startLoad(name: string, config: LoadConfig, round: Child[]): Child {
  const load = spawnDeno(name, [
    "run",
    // Deno reads /proc/<pid>/stat only with every permission.
    "--allow-all",
    LOAD_SCRIPT,
    JSON.stringify(config),
  ], LOAD_CPUS);
  round.push(load);
  return load;
}

/** Runs `body` with the round's children, killing all of them at the end. */
async function inRound<T>(body: (round: Child[]) => Promise<T>): Promise<T> {
  const round: Child[] = [];
  try {
    return await body(round);
  } finally {
    // Load processes exit by themselves after their result; then kill.
    const loads = round.filter((child) => !child.name.startsWith("server"));
    await Promise.all(loads.map((child) => child.exited(3_000)));
    await Promise.allSettled(round.map((child) => child.kill()));
  }
}

function connectTimeout(conns: number): number {
  return 15_000 + (conns / CONNECT_RATE_FLOOR) * 1000;
}

/** Says `go` to every load process and merges their results. */
async function measure(loads: readonly Child[]): Promise<Measurement> {
  await Promise.all(loads.map((load) => load.send("go")));
  const results: ResultLine[] = await Promise.all(
    loads.map(async (load) =>
      parseResult(
        await load.readLine(WARMUP_MS + MEASURE_MS + 30_000, "its result"),
      )
    ),
  );
  const latency = new Histogram();
  let rate = 0;
  let errors = 0;
  for (const result of results) {
    rate += result.count / (result.elapsedMs / 1000);
    latency.addSparse(result.latency);
    errors += result.errors;
  }
  const first = results[0] as ResultLine;
  return {
    value: rate,
    p50: latency.percentile(50),
    p99: latency.percentile(99),
    serverCpu: first.serverCpu / (first.elapsedMs / 1000),
    loadCpu: results.map((result) => result.cpu / (result.elapsedMs / 1000)),
    errors,
  };
}

/** Halves of `count`, the larger first; one part when there is one. */
function split(count: number): number[] {
  return count < 2 ? [count] : [Math.ceil(count / 2), Math.floor(count / 2)];
}

// --- rounds -------------------------------------------------------------------------

/** One round's figures. */
interface Measurement {
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
}

interface EchoCase {
  readonly conns: number;
  readonly inflight: number;
  readonly payload: Payload;
  readonly size: number;
}

function echoRound(variant: Variant, c: EchoCase): Promise<Measurement> {
  return inRound(async (round) => {
    const { server, url } = await startServer(variant, {
      scenario: "echo",
      dataType: c.payload,
    }, round);
    const loads = split(c.conns).map((conns, i) =>
      startLoad(`load ${i}`, {
        mode: "echo",
        url,
        conns,
        inflight: c.inflight,
        payload: c.payload,
        size: c.size,
        serverPid: i === 0 ? server.pid : 0,
        ...WINDOW,
      }, round)
    );
    await Promise.all(
      loads.map(async (load) =>
        parseReady(await load.readLine(connectTimeout(c.conns), "ready"))
      ),
    );
    return measure(loads);
  });
}

function broadcastRound(
  variant: Variant,
  receivers: number,
): Promise<Measurement> {
  return inRound(async (round) => {
    const spec = { scenario: "broadcast", dataType: "text" } as const;
    const { server, url } = await startServer(variant, spec, round);
    // Through Redis: the sender on a second instance, the receivers on this one.
    const senderUrl = variant === "ws4d-redis"
      ? (await startServer(variant, spec, round)).url
      : url;
    const [mine, theirs] = split(receivers) as [number, number];
    const common = {
      mode: "broadcast",
      url,
      senderUrl,
      inflight: BROADCAST_INFLIGHT,
      size: 64,
      ...WINDOW,
    } as const;
    const sending = startLoad("load 0", {
      ...common,
      receivers: mine,
      sender: true,
      ctrlPort: 0,
      serverPid: server.pid,
    }, round);
    const ready = parseReady(
      await sending.readLine(connectTimeout(receivers), "ready"),
    );
    if (ready.ctrlPort === undefined) throw new Error("load 0 gave no port");
    const other = startLoad("load 1", {
      ...common,
      receivers: theirs,
      sender: false,
      ctrlPort: ready.ctrlPort,
      serverPid: 0,
    }, round);
    parseReady(await other.readLine(connectTimeout(receivers), "ready"));
    return measure([sending, other]);
  });
}

function setupRound(variant: Variant): Promise<Measurement> {
  return inRound(async (round) => {
    const { server, url } = await startServer(variant, {
      scenario: "echo",
      dataType: "text",
    }, round);
    const loads = [0, 1].map((i) =>
      startLoad(`load ${i}`, {
        mode: "setup",
        url,
        concurrency: SETUP_CONCURRENCY,
        serverPid: i === 0 ? server.pid : 0,
        ...WINDOW,
      }, round)
    );
    await Promise.all(
      loads.map(async (load) =>
        parseReady(await load.readLine(20_000, "ready"))
      ),
    );
    return measure(loads);
  });
}

/** Asks the server a question on its stdin and reads the answer. */
async function ask(server: Child, question: string): Promise<string> {
  await server.send(question);
  return await server.readLine(20_000, `the answer to ${question}`);
}

/**
 * The server's JS heap in use (bytes) and VmRSS (KiB) after forced GCs and
 * a pause.
 */
async function settledMemory(
  server: Child,
): Promise<{ heap: number; rss: number }> {
  await ask(server, "gc");
  await sleep(1_000);
  const heap = Number(await ask(server, "heap"));
  await sleep(500);
  return { heap, rss: rssKiB(server.pid) };
}

function idleRound(variant: Variant, target: number): Promise<Measurement> {
  return inRound(async (round) => {
    const { server, url } = await startServer(variant, {
      scenario: "echo",
      dataType: "text",
    }, round);
    const before = await settledMemory(server);
    const loads = split(target).map((conns, i) =>
      startLoad(`load ${i}`, { mode: "idle", url, conns }, round)
    );
    await Promise.all(
      loads.map(async (load) =>
        parseReady(await load.readLine(connectTimeout(target), "ready"))
      ),
    );
    const reached = Number(await ask(server, "count"));
    const after = await settledMemory(server);
    // Idle load processes hold their connections until killed.
    await Promise.all(loads.map((load) => load.kill()));
    return {
      value: reached > 0 ? (after.rss - before.rss) / reached : NaN,
      heap: reached > 0 ? (after.heap - before.heap) / reached : NaN,
      p50: NaN,
      p99: NaN,
      serverCpu: NaN,
      loadCpu: [],
      errors: target - reached,
      reached,
    };
  });
}

// --- running the rounds --------------------------------------------------------

type Samples = Map<Variant, Measurement[]>;

/** Runs `round` for each variant, alternately, `ROUNDS` times. */
async function alternate(
  label: string,
  variants: readonly Variant[],
  round: (variant: Variant) => Promise<Measurement>,
): Promise<Samples> {
  const samples: Samples = new Map(variants.map((v) => [v, []]));
  for (let r = 1; r <= ROUNDS; r++) {
    for (const variant of variants) {
      const started = performance.now();
      try {
        const m = await round(variant);
        samples.get(variant)?.push(m);
        const figures = m.reached !== undefined
          ? `${formatFixed(m.value, 2)} KiB/conn VmRSS, ${
            formatCount(m.heap ?? NaN)
          } B/conn JS heap, over ${m.reached} connections`
          : `${formatFixed(m.value, 1)}/s (server ${
            formatFixed(m.serverCpu * 100, 0)
          }% CPU, load ${
            m.loadCpu.map((cpu) => formatFixed(cpu * 100, 0)).join("+")
          }%, ${m.errors} errors)`;
        console.error(
          `${label} | ${variant} | round ${r}/${ROUNDS}: ${figures} in ${
            formatFixed((performance.now() - started) / 1000, 1)
          } s`,
        );
      } catch (error) {
        console.error(`${label} | ${variant} | round ${r}/${ROUNDS} failed:`);
        console.error(error);
      }
    }
  }
  return samples;
}

function values(
  samples: Samples,
  variant: Variant,
  pick: (m: Measurement) => number,
): number[] {
  return (samples.get(variant) ?? []).map(pick).filter(Number.isFinite);
}

function medianOf(
  samples: Samples,
  variant: Variant,
  pick: (m: Measurement) => number,
): number {
  return median(values(samples, variant, pick));
}

const rate = (m: Measurement) => m.value;
/** Server CPU µs per message, delivery or connection. */
const cpuPerOp = (m: Measurement) => (m.serverCpu / m.value) * 1e6;
const p50 = (m: Measurement) => m.p50;
const p99 = (m: Measurement) => m.p99;

function ratioOf(
  samples: Samples,
  variant: Variant,
  pick: (m: Measurement) => number,
): string {
  return formatFixed(
    ratio(medianOf(samples, "raw", pick), medianOf(samples, variant, pick)),
    2,
  );
}

function latencyCell(samples: Samples, variant: Variant): string {
  return `${formatMillis(medianOf(samples, variant, p50))} / ${
    formatMillis(medianOf(samples, variant, p99))
  }`;
}

/** A markdown table, columns padded for reading as plain text too. */
function table(head: readonly string[], rows: readonly string[][]): string {
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

/** The CPU check rows: server and load processes, % of one core. */
const cpuRows: string[][] = [];

function noteCpu(label: string, samples: Samples): void {
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
    const loadShare = PINNED
      ? loadSum / LOAD_CORES
      : (server + loadSum) / CORES;
    const loadFull = loadShare >= (PINNED ? BOUND : BOX_BOUND);
    const errors = list.reduce((sum, m) => sum + m.errors, 0);
    cpuRows.push([
      label,
      variant,
      formatFixed(server * 100, 0),
      loads.map((load) => formatFixed(load * 100, 0)).join(" + "),
      formatFixed(loadShare * 100, 0),
      formatFixed(median(list.map(cpuPerOp)), 2),
      server >= BOUND
        ? (loadFull ? "server (load cores full too)" : "server")
        : loadFull
        ? (PINNED ? "load generator" : "both cores busy")
        : "latency",
      String(errors),
    ]);
  }
}

/** A server at 90% of its core or more is what limits the run. */
const BOUND = 0.9;
/** Unpinned: all processes at 85% of every core or more (the kernel's loopback work is partly outside them). */
const BOX_BOUND = 0.85;

const spread = (samples: Samples, variant: Variant) =>
  formatSpread(values(samples, variant, rate), formatCount);

// --- scenarios ---------------------------------------------------------------------

function echoLabel(c: EchoCase): string {
  return `echo ${c.conns}×${c.inflight} ${
    c.size >= 1024 ? `${c.size / 1024} KiB` : `${c.size} B`
  } ${c.payload}`;
}

const echoCache = new Map<string, Samples>();

async function runEcho(c: EchoCase): Promise<Samples> {
  const label = echoLabel(c);
  const cached = echoCache.get(label);
  if (cached !== undefined) return cached;
  const samples = await alternate(
    label,
    ["raw", "ws4d"],
    (variant) => echoRound(variant, c),
  );
  echoCache.set(label, samples);
  noteCpu(label, samples);
  return samples;
}

function echoRow(first: string[], samples: Samples): string[] {
  return [
    ...first,
    spread(samples, "raw"),
    spread(samples, "ws4d"),
    ratioOf(samples, "ws4d", rate),
    latencyCell(samples, "raw"),
    latencyCell(samples, "ws4d"),
    ratioOf(samples, "ws4d", p99),
  ];
}

const ECHO_HEAD = [
  "raw msg/s",
  "ws4d msg/s",
  "ws4d ÷ raw",
  "raw p50 / p99 ms",
  "ws4d p50 / p99 ms",
  "p99 ws4d ÷ raw",
];

const QUICK_CASE: EchoCase = {
  conns: 64,
  inflight: 16,
  payload: "text",
  size: 64,
};

async function echoSection(): Promise<string> {
  const rows: string[][] = [];
  for (const conns of [1, 64, 512]) {
    for (const inflight of [1, 16]) {
      for (const size of [64, 16 * 1024]) {
        const c: EchoCase = { conns, inflight, payload: "text", size };
        rows.push(
          echoRow([
            String(conns),
            String(inflight),
            size >= 1024 ? `${size / 1024} KiB` : `${size} B`,
          ], await runEcho(c)),
        );
      }
    }
  }
  return `### Echo throughput (text)\n\n${
    table(["conns", "in flight", "size", ...ECHO_HEAD], rows)
  }`;
}

async function dataTypeSection(): Promise<string> {
  const rows: string[][] = [];
  for (const payload of ["text", "blob", "object"] as const) {
    const samples = await runEcho({ ...QUICK_CASE, payload });
    rows.push(
      echoRow([payload, payload === "object" ? "80 B JSON" : "64 B"], samples),
    );
  }
  return `### Echo per dataType (64 conns × 16 in flight)\n\n${
    table(["dataType", "message", ...ECHO_HEAD], rows)
  }\n\nThe text row is the same runs as the 64 × 16 × 64 B row above.`;
}

// --- Redis, for the broadcast through a RedisBackplane ------------------------------

let redis: { child: Child; url: string } | undefined;

function redisUrl(): string {
  if (redis === undefined) throw new Error("redis-server is not running");
  return redis.url;
}

/** Starts `redis-server` on a free port, on the server's CPU; false if absent. */
async function startRedis(): Promise<boolean> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  let child: Child;
  try {
    child = spawn("redis-server", "redis-server", [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
    ], SERVER_CPUS);
  } catch {
    return false;
  }
  try {
    while (
      !(await child.readLine(10_000, "redis-server to start")).includes(
        "Ready to accept connections",
      )
    );
  } catch {
    await child.kill();
    return false;
  }
  redis = { child, url: `redis://127.0.0.1:${port}` };
  return true;
}

async function broadcastSection(): Promise<string> {
  const rows: string[][] = [];
  const notes: string[] = [];
  const withRedis = await startRedis();
  try {
    for (const receivers of [100, 1000]) {
      rows.push(...await broadcastRows(receivers, withRedis, notes));
    }
  } finally {
    await redis?.child.kill();
    redis = undefined;
  }
  if (!withRedis) {
    notes.push("No `redis-server` here: the row through Redis was left out.");
  }
  return `### Broadcast fan-out (one sender, 64 B, ≤ ${BROADCAST_INFLIGHT} messages in flight)\n\n${
    table([
      "receivers",
      "ws4d fan-out",
      "raw deliveries/s",
      "ws4d deliveries/s",
      "ws4d ÷ raw",
    ], rows)
  }\n\nThe raw runs are shared by the ws4d rows of a receiver count. ${
    notes.join(" ")
  }`;
}

async function broadcastRows(
  receivers: number,
  withRedis: boolean,
  notes: string[],
): Promise<string[][]> {
  const rows: string[][] = [];
  {
    const label = `broadcast to ${receivers}`;
    const variants: Variant[] = ["raw", "ws4d", "ws4d-broadcast"];
    if (withRedis) variants.push("ws4d-redis");
    const samples = await alternate(
      label,
      variants,
      (variant) => broadcastRound(variant, receivers),
    );
    noteCpu(label, samples);
    rows.push([
      String(receivers),
      "`for (const c of wss.connections) if (c !== ws) c.send(data)`",
      spread(samples, "raw"),
      spread(samples, "ws4d"),
      ratioOf(samples, "ws4d", rate),
    ]);
    rows.push([
      String(receivers),
      "`wss.broadcast(data, { except: ws })`",
      spread(samples, "raw"),
      spread(samples, "ws4d-broadcast"),
      ratioOf(samples, "ws4d-broadcast", rate),
    ]);
    if (withRedis) {
      rows.push([
        String(receivers),
        "`wss.broadcast` through Redis: sender on one instance, receivers on another",
        spread(samples, "raw"),
        spread(samples, "ws4d-redis"),
        ratioOf(samples, "ws4d-redis", rate),
      ]);
      notes.push(
        `Through Redis ÷ local \`wss.broadcast\`, ${receivers} receivers: ${
          formatFixed(
            ratio(
              medianOf(samples, "ws4d-broadcast", rate),
              medianOf(samples, "ws4d-redis", rate),
            ),
            2,
          )
        }.`,
      );
    }
  }
  return rows;
}

async function setupSection(): Promise<string> {
  const label = "connection setup";
  const samples = await alternate(label, ["raw", "ws4d"], setupRound);
  noteCpu(label, samples);
  const row = [
    String(SETUP_CONCURRENCY * 2),
    spread(samples, "raw"),
    spread(samples, "ws4d"),
    ratioOf(samples, "ws4d", rate),
    latencyCell(samples, "raw"),
    latencyCell(samples, "ws4d"),
    formatFixed(medianOf(samples, "raw", cpuPerOp), 1),
    formatFixed(medianOf(samples, "ws4d", cpuPerOp), 1),
    ratioOf(samples, "ws4d", cpuPerOp),
  ];
  return `### Connection setup (open, greeted with "hi", closed)\n\n${
    table([
      "concurrent",
      "raw conn/s",
      "ws4d conn/s",
      "ws4d ÷ raw",
      "raw p50 / p99 ms",
      "ws4d p50 / p99 ms",
      "raw server CPU µs/conn",
      "ws4d server CPU µs/conn",
      "ws4d ÷ raw",
    ], [row])
  }\n\nThis rate is not the server's: a load process spends about as much CPU per connection as the server, and the kernel churns ~20,000 connections and TIME_WAITs per round, so it varies from run to run (see the last table). The server's CPU time per connection is the steadier comparison.`;
}

async function idleSection(): Promise<string> {
  const limit = await openFilesLimit();
  // The server holds one descriptor per connection, plus a few of its own.
  const target = Math.min(IDLE_TARGET, Math.floor(limit - 100));
  const samples = await alternate(
    `idle ${target}`,
    ["raw", "raw-headers", "ws4d"],
    (variant) => idleRound(variant, target),
  );
  const reached = Math.min(
    ...[...samples.values()].flat().map((m) => m.reached ?? 0),
  );
  const kib = (v: number) => formatFixed(v, 2);
  const heap = (m: Measurement) => m.heap ?? NaN;
  const rows = ([
    ["raw", "raw"],
    ["raw-headers", "raw, copying the request headers before the upgrade"],
    ["ws4d", "ws4d"],
  ] as const).map(([variant, label]) => [
    label,
    formatSpread(values(samples, variant, rate), kib),
    variant === "raw"
      ? ""
      : `+${
        kib(medianOf(samples, variant, rate) - medianOf(samples, "raw", rate))
      }`,
    formatCount(medianOf(samples, variant, heap)),
    variant === "raw" ? "" : `+${
      formatCount(
        medianOf(samples, variant, heap) - medianOf(samples, "raw", heap),
      )
    }`,
  ]);
  const note = reached >= IDLE_TARGET
    ? ""
    : `\n\nOnly ${reached} of ${IDLE_TARGET} connections could be held (open files limit ${limit}).`;
  return `### Idle memory (${
    formatCount(reached)
  } idle connections: server VmRSS and JS heap with them − with none, ÷ N)\n\n${
    table([
      "server",
      "VmRSS KiB/conn",
      "− raw",
      "JS heap B/conn",
      "− raw",
    ], rows)
  }\n\nws4d ÷ raw (VmRSS): ${
    ratioOf(samples, "ws4d", rate)
  }. The 4D contract gives \`onConnection\` and \`ws.request\` every request header, and Deno forbids reading them after the upgrade, so ws4d copies them first; the middle row is raw Deno doing only that.${note}`;
}

function cpuSection(): string {
  return `### Load generator check (medians, % of one core over the window)\n\n${
    table([
      "scenario",
      "server",
      "server CPU %",
      "load processes CPU %",
      PINNED ? "load cores busy %" : "all cores busy %",
      "server CPU µs/op",
      "bound by",
      "errors",
    ], cpuRows)
  }`;
}

const SECTIONS: ReadonlyArray<[string, () => Promise<string>]> = [
  ["echo", echoSection],
  ["datatype", dataTypeSection],
  ["broadcast", broadcastSection],
  ["setup", setupSection],
  ["idle", idleSection],
];
if (
  flags.only !== undefined && !SECTIONS.some(([name]) => name === flags.only)
) {
  throw new TypeError(
    `--only must be one of ${SECTIONS.map(([name]) => name).join("|")}`,
  );
}

// --- main ----------------------------------------------------------------------------

/** The commit the library is at, and whether its files differ from it. */
async function libraryVersion(): Promise<string> {
  const git = async (...args: string[]) => {
    const output = await new Deno.Command("git", {
      args,
      cwd: new URL("..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "null",
    }).output();
    return output.success
      ? new TextDecoder().decode(output.stdout).trimEnd()
      : "";
  };
  try {
    const commit = await git("rev-parse", "--short", "HEAD");
    if (commit === "") return "not a git checkout";
    const changed = await git("status", "--porcelain", "--", ".", ":!bench");
    return changed === ""
      ? `commit ${commit}`
      : `commit ${commit} with uncommitted changes to ${
        changed.split("\n").map((line) => line.slice(3)).join(", ")
      }`;
  } catch {
    return "unknown version";
  }
}

async function header(): Promise<string> {
  const command = ["deno task bench", ...Deno.args].join(" ");
  return [
    "## ws4d vs raw Deno WebSocket",
    "",
    `Command: \`${command}\`  `,
    `Library: ${await libraryVersion()}  `,
    `${
      new Date().toISOString()
    }, Deno ${Deno.version.deno} (V8 ${Deno.version.v8}), ${cpuModel()}, ${navigator.hardwareConcurrency} cores, Linux ${Deno.osRelease()}  `,
    `${ROUNDS} rounds per server, alternating raw and ws4d, each ${WARMUP_MS} ms warm-up + ${MEASURE_MS} ms measured, 1 server process + 2 load processes on loopback${
      PINNED
        ? `, server pinned to CPU ${SERVER_CPUS}, load to CPU ${LOAD_CPUS}`
        : ", not pinned"
    }.  `,
    "Cells: median (min–max) over the rounds; ratio: ws4d median ÷ raw median.",
  ].join("\n");
}

async function main(): Promise<void> {
  const started = performance.now();
  const sections: string[] = [await header()];
  let quickRatio = NaN;
  if (flags.quick) {
    const samples = await runEcho(QUICK_CASE);
    sections.push(
      `### Echo (text)\n\n${
        table(["conns", "in flight", "size", ...ECHO_HEAD], [
          echoRow(["64", "16", "64 B"], samples),
        ])
      }`,
    );
    quickRatio = ratio(
      medianOf(samples, "raw", rate),
      medianOf(samples, "ws4d", rate),
    );
  } else {
    for (const [name, section] of SECTIONS) {
      if (flags.only === undefined || flags.only === name) {
        sections.push(await section());
      }
    }
  }
  // Idle memory alone measures no load.
  if (cpuRows.length > 0) sections.push(cpuSection());
  sections.push(
    `Run time: ${formatFixed((performance.now() - started) / 1000, 0)} s`,
  );
  console.log(sections.join("\n\n"));
  if (flags.quick) {
    console.log(`ratio_vs_raw=${quickRatio.toFixed(3)}`);
    if (!Number.isFinite(quickRatio)) {
      throw new Error("No ratio: rounds failed");
    }
  }
}

await runToEnd("bench", main, 15 * 60 * 1000);
