// deno-lint-ignore-file no-console
/**
 * What every scenario does with processes: start a server variant and load
 * processes for a round, say `go`, merge their results, kill them all at
 * the end of the round, and run rounds alternately over the variants. One
 * {@linkcode Runner} per run holds its settings and what it gathered.
 *
 * @module
 */
import type { Child, Children } from "./_child.ts";
import {
  type LoadConfig,
  parseResult,
  type Payload,
  type ResultLine,
} from "./_protocol.ts";
import {
  cpuHead,
  cpuRows,
  type Measurement,
  type Placement,
  roundLine,
  type Samples,
  table,
} from "./_report.ts";
import type { Goal } from "./_goals.ts";
import { formatElapsed, Histogram } from "./_stats.ts";
import type { ServerVariant } from "./_variants.ts";
import { tools } from "../testkit/provision.ts";

const SERVER_SCRIPT = new URL("./server.ts", import.meta.url).pathname;
const BUN_SERVER_SCRIPT = new URL("./bun_server.js", import.meta.url).pathname;
const NODE_SERVER_SCRIPT = new URL("./node_server.cjs", import.meta.url)
  .pathname;
const LOAD_SCRIPT = new URL("./load.ts", import.meta.url).pathname;

/** Open, greeted connections per second, at least, before a wait fails. */
const CONNECT_RATE_FLOOR = 200;

/** A run's settings, from the command line and the machine. */
export interface RunSettings {
  /** Rounds per server variant. */
  readonly rounds: number;
  readonly warmupMs: number;
  readonly measureMs: number;
  readonly placement: Placement;
  /** CPUs of the server (and redis-server), when pinned. */
  readonly serverCpus: string | undefined;
  /** CPUs of the load processes, when pinned. */
  readonly loadCpus: string | undefined;
  /**
   * The servers that the scenarios comparing variants run (echo, datatype,
   * setup; idle adds `raw-headers`): `raw` and `ws4d` first.
   */
  readonly variants: readonly ServerVariant[];
}

/** What a server runs: see `server.ts`. */
export interface ServerSpec {
  readonly scenario: "echo" | "broadcast";
  readonly dataType: Payload;
  /** The Redis of a `redis` fan-out. */
  readonly redisUrl?: string;
}

/** A server of a round, started. */
export interface Started {
  readonly server: Child;
  readonly url: string;
}

/** Halves of `count`, the larger first; one part when there is one. */
export function split(count: number): number[] {
  return count < 2 ? [count] : [Math.ceil(count / 2), Math.floor(count / 2)];
}

/** How long `conns` connections may take to open. */
export function connectTimeout(conns: number): number {
  return 15_000 + (conns / CONNECT_RATE_FLOOR) * 1000;
}

/** The processes of one round: killed when the round ends. */
export class Round {
  readonly #runner: Runner;
  readonly children: Child[] = [];

  constructor(runner: Runner) {
    this.#runner = runner;
  }

  /** Starts a server of `variant` and reads its port. */
  async server(variant: ServerVariant, spec: ServerSpec): Promise<Started> {
    if (variant.impl === "bun") return await this.#bun(variant);
    if (variant.impl === "node") return await this.#node(variant, spec);
    const args = [
      "run",
      // The same for every server: a preload or an old version may need
      // more than the network.
      "--allow-all",
      "--v8-flags=--expose-gc",
      SERVER_SCRIPT,
      "--impl",
      variant.impl,
      "--scenario",
      spec.scenario,
      "--dataType",
      spec.dataType,
      "--fanout",
      variant.fanout ?? "loop",
    ];
    if (spec.redisUrl !== undefined) args.push("--redis", spec.redisUrl);
    if (variant.module !== undefined) args.push("--module", variant.module);
    if (variant.options !== undefined) {
      args.push("--options", JSON.stringify(variant.options));
    }
    if (variant.preload !== undefined) args.push("--preload", variant.preload);
    if (variant.extra !== undefined) args.push("--extra", variant.extra);
    const server = this.#runner.children.spawnDeno(
      `server ${variant.name}`,
      args,
      { cpus: this.#runner.settings.serverCpus, env: variant.env },
    );
    return await this.#started(server);
  }

