// deno-lint-ignore-file no-console
/**
 * # ws4d benchmark: ws4d against raw `Deno.upgradeWebSocket`, and against
 * other builds of itself
 *
 * ```sh
 * deno task bench            # every scenario, about 7 minutes
 * deno task bench --quick    # echo, 64 connections × 16 in flight × 64 B, < 1 min
 * deno task bench --only broadcast   # one of echo|datatype|broadcast|setup|idle|options|cluster
 * deno task bench --rounds 5        # issue #25's quiet 5-round run (on an idle machine)
 * deno task bench --rounds 5 --seconds 4 --no-pin --no-node
 * deno task bench --quick --against HEAD~3 --rounds 3   # before and after, alternated
 * deno task bench --quick --variant 'resume={"resume":true}'
 * deno task bench --quick --preload otel=bench/otel.ts --env otel=OTEL_DENO=true
 * ```
 *
 * It prints markdown tables on stdout (progress goes to stderr). With
 * `--quick` the last line is `ratio_vs_raw=<x>`: ws4d's echo messages/s ÷
 * raw's, medians over the rounds; each `--against <ref>` adds a last line
 * `ratio_vs_<ref>=<x>` (ws4d ÷ ws4d@ref), each named variant a line
 * `ratio_<name>_vs_ws4d=<x>` before them. Before those lines (the last line
 * of a run without `--quick`), one line `Goals (#25): …` gives each goal
 * row of issue #25 that the run measured with PASS or MISS. Rounds default
 * to 3 per server, 5 with `--quick`.
 *
 * The servers compared by echo, datatype, setup and idle: `raw`, `ws4d`
 * (the working tree), `ws4d@<ref>` per `--against <ref>` (the package at a
 * git ref, from `git archive` into a temporary folder removed at the end),
 * and per name of `--variant name=<options JSON>`, `--preload
 * name=<module>`, `--env name=KEY=VALUE` a ws4d server with those options,
 * importing that module first, with that environment; and, except with
 * `--quick` or `--no-node`, `node`: Node 22 with npm's `ws`, a peer (see
 * `_node_peer.ts`). `options` compares the plain ws4d server with each
 * option of issue #25 (`scenarios/options.ts`). Broadcast compares
 * its own fan-outs (the 4D loop, `wss.broadcast`, through Redis) and, per
 * `--against <ref>`, that ref's loop and `wss.broadcast`. `bench/README.md`
 * says how it measures and how to read the tables.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { type Children, hasTaskset, runToEnd } from "./_child.ts";
import { goalLine } from "./_goals.ts";
import { nodeVariant } from "./_node_peer.ts";
import { cpuModel } from "./_proc.ts";
import { quickLines } from "./_report.ts";
import { Runner, type RunSettings } from "./_runner.ts";
import { formatElapsed } from "./_stats.ts";
import {
  checkoutRef,
  namedVariants,
  RAW,
  type ServerVariant,
  WS4D,
} from "./_variants.ts";
import { broadcastSection } from "./scenarios/broadcast.ts";
import { clusterSection } from "./scenarios/cluster.ts";
import { dataTypeSection } from "./scenarios/datatype.ts";
import { echoSection, quickSection } from "./scenarios/echo.ts";
import { idleSection } from "./scenarios/idle.ts";
import { optionsSection } from "./scenarios/options.ts";
import { setupSection } from "./scenarios/setup.ts";

const SECTIONS: ReadonlyArray<[string, (runner: Runner) => Promise<string>]> = [
  ["echo", echoSection],
  ["datatype", dataTypeSection],
  ["broadcast", broadcastSection],
  ["setup", setupSection],
  ["idle", idleSection],
  ["options", optionsSection],
  ["cluster", clusterSection],
];

/** What the command line asks. */
interface Flags {
  readonly quick: boolean;
  readonly rounds: number;
  readonly measureMs: number;
  readonly only: string | undefined;
  readonly pin: boolean;
  /** Run Node's `ws` beside the others (not with `--quick`). */
  readonly node: boolean;
  readonly against: readonly string[];
  readonly variant: readonly string[];
  readonly preload: readonly string[];
  readonly env: readonly string[];
}

