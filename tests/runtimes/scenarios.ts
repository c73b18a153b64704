// This module is browser compatible.
/**
 * The client's scenarios, written once for every runtime: bundled with
 * client.ts by `deno bundle --platform browser`, run by Node and Bun from a
 * small runner and imported by a Chromium page. Each scenario records every
 * callback it gets; the traces are read only once all scenarios are over, so
 * that an `onTerminate` coming twice (or late) is seen. The server side is
 * `tests/runtimes_test.ts`.
 *
 * @module
 */
import { WebSocket } from "../../client.ts";

/** Where the scenarios connect to. */
export interface ScenarioConfig {
  /** The test server, `ws://127.0.0.1:<port>`. */
  readonly url: string;
  /** A loopback URL whose port was just closed. */
  readonly refusedUrl: string;
  /** How long one scenario may wait for its `onTerminate`. */
  readonly timeoutMs: number;
}

/** One `onError` stack entry, as JSON. */
export interface ErrorSeen {
  readonly errCode: number;
  readonly message: string;
  readonly hasCause: boolean;
}

/** Every callback a client got, in JSON. */
export interface Trace {
  /** The `type` of each event, in order. */
  readonly types: string[];
  /** Each message's `data`: a `Uint8Array` as `{ bytes }`, other objects as is. */
  readonly messages: unknown[];
  /** Each `onError`'s stack. */
  readonly errors: ErrorSeen[][];
  /** Each `onTerminate`'s code and reason. */
  readonly terminates: { code: number; reason: string }[];
  /** `status` inside `onTerminate`, then once every scenario was over. */
  readonly statuses: string[];
  /** True when `onTerminate` did not come within `timeoutMs`. */
  timedOut: boolean;
  /** What `send` did after `terminate` (only in "sendAfterTerminate"). */
  sendAfterTerminate?: { returned: unknown; threw: string };
  /** The error the constructor threw, as `"Name: message"`. */
  threw?: string;
}

/** The results of every scenario, by name. */
export type Results = Record<string, Trace>;

/** What the constructor did where there is no global `WebSocket`. */
export interface NoWebSocketResult {
  readonly hasGlobalWebSocket: boolean;
  readonly threw: string;
  readonly message: string;
}

/** `data` as JSON: the kind of a non-plain object is kept. */
function plain(data: unknown): unknown {
  if (data instanceof Uint8Array) return { bytes: Array.from(data) };
  if (typeof data === "object" && data !== null) {
    const kind = Object.getPrototypeOf(data)?.constructor?.name;
    if (kind !== "Object" && kind !== "Array") return { kind };
  }
  return data;
}

interface Scenario {
  /** The URL, relative to the server's; absolute for another server. */
  readonly url: string;
  readonly dataType?: "text" | "blob" | "object";
  /** Sent on open. */
  readonly send?: readonly unknown[];
  /** Messages to wait for before `terminate(...close)`. */
  readonly expect?: number;
  /** The arguments of the client's `terminate`. */
  readonly close?: readonly [number?, string?];
  /** Handshake headers. */
  readonly headers?: Record<string, string>;
}

/**
 * Opens one client, records its callbacks, resolves on `onTerminate` (or
 * after `timeoutMs`). The trace keeps recording after that.
 */
