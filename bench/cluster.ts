// deno-lint-ignore-file no-console -- a program that reports what it measured.
/**
 * One session across instances, measured on loopback (run by hand; it
 * prints its figures), two servers in this process on one backplane:
 *
 * - echo round trips, one at a time, through a relayed session (the client
 *   on instance b, its session on a) against a local one (client and
 *   session on a), on `BroadcastChannelBackplane` and on `RedisBackplane`
 *   (a `redis-server` it starts where one is installed): p50, p99 and the
 *   ratio of the medians;
 * - the time from a cut to the resumed session on the other instance (a
 *   TCP relay retargeted at each cut): median and p99;
 * - the local path with a backplane set and no relay, against no
 *   backplane: echo round trips, rounds alternated; the ratio of the
 *   throughputs (the goal: at least 0.97).
 *
 * ```sh
 * deno run --allow-all bench/cluster.ts [--trips 2000] [--cuts 100]
 * ```
 *
 * @module
 */
import { deadline } from "@std/async/deadline";
import { parseArgs } from "@std/cli/parse-args";
import {
  type Backplane,
  BroadcastChannelBackplane,
  WebSocket,
  WebSocketServer,
} from "../mod.ts";
import { RedisBackplane } from "../redis.ts";
import { Relay } from "../testkit/relay.ts";
import { RedisLauncher } from "../testkit/redis_launcher.ts";
import { median, quantile } from "./_stats.ts";

const flags = parseArgs(Deno.args, {
  string: ["trips", "cuts", "redis-server"],
  default: { trips: "2000", cuts: "100", "redis-server": "redis-server" },
});
const TRIPS = Number(flags.trips);
const CUTS = Number(flags.cuts);

function summary(samples: number[]): { p50: number; p99: number } {
  return { p50: median(samples), p99: quantile(samples, 0.99) };
}

function ms(value: number): string {
  return `${value.toFixed(3)} ms`;
}

/** An echo server on port 0 with `backplane` (or none). */
function echo(backplane: Backplane | undefined): WebSocketServer {
  return new WebSocketServer({
    onConnection: () => ({ onMessage: (ws, event) => ws.send(event.data) }),
  }, { port: 0, hostname: "127.0.0.1", backplane, resume: true });
}

function target(wss: WebSocketServer): { hostname: string; port: number } {
  return { hostname: "127.0.0.1", port: wss.addr?.port ?? 0 };
}

/** A ws4d client with reconnect, round trips one at a time. */
class Client {
  readonly ws: WebSocket;
  #reply: (() => void) | null = null;
  #opened = Promise.withResolvers<boolean>();
  readonly #ended = Promise.withResolvers<void>();

  constructor(url: string) {
    this.ws = new WebSocket(url, {
      reconnect: { delay: 0, jitter: 0, maxRetries: 100 },
      onOpen: (_ws, event) => this.#opened.resolve(event.resumed === true),
      onMessage: () => {
        const reply = this.#reply;
        this.#reply = null;
        reply?.();
      },
      onTerminate: () => this.#ended.resolve(),
    });
  }

  async opened(): Promise<boolean> {
    const resumed = await deadline(this.#opened.promise, 10_000);
    this.#opened = Promise.withResolvers<boolean>();
    return resumed;
  }

  /** One round trip: its time in ms. */
  async trip(payload: string): Promise<number> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#reply = resolve;
    const start = performance.now();
    this.ws.send(payload);
    await deadline(promise, 10_000);
    return performance.now() - start;
  }

  async end(): Promise<void> {
    this.ws.terminate();
    await this.#ended.promise;
  }
}

const PAYLOAD = "x".repeat(64);

/** `trips` round trips on `client`. */
async function trips(client: Client, count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) times.push(await client.trip(PAYLOAD));
  return times;
}

/**
 * Relayed against local on two instances with the backplanes of `make`,
 * then cut-to-resumed on the other instance.
 */