  /** Keeps `server` to end with the rest, and reads the port it printed. */
  async #started(server: Child): Promise<Started> {
    this.children.push(server);
    const port = Number(await server.readLine(20_000, "its port"));
    if (!Number.isInteger(port) || port <= 0) {
      throw new Error(`${server.name} printed no port`);
    }
    return { server, url: `ws://127.0.0.1:${port}/` };
  }

  /** Starts Bun's server (`bench/bun_server.js`), the peer. */
  async #bun(variant: ServerVariant): Promise<Started> {
    const bun = tools().bun?.path;
    if (bun === undefined) throw new Error("no bun here");
    const server = this.#runner.children.spawn(
      `server ${variant.name}`,
      bun,
      [BUN_SERVER_SCRIPT],
      { cpus: this.#runner.settings.serverCpus, env: variant.env },
    );
    return await this.#started(server);
  }

  /** Starts Node's server (`bench/node_server.cjs` on npm's `ws`), a peer. */
  async #node(variant: ServerVariant, spec: ServerSpec): Promise<Started> {
    const { runtime, module } = variant;
    if (runtime === undefined || module === undefined) {
      throw new Error(`${variant.name}: no node or no ws package`);
    }
    const server = this.#runner.children.spawn(
      `server ${variant.name}`,
      runtime,
      [
        "--expose-gc",
        NODE_SERVER_SCRIPT,
        module,
        spec.scenario,
        spec.dataType,
      ],
      { cpus: this.#runner.settings.serverCpus, env: variant.env },
    );
    return await this.#started(server);
  }

  /** Starts a load process with `config`. */
  load(name: string, config: LoadConfig): Child {
    const load = this.#runner.children.spawnDeno(name, [
      "run",
      // Deno reads /proc/<pid>/stat only with every permission.
      "--allow-all",
      LOAD_SCRIPT,
      JSON.stringify(config),
    ], { cpus: this.#runner.settings.loadCpus });
    this.children.push(load);
    return load;
  }

  /** Says `go` to every load process and merges their results. */
  async measure(loads: readonly Child[]): Promise<Measurement> {
    const { warmupMs, measureMs } = this.#runner.settings;
    await Promise.all(loads.map((load) => load.send("go")));
    const results: ResultLine[] = await Promise.all(
      loads.map(async (load) =>
        parseResult(
          await load.readLine(warmupMs + measureMs + 30_000, "its result"),
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
}

/** One run: its settings, its children, and the CPU check it gathers. */
export class Runner {
  readonly settings: RunSettings;
  readonly children: Children;
  readonly #cpuRows: string[][] = [];
  readonly #cache = new Map<string, Samples>();
  readonly #goals: Goal[] = [];

  constructor(settings: RunSettings, children: Children) {
    this.settings = settings;
    this.children = children;
  }

  /** The measured window of a load process. */
  get window(): { warmupMs: number; measureMs: number } {
    return {
      warmupMs: this.settings.warmupMs,
      measureMs: this.settings.measureMs,
    };
  }

  /** Runs `body` with a new round, killing all its processes at the end. */
  async inRound<T>(body: (round: Round) => Promise<T>): Promise<T> {
    const round = new Round(this);
    try {
      return await body(round);
    } finally {
      // Load processes exit by themselves after their result; then kill.
      const loads = round.children.filter((child) =>
        !child.name.startsWith("server")
      );
      await Promise.all(loads.map((child) => child.exited(3_000)));
      await Promise.allSettled(round.children.map((child) => child.kill()));
    }
  }

  /**
   * Runs `round` for each variant, alternately, `rounds` times; a failed
   * round is reported and left out. With `cpuCheck`, the samples go to the
   * load-generator table.
   */
  async alternate(
    label: string,
    variants: readonly ServerVariant[],
    round: (variant: ServerVariant) => Promise<Measurement>,
    cpuCheck = true,
  ): Promise<Samples> {
    const { rounds } = this.settings;
    const samples = new Map<string, Measurement[]>(
      variants.map((v) => [v.name, []]),
    );
    for (let r = 1; r <= rounds; r++) {
      for (const variant of variants) {
        const started = performance.now();
        const what = `${label} | ${variant.name} | round ${r}/${rounds}`;
        try {
          const m = await round(variant);
          samples.get(variant.name)?.push(m);
          console.error(
            `${what}: ${roundLine(m)} in ${
              formatElapsed(performance.now() - started, 100)
            }`,
          );
        } catch (error) {
          console.error(`${what} failed:`);
          console.error(error);
        }
      }
    }
    if (cpuCheck) {
      this.#cpuRows.push(...cpuRows(label, samples, this.settings.placement));
    }
    return samples;
  }

  /** `alternate`, once per `key` in a run: echo and datatype share rows. */
  async cached(
    key: string,
    run: () => Promise<Samples>,
  ): Promise<Samples> {
    const cached = this.#cache.get(key);
    if (cached !== undefined) return cached;
    const samples = await run();
    this.#cache.set(key, samples);
    return samples;
  }

  /** Notes goal rows of issue #25 for the summary at the end of the run. */
  goal(...goals: Goal[]): void {
    this.#goals.push(...goals);
  }

  /** The goal rows noted so far, in the order noted. */
  get goals(): readonly Goal[] {
    return this.#goals;
  }

  /** The load-generator check of every scenario run so far, or "". */
  cpuSection(): string {
    if (this.#cpuRows.length === 0) return "";
    const { placement } = this.settings;
    return `### Load generator check (medians, % of one core over the window)\n\n${
      table(cpuHead(placement), this.#cpuRows)
    }`;
  }
}
