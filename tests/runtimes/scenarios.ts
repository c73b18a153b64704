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
import { WebSocket, type WSReconnectOptions } from "../../client.ts";

/** Where the scenarios connect to. */
export interface ScenarioConfig {
  /** The test server, `ws://127.0.0.1:<port>`. */
  readonly url: string;
  /** A loopback URL whose port was just closed. */
  readonly refusedUrl: string;
  /**
   * A plain Deno server for `reconnect`: `/1012` and `/1014` close the first
   * connection with that code ("restart"), `/4000` closes every one with
   * 4000 ("bye"), `/503` answers the first handshake 503, `/403` every one
   * 403; otherwise they echo.
   */
  readonly planUrl: string;
  /**
   * The test server through a relay: on its `/cut` paths, the first
   * connection is cut (a break, 1006) when its first message arrives.
   */
  readonly relayUrl: string;
  /**
   * A server with `resume`, through a relay of its own: it sends "welcome"
   * at open; at "ready" it cuts the relay, then sends "during".
   */
  readonly resumeUrl: string;
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
  /** With `reconnect`: each `onOpen`'s `reconnected` and `resumed`. */
  opens?: { reconnected: boolean; resumed: boolean }[];
  /**
   * With `reconnect`: each `onReconnecting`'s event (the reason only of a
   * close: a failure's is the runtime's own wording).
   */
  reconnectings?: {
    code: number;
    reason: string;
    attempt: number;
    delay: number;
  }[];
}

/** The results of every scenario, by name. */
export type Results = Record<string, Trace>;

/** What the constructor did where there is no global `WebSocket`. */
export interface NoWebSocketResult {
  readonly hasGlobalWebSocket: boolean;
  readonly threw: string;
  readonly message: string;
}

/** What {@linkcode resumeOnly} gives. */
export interface ResumeResult {
  /** `typeof Uint8Array.prototype.toBase64` in the runtime that ran it. */
  readonly toBase64: string;
  /** `typeof Uint8Array.fromBase64` in the runtime that ran it. */
  readonly fromBase64: string;
  readonly trace: Trace;
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
  /** `handler.reconnect`. */
  readonly reconnect?: WSReconnectOptions;
  /** Sent at each open after the first (with `reconnect`). */
  readonly sendOnReconnect?: readonly unknown[];
  /** Sent in answer to a message equal to the key. */
  readonly reply?: Readonly<Record<string, string>>;
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
  const reconnect = scenario.reconnect;
  if (reconnect !== undefined) {
    trace.opens = [];
    trace.reconnectings = [];
  }
  let ws: WebSocket;
  try {
    ws = new WebSocket(url, {
      dataType: scenario.dataType ?? "text",
      ...scenario.headers === undefined ? {} : { headers: scenario.headers },
      ...reconnect === undefined ? {} : { reconnect },
      onOpen(ws, event) {
        trace.types.push(event.type);
        const { reconnected, resumed } = event;
        trace.opens?.push({ reconnected, resumed });
        for (const message of scenario.send ?? []) ws.send(message);
        if (reconnected) {
          for (const message of scenario.sendOnReconnect ?? []) {
            ws.send(message);
          }
        }
        if (onOpen !== undefined) onOpen(ws, trace);
      },
      onReconnecting(_ws, event) {
        trace.types.push(event.type);
        const { code, reason, attempt, delay } = event;
        trace.reconnectings?.push({
          code,
          reason: code === 1006 ? "" : reason,
          attempt,
          delay,
        });
      },
      onMessage(ws, event) {
        trace.types.push(event.type);
        trace.messages.push(plain(event.data));
        const reply = scenario.reply?.[String(event.data)];
        if (reply !== undefined) ws.send(reply);
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

/** With reconnect: no wait between tries, no randomness. */
const NOW = { delay: 0, jitter: 0 };

/** Resuming, offered by default: the break is mended, nothing is lost. */
function resumeScenario(config: ScenarioConfig): Scenario {
  return {
    url: `${config.resumeUrl}/?s=resume`,
    reconnect: NOW,
    reply: { welcome: "ready" },
    expect: 2,
  };
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
  await scenario("reconnect1012", {
    url: `${config.planUrl}/1012?s=reconnect1012`,
    reconnect: NOW,
    sendOnReconnect: ["again"],
    expect: 1,
  });
  await scenario("reconnect1014", {
    url: `${config.planUrl}/1014?s=reconnect1014`,
    reconnect: NOW,
    sendOnReconnect: ["again"],
    expect: 1,
  });
  await scenario("reconnectBreak", {
    url: `${config.relayUrl}/cut?s=reconnectBreak`,
    reconnect: NOW,
    send: ["hello"],
    expect: 2,
  });
  await scenario("resume", resumeScenario(config));
  await scenario("reconnect503", {
    url: `${config.planUrl}/503?s=reconnect503`,
    reconnect: NOW,
    send: ["first"],
    expect: 1,
  });
  await scenario("reconnectFinal4000", {
    url: `${config.planUrl}/4000?s=reconnectFinal4000`,
    reconnect: NOW,
  });
  await scenario("reconnect403", {
    url: `${config.planUrl}/403?s=reconnect403`,
    reconnect: { ...NOW, maxRetries: 2 },
  });
  await scenario("reconnectRefused", {
    url: config.refusedUrl,
    reconnect: { ...NOW, maxRetries: 1 },
  });
  const results: Results = {};
  for (const [name, { trace, ws }] of plays) {
    if (ws !== undefined) trace.statuses.push(ws.status);
    results[name] = trace;
  }
  return results;
}

/**
 * The "resume" scenario of {@linkcode run} alone, and whether the runtime
 * has `Uint8Array.prototype.toBase64` and `Uint8Array.fromBase64` (read
 * before the client is constructed).
 */
export async function resumeOnly(
  config: ScenarioConfig,
): Promise<ResumeResult> {
  const toBase64 = typeof Uint8Array.prototype.toBase64;
  const fromBase64 = typeof Uint8Array.fromBase64;
  const { trace, ws, done } = play(config, resumeScenario(config));
  await done;
  if (ws !== undefined) trace.statuses.push(ws.status);
  return { toBase64, fromBase64, trace };
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
