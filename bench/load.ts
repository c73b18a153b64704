// deno-lint-ignore-file no-console
/**
 * A load process of the benchmark: WebSocket clients against one server, as
 * told by its one argument, a {@linkcode LoadConfig} in JSON (see
 * `_protocol.ts`). It opens its connections and waits for each greeting,
 * prints a ready line, waits for `go` on stdin, runs the load through a
 * warm-up and a measured window, prints a result line, closes its
 * connections and exits. It exits as soon as stdin ends.
 *
 * The hot paths do as little as the protocol allows: one preallocated
 * message sent again and again, a ring of send times per connection, one
 * histogram increment per reply.
 *
 * @module
 */
import { deadline } from "@std/async/deadline";
import { delay as sleep } from "@std/async/delay";
import { cpuSeconds } from "./_proc.ts";
import { onStdinLines } from "./_lines.ts";
import type {
  BroadcastConfig,
  EchoConfig,
  IdleConfig,
  LoadConfig,
  Payload,
  ResultLine,
  SetupConfig,
  Window,
} from "./_protocol.ts";
import { Histogram } from "./_stats.ts";
import {
  BenchSocket,
  clientFrame,
  OPCODE_BINARY,
  OPCODE_TEXT,
  textFrame,
  writeAll,
} from "./_wsclient.ts";

/** How long one connection may take to open and be greeted. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Connections opening at the same time, per process. */
const CONNECT_PARALLEL = 128;
/** How long the orchestrator may take to say `go`. */
const GO_TIMEOUT_MS = 120_000;
/** How long closing every connection may take at the end. */
const CLOSE_TIMEOUT_MS = 5_000;

// --- stdin: the orchestrator's `go` -----------------------------------------

/** The orchestrator's `go`, said once on stdin. */
class Go {
  readonly #said = Promise.withResolvers<void>();

  constructor() {
    onStdinLines((line) => {
      if (line === "go") this.#said.resolve();
    });
  }

  /** Resolves once `go` is said, failing after `GO_TIMEOUT_MS`. */
  wait(): Promise<void> {
    return deadline(
      this.#said.promise,
      GO_TIMEOUT_MS,
    );
  }
}

// --- connections ---------------------------------------------------------------

/** Read buffers: room for a 16 KiB frame and more; idle ones need little. */
const READ_BUFFER = 64 * 1024;
const IDLE_READ_BUFFER = 1024;

function isGreeting(opcode: number, payload: Uint8Array | null): boolean {
  return opcode === OPCODE_TEXT && payload !== null && payload.length === 2 &&
    payload[0] === 0x68 && payload[1] === 0x69; // "hi"
}

/** Opens a connection and resolves once the server's greeting came. */
async function openGreeted(
  url: URL,
  ms = CONNECT_TIMEOUT_MS,
  readBuffer = READ_BUFFER,
): Promise<BenchSocket> {
  const started = Date.now();
  const socket = await deadline(
    BenchSocket.connect({
      hostname: url.hostname,
      port: Number(url.port),
      readBuffer,
      timeoutMs: ms,
    }),
    ms,
  );
  try {
    await deadline(
      new Promise<void>((resolve, reject) => {
        socket.onEnd = () => reject(new Error("closed before the greeting"));
        socket.listen((opcode, _length, payload) => {
          if (isGreeting(opcode, payload)) resolve();
          else reject(new Error("the first message is no greeting"));
        });
      }),
      Math.max(1, ms - (Date.now() - started)),
    );
  } catch (error) {
    await socket.close(0);
    throw error;
  }
  socket.onEnd = () => {};
  socket.onFrame = () => {};
  return socket;
}

/**
 * Opens `count` greeted connections, `CONNECT_PARALLEL` at a time. With
 * `tolerant`, a failed connection is counted and skipped; otherwise the
 * first failure throws.
 */
