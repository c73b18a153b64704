/**
 * What the orchestrator (`bench.ts`) and a load process (`load.ts`) say to
 * each other. The orchestrator passes a {@linkcode LoadConfig} as the load
 * process's one argument, in JSON. The load process answers JSON lines on
 * stdout: {@linkcode ReadyLine} once its connections are open, then, after
 * the orchestrator's `go` line on stdin, one {@linkcode ResultLine}.
 *
 * @module
 */
import type { SparseHistogram } from "./_stats.ts";

/** What a message of the load is: text, binary, or a small JSON object. */
export type Payload = "text" | "blob" | "object";

/** Timing of a measured run, in milliseconds after `go`. */
export interface Window {
  /** Load runs, unmeasured, for this long first. */
  readonly warmupMs: number;
  /** Then it is measured for this long. */
  readonly measureMs: number;
}

/**
 * Echo: `conns` connections, each keeping `inflight` messages in flight;
 * measures messages/s and round-trip latency.
 */
export interface EchoConfig extends Window {
  readonly mode: "echo";
  readonly url: string;
  readonly conns: number;
  readonly inflight: number;
  readonly payload: Payload;
  /** Bytes of a text or blob message (an object message has its own size). */
  readonly size: number;
  /** The server's pid, whose CPU time this process reads over its window. */
  readonly serverPid: number;
}

/**
 * Broadcast: `receivers` connections count what they receive. The process
 * with `sender` also owns the one sending connection and keeps at most
 * `inflight` messages not yet received by every receiver of both processes;
 * the other process tells it how far its receivers are over a TCP
 * connection to `ctrlPort`.
 */
export interface BroadcastConfig extends Window {
  readonly mode: "broadcast";
  readonly url: string;
  readonly receivers: number;
  readonly sender: boolean;
  readonly inflight: number;
  readonly size: number;
  /** For the process without the sender: where the sender's process listens. */
  readonly ctrlPort: number;
  readonly serverPid: number;
  /** Where the sender connects, when not to `url` (another instance). */
  readonly senderUrl?: string;
}

/**
 * Connection setup: `concurrency` loops, each opening a connection, waiting
 * for the server's greeting, closing, and waiting for the close.
 */
export interface SetupConfig extends Window {
  readonly mode: "setup";
  readonly url: string;
  readonly concurrency: number;
  readonly serverPid: number;
}

/** Idle: opens `conns` connections, waits for each greeting, holds them. */
export interface IdleConfig {
  readonly mode: "idle";
  readonly url: string;
  readonly conns: number;
}

/** The one argument of `load.ts`. */
export type LoadConfig =
  | EchoConfig
  | BroadcastConfig
  | SetupConfig
  | IdleConfig;

/** The load process's connections are open and greeted. */
export interface ReadyLine {
  readonly type: "ready";
  /** Connections open. */
  readonly open: number;
  /** With a broadcast sender: the port where the other process reports. */
  readonly ctrlPort?: number;
  /** Idle: connections that could not be opened. */
  readonly failures?: number;
}

/** What a load process measured over its window. */
export interface ResultLine {
  readonly type: "result";
  /** Messages echoed, deliveries received, or connections made and closed. */
  readonly count: number;
  /** The measured window as it really was, in milliseconds. */
  readonly elapsedMs: number;
  /** Round trips (echo) or open-greet-close cycles (setup), in µs. */
  readonly latency: SparseHistogram;
  /** CPU seconds of this process over the window. */
  readonly cpu: number;
  /** CPU seconds of the server over the window. */
  readonly serverCpu: number;
  /** Wrong replies, failed or timed-out connections. */
  readonly errors: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function isHistogram(value: unknown): value is SparseHistogram {
  return Array.isArray(value) &&
    value.every((pair) =>
      Array.isArray(pair) && pair.length === 2 &&
      typeof pair[0] === "number" && typeof pair[1] === "number"
    );
}

/** Reads a {@linkcode ReadyLine}, or throws naming what came instead. */
export function parseReady(line: string): ReadyLine {
  const value: unknown = JSON.parse(line);
  if (
    isRecord(value) && value.type === "ready" &&
    typeof value.open === "number" &&
    (value.ctrlPort === undefined || typeof value.ctrlPort === "number") &&
    (value.failures === undefined || typeof value.failures === "number")
  ) {
    return {
      type: "ready",
      open: value.open,
      ...(typeof value.ctrlPort === "number"
        ? { ctrlPort: value.ctrlPort }
        : {}),
      ...(typeof value.failures === "number"
        ? { failures: value.failures }
        : {}),
    };
  }
  throw new Error(`Expected a ready line, got ${line}`);
}

/** Reads a {@linkcode ResultLine}, or throws naming what came instead. */
export function parseResult(line: string): ResultLine {
  const value: unknown = JSON.parse(line);
  if (
    isRecord(value) && value.type === "result" &&
    typeof value.count === "number" && typeof value.elapsedMs === "number" &&
    isHistogram(value.latency) && typeof value.cpu === "number" &&
    typeof value.serverCpu === "number" && typeof value.errors === "number"
  ) {
    return {
      type: "result",
      count: value.count,
      elapsedMs: value.elapsedMs,
      latency: value.latency,
      cpu: value.cpu,
      serverCpu: value.serverCpu,
      errors: value.errors,
    };
  }
  throw new Error(`Expected a result line, got ${line}`);
}
