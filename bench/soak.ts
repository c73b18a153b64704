// deno-lint-ignore-file no-console -- a program that reports what it measured.
/**
 * `deno task soak [--seconds N]`: a long run against a ws4d echo server in
 * its own process. Steady clients stay connected and exchange sequenced
 * messages; meanwhile connections churn at a steady rate (open, exchange,
 * close, or a cut of the TCP for some). At the end it prints connections
 * served, messages checked and lost, the server's RSS at the start, middle
 * and end, and the server's open sockets (only the listener must be left).
 * It stops by itself; exit status 1 when a message was lost or a socket leaked.
 * `--raw` runs the same soak against the echo written directly on
 * `Deno.upgradeWebSocket`, to compare memory.
 *
 * @module
 */
import {
  buildFrame,
  readFramesUntil,
  readHead,
  upgradeHead,
} from "../testkit/raw_peer.ts";
import { deadline } from "@std/async/deadline";
import { delay } from "@std/async/delay";
import { parseArgs } from "@std/cli/parse-args";
import { format as formatBytes } from "@std/fmt/bytes";
import { rssKiB } from "./_proc.ts";

const STEADY_CLIENTS = 50;
/** Each steady client sends one message every `STEADY_EVERY_MS`. */
const STEADY_EVERY_MS = 100;
/** New connections per second, and how many may be under way at once. */
const CHURN_PER_SECOND = 100;
const CHURN_MAX_IN_FLIGHT = 200;
/** Every `CUT_EVERY`-th churned connection ends with a cut of its TCP. */
const CUT_EVERY = 3;
const MESSAGES_PER_CHURN = 10;
const WAIT_MS = 10_000;

/** `--seconds N` (default 60) and `--raw`. */
function parseFlags(args: string[]): { seconds: number; raw: boolean } {
  const flags = parseArgs(args, {
    boolean: ["raw"],
    string: ["seconds"],
    default: { seconds: "60" },
    unknown: (arg) => {
      throw new TypeError(`Unknown argument ${arg}`);
    },
  });
  const seconds = Number(flags.seconds);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new RangeError(
      `--seconds must be a positive number, got ${flags.seconds}`,
    );
  }
  return { seconds, raw: flags.raw };
}

/** Waits for `promise`, failing after `ms` (default `WAIT_MS`). */
function within<T>(promise: Promise<T>, _what: string, ms = WAIT_MS) {
  return deadline(promise, ms);
}

const totals = { served: 0, checked: 0, lost: 0, failed: 0, cut: 0 };

/** A client that stays connected and sends a sequence, checking the echoes. */
class SteadyClient {
  readonly socket: WebSocket;
  sent = 0;
  received = 0;
  readonly closed: Promise<unknown>;

  constructor(url: string) {
    this.socket = new WebSocket(url);
    this.socket.onmessage = (event) => {
      if (event.data === `${this.received}`) totals.checked++;
      else totals.lost++;
      this.received++;
    };
    this.closed = new Promise((resolve) => this.socket.onclose = resolve);
  }

  opened(): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.socket.onopen = resolve;
      this.socket.onerror = () => reject(new Error("steady client: no open"));
    });
  }

  tick(): void {
    if (this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(`${this.sent++}`);
    }
  }
}

/** Open, exchange, close: a WebSocket client that says goodbye. */
async function churnClean(url: string): Promise<void> {
  const socket = new WebSocket(url);
  const closed = new Promise((resolve) => socket.onclose = resolve);
  let received = 0;
  const all = Promise.withResolvers<void>();
  socket.onmessage = (event) => {
    if (event.data === `${received}`) totals.checked++;
    else totals.lost++;
    if (++received === MESSAGES_PER_CHURN) all.resolve();
  };
  try {
    await within(
      new Promise((resolve, reject) => {
        socket.onopen = resolve;
        socket.onerror = () => reject(new Error("no open"));
      }),
      "open",
    );
    for (let i = 0; i < MESSAGES_PER_CHURN; i++) socket.send(`${i}`);
    await within(all.promise, "echoes");
    totals.served++;
  } catch {
    totals.failed++;
    totals.lost += MESSAGES_PER_CHURN - received;
  } finally {
    socket.close();
    await within(closed, "close").catch(() => totals.failed++);
  }
}

/** Open in raw TCP, exchange, then cut the TCP with no close frame. */
async function churnCut(port: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let received = 0;
  try {
    await conn.write(new TextEncoder().encode(upgradeHead(port)));
    await readHead(conn, WAIT_MS);
    for (let i = 0; i < MESSAGES_PER_CHURN; i++) {
      await conn.write(buildFrame(1, new TextEncoder().encode(`${i}`)));
    }
    const frames = await readFramesUntil(
      conn,
      (got) => (received = got.length) >= MESSAGES_PER_CHURN,
      "the raw echoes",
      WAIT_MS,
    );
    const texts = frames.map((frame) =>
      new TextDecoder().decode(frame.payload)
    );
    texts.forEach((text, i) =>
      text === `${i}` ? totals.checked++ : totals.lost++
    );
    totals.served++;
    totals.cut++;
  } catch {
    totals.failed++;
    totals.lost += MESSAGES_PER_CHURN - received;
  } finally {
    conn.close();
  }
}

interface Stats {
  opened: number;
  terminated: number;
  live: number;
}

/** No pooled connection: the server must be left with its listener only. */
const http = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });

async function stats(port: number): Promise<Stats> {
  const response = await fetch(`http://127.0.0.1:${port}/stats`, {
    client: http,
  });
  return await response.json() as Stats;
}

/** The states of a process's TCP sockets, from `/proc` (Linux). */
function tcpSockets(pid: number): { listening: number; other: number } {
  const inodes = new Set<string>();
  for (const entry of Deno.readDirSync(`/proc/${pid}/fd`)) {
    try {
      const link = Deno.readLinkSync(`/proc/${pid}/fd/${entry.name}`);
      const match = /^socket:\[(\d+)\]$/.exec(link);
      if (match?.[1] !== undefined) inodes.add(match[1]);
    } catch {
      // The fd closed while we looked.
    }
  }
  let listening = 0;
  let other = 0;
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = Deno.readTextFileSync(table);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [state, inode] = [fields[3], fields[9]];
      if (inode === undefined || !inodes.has(inode)) continue;
      if (state === "0A") listening++;
      else other++;
    }
  }
  return { listening, other };
}

/** KiB (as /proc gives them) as `@std/fmt/bytes` writes them: `52.3 MiB`. */
const mib = (kib: number) => formatBytes(kib * 1024, { binary: true });

async function main(): Promise<number> {
  const { seconds, raw } = parseFlags(Deno.args);
  const server = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      new URL("./soak_server.ts", import.meta.url).pathname,
      ...raw ? ["--raw"] : [],
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    const first = await within(reader.read(), "the server's port");
    const port = Number(first.value?.trim());
    const url = `ws://127.0.0.1:${port}`;
    const pid = server.pid;
    const rss = { start: rssKiB(pid), middle: 0, end: 0 };
    console.log(
      `soak${
        raw ? " (raw Deno server)" : ""
      }: ${seconds} s, ${STEADY_CLIENTS} steady clients, ` +
        `${CHURN_PER_SECOND} new connections/s (1 in ${CUT_EVERY} cut abruptly), ` +
        `server pid ${pid} on port ${port}`,
    );

    const steady = Array.from(
      { length: STEADY_CLIENTS },
      () => new SteadyClient(url),
    );
    await within(Promise.all(steady.map((c) => c.opened())), "steady opens");
    const steadyTimer = setInterval(() => {
      for (const client of steady) client.tick();
    }, STEADY_EVERY_MS);

    const inFlight = new Set<Promise<void>>();
    let launched = 0;
    const start = performance.now();
    const churnTimer = setInterval(() => {
      const due = Math.floor(
        (performance.now() - start) / 1000 * CHURN_PER_SECOND,
      );
      while (launched < due && inFlight.size < CHURN_MAX_IN_FLIGHT) {
        const run = ++launched % CUT_EVERY === 0
          ? churnCut(port)
          : churnClean(url);
        const tracked: Promise<void> = run.catch(() => {
          totals.failed++;
        }).finally(() => inFlight.delete(tracked));
        inFlight.add(tracked);
      }
    }, 10);
    const middle = setTimeout(() => rss.middle = rssKiB(pid), seconds * 500);
    await delay(seconds * 1000);
    clearInterval(churnTimer);
    clearInterval(steadyTimer);
    clearTimeout(middle);
    await within(Promise.all(inFlight), "the last churned connections");

    // The steady clients' last echoes, then their close.
    await within(
      (async () => {
        while (steady.some((c) => c.received < c.sent)) {
          await delay(50);
        }
      })(),
      "the steady clients' last echoes",
    ).catch(() => {});
    for (const client of steady) {
      totals.lost += client.sent - client.received;
      totals.served++;
      client.socket.close();
    }
    await within(Promise.all(steady.map((c) => c.closed)), "steady closes");

    // The server has seen every connection end.
    let last = await stats(port);
    const until = performance.now() + WAIT_MS;
    while (
      (last.live > 0 || last.opened !== last.terminated) &&
      performance.now() < until
    ) {
      await delay(100);
      last = await stats(port);
    }
    // The stats request's own socket may linger a moment in the server.
    await delay(200);
    rss.end = rssKiB(pid);
    const sockets = tcpSockets(pid);

    console.log(
      `connections served: ${totals.served} (${totals.cut} cut abruptly; the server counted ${last.opened} opened, ${last.terminated} terminated)`,
    );
    console.log(`connections failed: ${totals.failed}`);
    console.log(`messages checked: ${totals.checked}`);
    console.log(`messages lost: ${totals.lost}`);
    console.log(
      `server RSS: start ${mib(rss.start)}, middle ${mib(rss.middle)}, end ${
        mib(rss.end)
      }`,
    );
    console.log(
      `server sockets at the end: ${sockets.listening} listening, ${sockets.other} other`,
    );
    const ok = totals.lost === 0 && totals.failed === 0 &&
      sockets.listening === 1 && sockets.other === 0 &&
      last.opened === last.terminated;
    console.log(ok ? "soak: ok" : "soak: FAILED");
    return ok ? 0 : 1;
  } finally {
    reader.releaseLock();
    try {
      server.kill("SIGTERM");
    } catch {
      // It has exited already.
    }
    await within(server.status, "the server to exit", 5000).catch(() => {
      server.kill("SIGKILL");
    });
    await server.stdout.cancel().catch(() => {});
    http.close();
  }
}

Deno.exit(await main());