async function openMany(
  url: URL,
  count: number,
  { tolerant = false, readBuffer = READ_BUFFER } = {},
): Promise<{ sockets: BenchSocket[]; failures: number }> {
  const sockets: BenchSocket[] = [];
  let started = 0;
  let failures = 0;
  const worker = async () => {
    while (started < count) {
      started++;
      try {
        sockets.push(await openGreeted(url, CONNECT_TIMEOUT_MS, readBuffer));
      } catch (error) {
        if (!tolerant) throw error;
        failures++;
      }
    }
  };
  const workers = Array.from(
    { length: Math.min(CONNECT_PARALLEL, count) },
    worker,
  );
  await Promise.all(workers);
  return { sockets, failures };
}

/** Closes every socket, waiting at most `CLOSE_TIMEOUT_MS` for them. */
async function closeAll(sockets: readonly BenchSocket[]): Promise<void> {
  await Promise.all(sockets.map((socket) => socket.close(CLOSE_TIMEOUT_MS)));
}

/** The message of `payload` as a prebuilt frame, and the reply expected. */
function message(
  payload: Payload,
  size: number,
): { frame: Uint8Array; opcode: number; length: number } {
  switch (payload) {
    case "text":
      return {
        frame: textFrame("x".repeat(size)),
        opcode: OPCODE_TEXT,
        length: size,
      };
    case "blob":
      return {
        frame: clientFrame(OPCODE_BINARY, new Uint8Array(size).fill(120)),
        opcode: OPCODE_BINARY,
        length: size,
      };
    case "object": {
      const text = JSON.stringify({
        type: "chat",
        id: 4242,
        user: "bench",
        text: "hello, world",
        tags: ["a", "b"],
        ok: true,
      });
      return {
        frame: textFrame(text),
        opcode: OPCODE_TEXT,
        length: text.length,
      };
    }
  }
}

// --- the measured window -----------------------------------------------------

/** Flags the hot paths read: is the load running, is it being counted. */
interface Phase {
  running: boolean;
  measuring: boolean;
}

/**
 * Waits for `go`, starts the load, measures from `warmupMs` for `measureMs`,
 * then stops it. Returns the window's real length and CPU seconds.
 */
async function runWindow(
  go: Go,
  window: Window,
  serverPid: number,
  phase: Phase,
  start: () => void,
): Promise<Pick<ResultLine, "elapsedMs" | "cpu" | "serverCpu">> {
  await go.wait();
  phase.running = true;
  start();
  await sleep(window.warmupMs);
  const cpu0 = cpuSeconds(Deno.pid);
  const server0 = serverPid > 0 ? cpuSeconds(serverPid) : 0;
  const t0 = performance.now();
  phase.measuring = true;
  await sleep(window.measureMs);
  phase.measuring = false;
  const elapsedMs = performance.now() - t0;
  const cpu = cpuSeconds(Deno.pid) - cpu0;
  const serverCpu = serverPid > 0 ? cpuSeconds(serverPid) - server0 : 0;
  phase.running = false;
  return { elapsedMs, cpu, serverCpu };
}

function printResult(result: Omit<ResultLine, "type">): void {
  const line: ResultLine = { type: "result", ...result };
  console.log(JSON.stringify(line));
}

// --- the scenarios -------------------------------------------------------------

