// deno-lint-ignore-file no-console
/**
 * Where the server's time goes, per message: runs the echo of the benchmark
 * against the raw server and the ws4d server, each under `deno run
 * --cpu-prof`, and prints, side by side, the server's CPU time per message,
 * the JavaScript part of it (V8's samples), the part spent in ws4d's own
 * functions, and the functions with the most self time.
 *
 * ```sh
 * deno task profile                                   # 64 × 16 × 64 B text
 * deno task profile --conns 512 --inflight 1 --payload blob --seconds 6
 * deno task profile --keep /tmp/profiles              # keep the .cpuprofile files
 * ```
 *
 * One load process (CPU 1) and one server (CPU 0) when `taskset` exists, as
 * in `bench.ts`. Sampling costs the server a few percent, equally for both.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { type Child, type Children, hasTaskset, runToEnd } from "./_child.ts";
import { type EchoConfig, parseResult, type Payload } from "./_protocol.ts";
import { table } from "./_report.ts";

const flags = parseArgs(Deno.args, {
  string: ["conns", "inflight", "size", "payload", "seconds", "top", "keep"],
  default: {
    conns: "64",
    inflight: "16",
    size: "64",
    payload: "text",
    seconds: "6",
    top: "25",
  },
  unknown: (arg) => {
    throw new TypeError(`Unknown argument ${arg}`);
  },
});

function count(
  name: "conns" | "inflight" | "size" | "seconds" | "top",
  min: number,
  max: number,
): number {
  const value = Number(flags[name]);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`--${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

const CONNS = count("conns", 1, 2_000);
const INFLIGHT = count("inflight", 1, 256);
const SIZE = count("size", 1, 1 << 20);
const SECONDS = count("seconds", 1, 60);
const TOP = count("top", 1, 200);
const PAYLOADS: readonly Payload[] = ["text", "blob", "object"];
const PAYLOAD = PAYLOADS.find((item) => item === flags.payload);
if (PAYLOAD === undefined) {
  throw new TypeError(`--payload must be one of ${PAYLOADS.join("|")}`);
}

const SERVER_SCRIPT = new URL("./server.ts", import.meta.url).pathname;
const LOAD_SCRIPT = new URL("./load.ts", import.meta.url).pathname;
/** ws4d's own modules: the package root, not the benchmark's. */
const PACKAGE = new URL("..", import.meta.url).href;
const BENCH = new URL(".", import.meta.url).href;

const PINNED = navigator.hardwareConcurrency >= 2 && await hasTaskset();

// --- the profile's format (V8's .cpuprofile) --------------------------------------

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** What one server spent, in microseconds. */
interface Spent {
  readonly messages: number;
  readonly serverCpu: number;
  readonly js: number;
  readonly own: number;
  /** Self time by function. */
  readonly functions: ReadonlyMap<string, number>;
}

function where(frame: CallFrame): string {
  const url = frame.url.startsWith(BENCH)
    ? `bench/${frame.url.slice(BENCH.length)}`
    : frame.url.startsWith(PACKAGE)
    ? frame.url.slice(PACKAGE.length)
    : frame.url.replace(/^ext:/, "");
  const name = frame.functionName === "" ? "(anonymous)" : frame.functionName;
  return url === "" ? name : `${name} ${url}:${frame.lineNumber + 1}`;
}

/** Self time per function, from a profile; `(idle)` is not the server's. */
function selfTimes(
  profile: CpuProfile,
): { js: number; own: number; functions: Map<string, number> } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const functions = new Map<string, number>();
  let js = 0;
  let own = 0;
  profile.samples.forEach((id, index) => {
    const frame = byId.get(id)?.callFrame;
    const micros = profile.timeDeltas[index] ?? 0;
    if (frame === undefined || frame.functionName === "(idle)") return;
    js += micros;
    if (frame.url.startsWith(PACKAGE) && !frame.url.startsWith(BENCH)) {
      own += micros;
    }
    const key = where(frame);
    functions.set(key, (functions.get(key) ?? 0) + micros);
  });
  return { js, own, functions };
}

// --- a run ---------------------------------------------------------------------------