async function relayedAgainstLocal(
  name: string,
  make: () => Backplane,
  ready: (backplane: Backplane) => Promise<void>,
): Promise<void> {
  const pa = make();
  const pb = make();
  const a = echo(pa);
  const b = echo(pb);
  await Promise.all([ready(pa), ready(pb)]);
  const relay = new Relay(target(a));
  try {
    const client = new Client(relay.url("/"));
    await client.opened();
    await trips(client, 200); // warm-up, local
    const local = await trips(client, TRIPS);
    relay.retarget(target(b));
    relay.cut();
    if (!await client.opened()) {
      throw new Error(
        `not resumed: a ${
          JSON.stringify(a.stats.closes)
        } ${a.stats.sessionsResumed}, b ${
          JSON.stringify(b.stats.refused)
        } ${b.stats.connections}`,
      );
    }
    await trips(client, 200); // warm-up, relayed
    const relayed = await trips(client, TRIPS);
    const l = summary(local);
    const r = summary(relayed);
    console.log(
      `${name}: echo round trip, local p50 ${ms(l.p50)} p99 ${ms(l.p99)}; ` +
        `relayed p50 ${ms(r.p50)} p99 ${ms(r.p99)}; ` +
        `relayed ÷ local (p50) ${(r.p50 / l.p50).toFixed(2)}`,
    );
    // Cut to resumed, each cut landing on the other instance.
    const resumes: number[] = [];
    const targets = [a, b];
    for (let i = 0; i < CUTS; i++) {
      relay.retarget(target(targets[i % 2]!));
      const start = performance.now();
      relay.cut();
      if (!await client.opened()) throw new Error("not resumed");
      resumes.push(performance.now() - start);
      await client.trip(PAYLOAD);
    }
    const c = summary(resumes);
    console.log(
      `${name}: cut to resumed on the other instance, ${CUTS} cuts: median ${
        ms(c.p50)
      }, p99 ${ms(c.p99)}`,
    );
    await client.end();
  } finally {
    await relay.close();
    await a.terminate(0);
    await b.terminate(0);
  }
}

/** Local round trips with a backplane against none, rounds alternated. */
async function backplaneCost(): Promise<void> {
  const rounds = 6;
  const ratios: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const times: Record<"none" | "backplane", number> = {
      none: 0,
      backplane: 0,
    };
    for (const kind of ["none", "backplane"] as const) {
      const wss = echo(
        kind === "none" ? undefined : new BroadcastChannelBackplane("bench"),
      );
      const client = new Client(`ws://127.0.0.1:${wss.addr?.port}/`);
      await client.opened();
      await trips(client, 200);
      const start = performance.now();
      await trips(client, TRIPS);
      times[kind] = performance.now() - start;
      await client.end();
      await wss.terminate(0);
    }
    ratios.push(times.none / times.backplane);
  }
  const sorted = [...ratios].sort((x, y) => x - y);
  console.log(
    `local path, backplane set ÷ none (throughput), ${rounds} rounds of ${TRIPS} round trips: median ${
      median(ratios).toFixed(2)
    } (${sorted.map((r) => r.toFixed(2)).join(", ")})`,
  );
}

const channel = `bench-${crypto.randomUUID()}`;
await relayedAgainstLocal(
  "BroadcastChannel",
  () => new BroadcastChannelBackplane(channel),
  () => Promise.resolve(),
);
let redis: RedisLauncher | undefined;
try {
  redis = new RedisLauncher({ program: flags["redis-server"] });
  await redis.start();
} catch (error) {
  console.log(`Redis: skipped (${(error as Error).message})`);
  redis = undefined;
}
if (redis !== undefined) {
  const url = redis.url;
  try {
    await relayedAgainstLocal(
      "Redis",
      () => new RedisBackplane(url, { channel: "bench" }),
      (backplane) =>
        backplane instanceof RedisBackplane
          ? backplane.ready
          : Promise.resolve(),
    );
  } finally {
    await redis.stop();
  }
}
await backplaneCost();