async function runEcho(config: EchoConfig, go: Go): Promise<void> {
  const url = new URL(config.url);
  const { frame, opcode: replyOpcode, length: replyLength } = message(
    config.payload,
    config.size,
  );
  const { sockets } = await openMany(url, config.conns);
  console.log(JSON.stringify({ type: "ready", open: sockets.length }));
  const phase: Phase = { running: false, measuring: false };
  const latency = new Histogram();
  const inflight = config.inflight;
  let count = 0;
  let errors = 0;
  const starters: Array<() => void> = [];
  for (const socket of sockets) {
    const times = new Float64Array(inflight);
    let head = 0;
    let tail = 0;
    const send = (now: number) => {
      socket.send(frame);
      times[tail] = now;
      tail = tail + 1 === inflight ? 0 : tail + 1;
    };
    socket.onEnd = () => {
      if (phase.running) errors++;
    };
    socket.listen((opcode, length) => {
      const now = performance.now();
      const before = times[head] as number;
      head = head + 1 === inflight ? 0 : head + 1;
      if (opcode !== replyOpcode || length !== replyLength) errors++;
      if (phase.measuring) {
        count++;
        latency.record((now - before) * 1000);
      }
      if (phase.running) send(now);
    });
    starters.push(() => {
      const now = performance.now();
      for (let i = 0; i < inflight; i++) send(now);
    });
  }
  const window = await runWindow(go, config, config.serverPid, phase, () => {
    for (const start of starters) start();
  });
  printResult({ count, latency: latency.toSparse(), errors, ...window });
  await closeAll(sockets);
}

async function runBroadcast(config: BroadcastConfig, go: Go): Promise<void> {
  const listener = config.sender
    ? Deno.listen({ hostname: "127.0.0.1", port: 0 })
    : undefined;
  const accepted = listener?.accept();
  const ctrl = config.sender ? undefined : await deadline(
    Deno.connect({ hostname: "127.0.0.1", port: config.ctrlPort }),
    CONNECT_TIMEOUT_MS,
  );
  // 4-byte progress reports must not wait for Nagle's algorithm.
  ctrl?.setNoDelay(true);
  const url = new URL(config.url);
  const { sockets } = await openMany(url, config.receivers);
  const sender = config.sender
    ? await openGreeted(new URL(config.senderUrl ?? config.url))
    : undefined;
  console.log(JSON.stringify(
    listener === undefined ? { type: "ready", open: sockets.length } : {
      type: "ready",
      open: sockets.length + 1,
      ctrlPort: listener.addr.port,
    },
  ));

  const phase: Phase = { running: false, measuring: false };
  const receivers = sockets.length;
  const frame = textFrame("x".repeat(config.size));
  let deliveries = 0;
  let errors = 0;
  /** Messages that every local receiver has. */
  let done = 0;
  /** Messages that every receiver of the other process has. */
  let remoteDone = 0;
  let sent = 0;
  // reached[m % RING]: local receivers that have message m. A receiver is at
  // most `inflight` messages ahead of `done`, so the ring never wraps onto
  // a slot still in use.
  const RING = 1 << Math.ceil(Math.log2(config.inflight * 2 + 2));
  const mask = RING - 1;
  const reached = new Uint32Array(RING);

  const pump = () => {
    if (!phase.running || sender === undefined) return;
    const floor = Math.min(done, remoteDone);
    while (sent - floor < config.inflight) {
      sender.send(frame);
      sent++;
    }
  };
  const ctrlBytes = new Uint8Array(4);
  const ctrlView = new DataView(ctrlBytes.buffer);
  let reported = 0;
  let reporting = false;
  const report = () => {
    if (ctrl === undefined || reporting) return;
    reporting = true;
    (async () => {
      try {
        while (reported !== done) {
          const value = done;
          ctrlView.setUint32(0, value);
          await writeAll(ctrl, ctrlBytes);
          reported = value;
        }
      } catch {
        // The sender's process has gone: the window is over.
      } finally {
        reporting = false;
      }
    })();
  };
  const advance = () => {
    while (reached[done & mask] === receivers) {
      reached[done & mask] = 0;
      done++;
    }
    if (sender !== undefined) pump();
    else report();
  };

  for (const socket of sockets) {
    let got = 0;
    socket.onEnd = () => {
      if (phase.running) errors++;
    };
    socket.listen((opcode, length) => {
      if (opcode !== OPCODE_TEXT || length !== config.size) errors++;
      if (phase.measuring) deliveries++;
      const slot = got & mask;
      got++;
      reached[slot]!++;
      if (reached[slot] === receivers && slot === (done & mask)) advance();
    });
  }
  if (sender !== undefined) {
    sender.onEnd = () => {
      if (phase.running) errors++;
    };
    // The server sends to every connection but the sender's.
    sender.listen(() => errors++);
  }

  // The other process connects before it says ready, so before `go`.
  const remote = accepted === undefined ? undefined : await deadline(
    accepted,
    GO_TIMEOUT_MS,
  );
  remote?.setNoDelay(true);
  if (remote !== undefined) {
    readProgress(remote, (value) => {
      remoteDone = value;
      pump();
    });
  }
  const window = await runWindow(go, config, config.serverPid, phase, pump);
  printResult({ count: deliveries, latency: [], errors, ...window });
  remote?.close();
  ctrl?.close();
  listener?.close();
  await closeAll(sender === undefined ? sockets : [...sockets, sender]);
}