function parseFlags(args: readonly string[]): Flags {
  const values = parseArgs([...args], {
    boolean: ["quick", "pin", "node"],
    string: [
      "rounds",
      "seconds",
      "only",
      "against",
      "variant",
      "preload",
      "env",
    ],
    collect: ["against", "variant", "preload", "env"],
    negatable: ["pin", "node"],
    default: { seconds: "2.5", pin: true, node: true },
    unknown: (arg) => {
      throw new TypeError(`Unknown argument ${arg}`);
    },
  });
  const rounds = Number(values.rounds ?? (values.quick ? 5 : 3));
  const measureMs = Number(values.seconds) * 1000;
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) {
    throw new RangeError(`--rounds must be 1 to 20, got ${values.rounds}`);
  }
  if (!(measureMs >= 500 && measureMs <= 30_000)) {
    throw new RangeError(`--seconds must be 0.5 to 30, got ${values.seconds}`);
  }
  if (
    values.only !== undefined &&
    !SECTIONS.some(([name]) => name === values.only)
  ) {
    throw new TypeError(
      `--only must be one of ${SECTIONS.map(([name]) => name).join("|")}`,
    );
  }
  return {
    quick: values.quick,
    rounds,
    measureMs,
    only: values.only,
    pin: values.pin,
    node: values.node && !values.quick,
    against: values.against,
    variant: values.variant,
    preload: values.preload,
    env: values.env,
  };
}

const WARMUP_MS = 500;

/**
 * The server gets CPU 0 to itself and the load processes the others
 * (`taskset`): the same placement every round, and a server core that the
 * generator cannot take.
 */
async function settings(
  flags: Flags,
  variants: readonly ServerVariant[],
): Promise<RunSettings> {
  const cores = navigator.hardwareConcurrency;
  const pinned = flags.pin && cores >= 2 && await hasTaskset();
  return {
    rounds: flags.rounds,
    warmupMs: WARMUP_MS,
    measureMs: flags.measureMs,
    placement: { pinned, cores, loadCores: pinned ? cores - 1 : cores },
    serverCpus: pinned ? "0" : undefined,
    loadCpus: pinned ? (cores === 2 ? "1" : `1-${cores - 1}`) : undefined,
    variants,
  };
}

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

async function header(run: RunSettings): Promise<string> {
  const command = ["deno task bench", ...Deno.args].join(" ");
  const { placement } = run;
  return [
    "## ws4d vs raw Deno WebSocket",
    "",
    `Command: \`${command}\`  `,
    `Library: ${await libraryVersion()}  `,
    `${
      new Date().toISOString()
    }, Deno ${Deno.version.deno} (V8 ${Deno.version.v8}), ${cpuModel()}, ${placement.cores} cores, Linux ${Deno.osRelease()}  `,
    `${run.rounds} rounds per server, alternating ${
      run.variants.map((v) => v.name).join(", ")
    }, each ${run.warmupMs} ms warm-up + ${run.measureMs} ms measured, 1 server process + 2 load processes on loopback${
      placement.pinned
        ? `, server pinned to CPU ${run.serverCpus}, load to CPU ${run.loadCpus}`
        : ", not pinned"
    }.  `,
    "Cells: median (min–max) over the rounds; a ratio is the row's median ÷ the median of raw or ws4d.",
    "",
    ...run.variants.map((v) => `- \`${v.name}\`: ${v.about}`),
  ].join("\n");
}

async function main(children: Children, flags: Flags): Promise<void> {
  const started = performance.now();
  const extra = namedVariants(flags);
  const refs: ServerVariant[] = [];
  for (const ref of flags.against) {
    const checkout = await checkoutRef(ref);
    children.atExit(() => checkout.remove());
    refs.push(checkout.variant);
  }
  const peers: ServerVariant[] = [];
  const notes: string[] = [];
  if (flags.node) {
    const node = await nodeVariant();
    if (typeof node === "string") notes.push(node);
    else peers.push(node);
  }
  const run = await settings(flags, [RAW, WS4D, ...refs, ...extra, ...peers]);
  const runner = new Runner(run, children);
  const sections: string[] = [await header(run), ...notes];
  let last: string[] = [];
  if (flags.quick) {
    const { text, samples } = await quickSection(runner);
    sections.push(text);
    last = quickLines(samples);
  } else {
    for (const [name, section] of SECTIONS) {
      if (flags.only === undefined || flags.only === name) {
        sections.push(await section(runner));
      }
    }
  }
  // Idle memory alone measures no load.
  const cpu = runner.cpuSection();
  if (cpu !== "") sections.push(cpu);
  sections.push(
    `Run time: ${formatElapsed(performance.now() - started, 1000)}`,
  );
  console.log(sections.join("\n\n"));
  const goals = goalLine(runner.goals);
  if (goals !== "") console.log(`\n${goals}`);
  for (const line of last) console.log(line);
  if (last.some((line) => line.endsWith("=NaN"))) {
    throw new Error("No ratio: rounds failed");
  }
}

const flags = parseFlags(Deno.args);
/**
 * 15 minutes for the two servers of a full run in 3 rounds, more for more
 * servers (the options section and Node count as one each) and rounds.
 */
const servers = 2 + flags.against.length + namedVariants(flags).length +
  (flags.node ? 1 : 0) + (flags.quick ? 0 : 1);
await runToEnd(
  "bench",
  (children) => main(children, flags),
  15 * 60 * 1000 * Math.max(1, servers / 2) * Math.max(1, flags.rounds / 3),
);