async function profileOf(
  group: Children,
  impl: "raw" | "ws4d",
  dir: string,
): Promise<Spent> {
  const children: Child[] = [];
  try {
    const server = group.spawnDeno(`server ${impl}`, [
      "run",
      "--allow-net=127.0.0.1",
      "--cpu-prof",
      `--cpu-prof-dir=${dir}`,
      SERVER_SCRIPT,
      "--impl",
      impl,
      "--scenario",
      "echo",
      "--dataType",
      PAYLOAD as Payload,
    ], { cpus: PINNED ? "0" : undefined });
    children.push(server);
    const port = Number(await server.readLine(20_000, "its port"));
    const config: EchoConfig = {
      mode: "echo",
      url: `ws://127.0.0.1:${port}/`,
      conns: CONNS,
      inflight: INFLIGHT,
      payload: PAYLOAD as Payload,
      size: SIZE,
      serverPid: server.pid,
      warmupMs: 500,
      measureMs: SECONDS * 1000,
    };
    // Deno reads /proc/<pid>/stat only with every permission.
    const load = group.spawnDeno("load", [
      "run",
      "--allow-all",
      LOAD_SCRIPT,
      JSON.stringify(config),
    ], { cpus: PINNED ? "1" : undefined });
    children.push(load);
    await load.readLine(15_000 + CONNS * 10, "ready");
    await load.send("go");
    const result = parseResult(
      await load.readLine(SECONDS * 1000 + 30_000, "its result"),
    );
    // The server writes its profile when it exits: when its stdin ends.
    await load.end();
    await server.end();
    if (!await server.exited(20_000)) {
      throw new Error("the server did not exit to write its profile");
    }
    const file = [...Deno.readDirSync(dir)].find((entry) =>
      entry.name.endsWith(".cpuprofile")
    );
    if (file === undefined) throw new Error(`no profile in ${dir}`);
    const profile = JSON.parse(
      await Deno.readTextFile(`${dir}/${file.name}`),
    ) as CpuProfile;
    return {
      messages: result.count,
      serverCpu: result.serverCpu * 1e6,
      ...selfTimes(profile),
    };
  } finally {
    await Promise.allSettled(children.map((child) => child.kill()));
  }
}

// --- the report ----------------------------------------------------------------------

const perMessage = (micros: number, spent: Spent) =>
  (micros / spent.messages).toFixed(3);

async function main(children: Children): Promise<void> {
  const root = flags.keep ?? await Deno.makeTempDir({ prefix: "ws4d-prof-" });
  try {
    const spent = new Map<"raw" | "ws4d", Spent>();
    for (const impl of ["raw", "ws4d"] as const) {
      const dir = `${root}/${impl}`;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await Deno.mkdir(dir, { recursive: true });
      spent.set(impl, await profileOf(children, impl, dir));
      console.error(`profile: ${impl} done`);
    }
    const raw = spent.get("raw") as Spent;
    const ws4d = spent.get("ws4d") as Spent;
    const names = new Set(
      [raw, ws4d].flatMap((s) =>
        [...s.functions].sort((a, b) => b[1] - a[1]).slice(0, TOP).map(([n]) =>
          n
        )
      ),
    );
    const byWs4d = [...names].sort((a, b) =>
      (ws4d.functions.get(b) ?? 0) / ws4d.messages -
      (ws4d.functions.get(a) ?? 0) / ws4d.messages
    );
    console.log(
      `## CPU profile: echo, ${CONNS} conns × ${INFLIGHT} in flight × ${SIZE} B ${PAYLOAD}, ${SECONDS} s per server\n`,
    );
    console.log(table(["", "raw", "ws4d", "ws4d − raw"], [
      ["messages", String(raw.messages), String(ws4d.messages), ""],
      ...([
        ["server CPU µs/msg", (s: Spent) => s.serverCpu],
        ["JavaScript µs/msg (V8 samples)", (s: Spent) => s.js],
        ["ws4d's own functions µs/msg", (s: Spent) => s.own],
      ] as const).map(([label, pick]) => [
        label,
        perMessage(pick(raw), raw),
        perMessage(pick(ws4d), ws4d),
        (pick(ws4d) / ws4d.messages - pick(raw) / raw.messages).toFixed(3),
      ]),
    ]));
    console.log(
      `\nSelf time, µs per message (the top ${TOP} of each):\n`,
    );
    console.log(table(
      ["function", "raw", "ws4d"],
      byWs4d.map((name) => [
        `\`${name}\``,
        perMessage(raw.functions.get(name) ?? 0, raw),
        perMessage(ws4d.functions.get(name) ?? 0, ws4d),
      ]),
    ));
    if (flags.keep !== undefined) console.log(`\nProfiles kept in ${root}`);
  } finally {
    if (flags.keep === undefined) {
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  }
}

await runToEnd("profile", main, (SECONDS * 2 + 120) * 1000);