function play(
  config: ScenarioConfig,
  scenario: Scenario,
  onOpen?: (ws: WebSocket, trace: Trace) => void,
): { trace: Trace; ws?: WebSocket; done: Promise<void> } {
  const trace: Trace = {
    types: [],
    messages: [],
    errors: [],
    terminates: [],
    statuses: [],
    timedOut: false,
  };
  const ended = Promise.withResolvers<void>();
  const url = scenario.url.startsWith("ws")
    ? scenario.url
    : config.url + scenario.url;
  const close = scenario.close ?? [];
  let ws: WebSocket;
  try {
    ws = new WebSocket(url, {
      dataType: scenario.dataType ?? "text",
      ...scenario.headers === undefined ? {} : { headers: scenario.headers },
      onOpen(ws, event) {
        trace.types.push(event.type);
        for (const message of scenario.send ?? []) ws.send(message);
        if (onOpen !== undefined) onOpen(ws, trace);
      },
      onMessage(ws, event) {
        trace.types.push(event.type);
        trace.messages.push(plain(event.data));
        if (trace.messages.length === scenario.expect) ws.terminate(...close);
      },
      onError(_ws, event) {
        trace.types.push(event.type);
        trace.errors.push(event.errors.map((error) => ({
          errCode: error.errCode,
          message: error.message,
          hasCause: error.cause !== undefined,
        })));
      },
      onTerminate(ws, event) {
        trace.types.push(event.type);
        trace.terminates.push({ code: event.code, reason: event.reason });
        trace.statuses.push(ws.status);
        ended.resolve();
      },
    });
  } catch (error) {
    trace.threw = `${(error as Error).name}: ${(error as Error).message}`;
    return { trace, done: Promise.resolve() };
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      trace.timedOut = true;
      resolve();
    }, config.timeoutMs);
  });
  const done = Promise.race([ended.promise, late]).then(() => {
    clearTimeout(timer);
    trace.statuses.push(ws.status);
  });
  return { trace, ws, done };
}

/**
 * Runs every scenario one after the other and returns their traces, read
 * once the last one is over. The server echoes each message as a text frame
 * (when it is UTF-8) then as a binary frame; `/close` is closed by the server
 * with 4002 "x" on open; `/refuse` is refused with 403. Handshake headers
 * are tried in "headers" (a browser throws a `TypeError`).
 */
export async function run(config: ScenarioConfig): Promise<Results> {
  const plays: [string, ReturnType<typeof play>][] = [];
  const scenario = async (
    name: string,
    scenario: Scenario,
    onOpen?: (ws: WebSocket, trace: Trace) => void,
  ) => {
    const played = play(config, scenario, onOpen);
    plays.push([name, played]);
    await played.done;
  };
  await scenario("refused", { url: config.refusedUrl });
  await scenario("forbidden", { url: "/refuse?s=forbidden" });
  await scenario("headers", {
    url: "/refuse?s=headers",
    headers: { "x-ws4d": "sent" },
  });
  await scenario("text", {
    url: "/echo?s=text",
    send: ["hi", new TextEncoder().encode("hé")],
    expect: 4,
  });
  await scenario("blob", {
    url: "/echo?s=blob",
    dataType: "blob",
    send: ["é", new Uint8Array([1, 2, 255])],
    expect: 3,
    close: [4001, "bye"],
  });
  await scenario("object", {
    url: "/echo?s=object",
    dataType: "object",
    send: [{ a: [1] }, "[2, null]"],
    expect: 4,
    close: [3000],
  });
  await scenario("serverCloses", { url: "/close?s=serverCloses" });
  await scenario("sendAfterTerminate", {
    url: "/echo?s=sendAfterTerminate",
  }, (ws, trace) => {
    ws.terminate();
    try {
      trace.sendAfterTerminate = { returned: ws.send("late"), threw: "" };
    } catch (error) {
      trace.sendAfterTerminate = {
        returned: undefined,
        threw: `${(error as Error).name}: ${(error as Error).message}`,
      };
    }
  });
  const results: Results = {};
  for (const [name, { trace, ws }] of plays) {
    if (ws !== undefined) trace.statuses.push(ws.status);
    results[name] = trace;
  }
  return results;
}

/** Constructs a client where the runtime has no global `WebSocket`. */
export function noWebSocket(url: string): NoWebSocketResult {
  const hasGlobalWebSocket = typeof globalThis.WebSocket === "function";
  try {
    new WebSocket(url).terminate();
    return { hasGlobalWebSocket, threw: "", message: "" };
  } catch (error) {
    return {
      hasGlobalWebSocket,
      threw: (error as Error).name,
      message: (error as Error).message,
    };
  }
}