/** Reads the other process's progress, 4-byte counts, and hands on the last. */
async function readProgress(
  conn: Deno.Conn,
  onProgress: (done: number) => void,
): Promise<void> {
  const buffer = new Uint8Array(4096);
  let carry = new Uint8Array(0);
  while (true) {
    const read = await conn.read(buffer).catch(() => null);
    if (read === null) return;
    const bytes = new Uint8Array(carry.length + read);
    bytes.set(carry);
    bytes.set(buffer.subarray(0, read), carry.length);
    const whole = bytes.length - (bytes.length % 4);
    if (whole >= 4) onProgress(new DataView(bytes.buffer).getUint32(whole - 4));
    carry = bytes.slice(whole);
  }
}

async function runSetup(config: SetupConfig, go: Go): Promise<void> {
  console.log(JSON.stringify({ type: "ready", open: 0 }));
  const phase: Phase = { running: false, measuring: false };
  const latency = new Histogram();
  let count = 0;
  let errors = 0;
  const loops: Array<Promise<void>> = [];
  const url = new URL(config.url);
  const loop = async () => {
    while (phase.running) {
      const started = performance.now();
      try {
        const socket = await openGreeted(url, CLOSE_TIMEOUT_MS);
        await socket.close(CLOSE_TIMEOUT_MS);
        if (phase.measuring) {
          count++;
          latency.record((performance.now() - started) * 1000);
        }
      } catch {
        errors++;
        await sleep(10);
      }
    }
  };
  const window = await runWindow(go, config, config.serverPid, phase, () => {
    for (let i = 0; i < config.concurrency; i++) loops.push(loop());
  });
  printResult({ count, latency: latency.toSparse(), errors, ...window });
  await deadline(Promise.all(loops), CLOSE_TIMEOUT_MS * 2)
    .catch(() => {});
}

async function runIdle(config: IdleConfig): Promise<void> {
  const { sockets, failures } = await openMany(
    new URL(config.url),
    config.conns,
    { tolerant: true, readBuffer: IDLE_READ_BUFFER },
  );
  console.log(
    JSON.stringify({ type: "ready", open: sockets.length, failures }),
  );
  // Held until the orchestrator kills this process or closes its stdin.
  await new Promise(() => {});
}

function readConfig(): LoadConfig {
  const text = Deno.args[0];
  if (text === undefined) throw new Error("Usage: load.ts '<LoadConfig JSON>'");
  const config = JSON.parse(text) as LoadConfig;
  if (!["echo", "broadcast", "setup", "idle"].includes(config.mode)) {
    throw new Error(`Unknown mode in ${text}`);
  }
  return config;
}

const config = readConfig();
const go = new Go();
try {
  switch (config.mode) {
    case "echo":
      await runEcho(config, go);
      break;
    case "broadcast":
      await runBroadcast(config, go);
      break;
    case "setup":
      await runSetup(config, go);
      break;
    case "idle":
      await runIdle(config);
      break;
  }
  Deno.exit(0);
} catch (error) {
  console.error(`load.ts (${config.mode}): ${error}`);
  Deno.exit(1);
}
