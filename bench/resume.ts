// deno-lint-ignore-file no-console -- a program that reports what it measured.
/**
 * Resuming, measured on loopback (run by hand; it prints its figures):
 *
 * - the time from a cut to a resumed session: a ws4d client with
 *   `reconnect: { delay: 0, jitter: 0 }` and a server with `resume`, through
 *   the relay of testkit/relay.ts; each round cuts the TCP and waits for the
 *   client's `onOpen` with `resumed: true` (median, p99, max);
 * - echo through the ws4d client, resume on against off: `conns` clients
 *   keep 16 messages in flight each, 2000 round trips per client, rounds
 *   alternated (the echo bench's load client offers no resume, so it
 *   cannot measure this path);
 * - the memory per connection at rest, resumable against plain: the heap
 *   after `conns` idle connections of each kind, client and server in this
 *   one process (both sides' state counted), after a GC.
 *
 * ```sh
 * deno run --allow-all --v8-flags=--expose-gc bench/resume.ts [--cuts 200] [--conns 500]
 * ```
 *
 * @module
 */
import { delay } from "@std/async/delay";
import { parseArgs } from "@std/cli/parse-args";
import { format as formatBytes } from "@std/fmt/bytes";
import { WebSocket, WebSocketServer } from "../mod.ts";
import { Relay } from "../testkit/relay.ts";
import { deadline } from "@std/async/deadline";
import { median, quantile } from "./_stats.ts";

const flags = parseArgs(Deno.args, {
  string: ["cuts", "conns"],
  default: { cuts: "200", conns: "500" },
  unknown: (arg) => {
    throw new TypeError(`Unknown argument ${arg}`);
  },
});

function count(name: "cuts" | "conns"): number {
  const value = Number(flags[name]);
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`--${name} must be a positive integer`);
  }
  return value;
}

const CUTS = count("cuts");
const CONNS = count("conns");

async function timeToResume(): Promise<number[]> {
  const wss = new WebSocketServer({
    onConnection: () => ({ onMessage: () => {} }),
  }, { port: 0, hostname: "127.0.0.1", resume: true, signals: [] });
  const relay = new Relay({
    hostname: "127.0.0.1",
    port: (wss.addr as Deno.NetAddr).port,
  });
  let opened: (resumed: boolean) => void = () => {};
  const ws = new WebSocket(relay.url("/"), {
    reconnect: { delay: 0, jitter: 0 },
    onOpen: (_ws, event) => opened(event.resumed),
  });
  const open = () => {
    const next = Promise.withResolvers<boolean>();
    opened = next.resolve;
    return deadline(next.promise, 5000);
  };
  await open();
  const times: number[] = [];
  for (let i = 0; i < CUTS; i++) {
    const next = open();
    const start = performance.now();
    relay.cut();
    const resumed = await next;
    times.push(performance.now() - start);
    if (!resumed) throw new Error(`cut ${i} was not resumed`);
  }
  ws.terminate();
  await relay.close();
  await wss.terminate();
  return times;
}

const gc = (globalThis as { gc?: () => void }).gc;

function heap(): number {
  gc?.();
  gc?.();
  return Deno.memoryUsage().heapUsed;
}

/** Heap bytes per idle connection (client and server side together). */
async function heapPerConnection(resume: boolean): Promise<number> {
  const wss = new WebSocketServer({
    onConnection: () => ({ onMessage: () => {} }),
  }, { port: 0, hostname: "127.0.0.1", resume, signals: [] });
  const url = `ws://127.0.0.1:${(wss.addr as Deno.NetAddr).port}/`;
  const before = heap();
  const clients: WebSocket[] = [];
  const opens: Promise<void>[] = [];
  for (let i = 0; i < CONNS; i++) {
    const { promise, resolve } = Promise.withResolvers<void>();
    opens.push(promise);
    clients.push(
      new WebSocket(url, {
        reconnect: { delay: 0, jitter: 0 },
        onOpen: () => resolve(),
      }),
    );
  }
  await deadline(Promise.all(opens), 30_000);
  // One message each way, so that each side's state has been used.
  for (const ws of clients) ws.send("x");
  for (const connection of wss.connections) connection.send("y");
  await delay(200);
  const after = heap();
  for (const ws of clients) ws.terminate();
  await wss.terminate();
  return (after - before) / CONNS;
}

/** Round trips per second, ws4d client to ws4d server, 16 in flight. */
async function echoRate(resume: boolean, conns = 32): Promise<number> {
  const wss = new WebSocketServer({
    onConnection: () => ({ onMessage: (ws, event) => ws.send(event.data) }),
  }, { port: 0, hostname: "127.0.0.1", resume, signals: [] });
  const url = `ws://127.0.0.1:${(wss.addr as Deno.NetAddr).port}/`;
  const ROUNDS = 2000;
  const clients: WebSocket[] = [];
  const opens: Promise<void>[] = [];
  const dones: Promise<void>[] = [];
  let start = 0;
  for (let i = 0; i < conns; i++) {
    const open = Promise.withResolvers<void>();
    const done = Promise.withResolvers<void>();
    opens.push(open.promise);
    dones.push(done.promise);
    let received = 0;
    clients.push(
      new WebSocket(url, {
        reconnect: { delay: 0, jitter: 0 },
        onOpen: () => open.resolve(),
        onMessage(ws, event) {
          received++;
          if (received === ROUNDS) done.resolve();
          else if (received <= ROUNDS - 16) ws.send(event.data);
        },
      }),
    );
  }
  await deadline(Promise.all(opens), 30_000);
  start = performance.now();
  for (const ws of clients) {
    for (let i = 0; i < 16; i++) ws.send("x".repeat(64));
  }
  await deadline(Promise.all(dones), 120_000);
  const rate = conns * ROUNDS / ((performance.now() - start) / 1000);
  for (const ws of clients) ws.terminate();
  await wss.terminate();
  return rate;
}

const times = await timeToResume();
console.log(
  `cut → resumed (${CUTS} cuts, loopback, delay 0): median ${
    median(times).toFixed(2)
  } ms, p99 ${quantile(times, 0.99).toFixed(2)} ms, max ${
    Math.max(...times).toFixed(2)
  } ms`,
);
const rates: Record<string, number[]> = { off: [], on: [] };
for (let round = 0; round < 3; round++) {
  rates.off?.push(await echoRate(false));
  rates.on?.push(await echoRate(true));
}
const off = median(rates.off ?? []);
const on = median(rates.on ?? []);
console.log(
  `echo, ws4d client, 32 conns × 16 in flight × 64 B, median of 3: resume off ${
    Math.round(off)
  }/s, on ${Math.round(on)}/s, ratio ${(on / off).toFixed(3)}`,
);
if (gc === undefined) {
  console.log("memory: run with --v8-flags=--expose-gc to measure it");
} else {
  // Once each first: what the first run compiles or caches is not counted.
  await heapPerConnection(false);
  await heapPerConnection(true);
  const plain = await heapPerConnection(false);
  const resumable = await heapPerConnection(true);
  const bytes = (value: number, signed = false) =>
    formatBytes(value, { binary: true, maximumFractionDigits: 2, signed });
  console.log(
    `heap per idle connection, client + server (${CONNS}): plain ${
      bytes(plain)
    }, resumable ${bytes(resumable)} (${bytes(resumable - plain, true)})`,
  );
}
