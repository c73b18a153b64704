// This module is browser compatible.
/**
 * `WebSocket`: 4D's `4D.WebSocket` client over the runtime's own WebSocket.
 * It uses no `Deno.*` API, so it runs in Deno, browsers, Node 22+ and Bun.
 *
 * @example Talking to a 4D-style server
 * ```ts
 * import { WebSocket } from "@ws4d/websocket/client";
 * import { WebSocketServer } from "@ws4d/websocket/server";
 * import assert from "node:assert/strict";
 *
 * await using wss = new WebSocketServer({
 *   onConnection: () => ({ onMessage: (ws, event) => ws.send(event.data) }),
 * }, { port: 0, hostname: "127.0.0.1" });
 * const echoed = Promise.withResolvers<unknown>();
 * const ws = new WebSocket(`ws://127.0.0.1:${wss.addr?.port}`, {
 *   dataType: "object",
 *   onMessage: (_ws, event) => echoed.resolve(event.data),
 * });
 * ws.send({ hello: "4D" });
 * assert.deepEqual(await echoed.promise, { hello: "4D" });
 * ws.terminate();
 * ```
 *
 * @module
 */
import { checkDataType, checkReason, describe } from "./_codec.ts";
import { checkNumber } from "./_options.ts";
import { printErrors } from "./_errors.ts";
import { Session } from "./_session.ts";
import type {
  DataType,
  WSCallbackResult,
  WSClientTerminateEvent,
  WSErrorEvent,
  WSMessageEvent,
  WSOpenEvent,
  WSStatus,
} from "./_types.ts";

/**
 * The runtime's WebSocket, captured before our class shadows the name;
 * `undefined` where the runtime has none (Node before 22).
 */
const NativeWebSocket: typeof globalThis.WebSocket | undefined =
  (globalThis as { WebSocket?: typeof globalThis.WebSocket }).WebSocket;

/**
 * Deno, Node (undici) and Bun accept `new WebSocket(url, { headers })`; a
 * browser reads a second argument as subprotocols. Read from globals only.
 */
function canSendHeaders(): boolean {
  const runtime = globalThis as {
    Deno?: { version?: unknown };
    Bun?: unknown;
    process?: { versions?: { node?: unknown } };
  };
  return typeof runtime.Deno?.version === "object" ||
    runtime.Bun !== undefined ||
    typeof runtime.process?.versions?.node === "string";
}

/** Handshake headers: a repeated name takes an array of values. */
export type WSHeaders = Readonly<Record<string, string | readonly string[]>>;

/**
 * The client's handler (4D's `connectionHandler`): callbacks, all optional,
 * called as methods (`this` is the handler), and three settings.
 */
export interface WSClientHandler {
  /** Once, when the connection is open. */
  onOpen?(ws: WebSocket, event: WSOpenEvent): WSCallbackResult;
  /** Each message, in order, decoded by `dataType`. */
  onMessage?(ws: WebSocket, event: WSMessageEvent): WSCallbackResult;
  /** A fatal error, at most once: the processing stops. */
  onError?(ws: WebSocket, event: WSErrorEvent): WSCallbackResult;
  /** Exactly once, last, with a valid close code. */
  onTerminate?(ws: WebSocket, event: WSClientTerminateEvent): WSCallbackResult;
  /**
   * How received data is handed to `onMessage`.
   * @default {"text"}
   */
  readonly dataType?: DataType | undefined;
  /**
   * Headers sent with the handshake (not possible in a browser).
   * @default {undefined}
   */
  readonly headers?: WSHeaders | undefined;
  /**
   * Subprotocols to offer, in order of preference (beyond 4D).
   * @default {undefined}
   */
  readonly protocols?: string | ReadonlyArray<string> | undefined;
  /**
   * Messages that may wait while connecting; past it, `send` returns
   * `false` and drops the message.
   * @default {1000}
   */
  readonly maxQueued?: number | undefined;
}

let nextId = 1;
const ACTION = "Cannot create WebSocket";

function checkUrl(url: unknown): string {
  if (typeof url !== "string") {
    throw new TypeError(
      `${ACTION}: url must be a string, current value is ${describe(url)}`,
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SyntaxError(
      `${ACTION}: url is not a URL, current value is ${describe(url)}`,
    );
  }
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new SyntaxError(
      `${ACTION}: url must start with ws:// or wss://, current value is ${
        describe(url)
      }`,
    );
  }
  if (parsed.hash !== "") {
    throw new SyntaxError(
      `${ACTION}: url must not have a fragment, current value is ${
        describe(url)
      }`,
    );
  }
  return url;
}

function checkHeaders(headers: unknown): [string, string][] | undefined {
  if (headers === undefined) return undefined;
  if (
    typeof headers !== "object" || headers === null || Array.isArray(headers)
  ) {
    throw new TypeError(
      `${ACTION}: handler.headers must be an object, current value is ${
        describe(headers)
      }`,
    );
  }
  const pairs: [string, string][] = [];
  for (const [name, value] of Object.entries(headers)) {
    const values: unknown[] = Array.isArray(value) ? value : [value];
    for (const item of values) {
      if (typeof item !== "string") {
        throw new TypeError(
          `${ACTION}: handler.headers["${name}"] must be a string or an array of strings, current value is ${
            describe(value)
          }`,
        );
      }
      pairs.push([name, item]);
    }
  }
  if (pairs.length > 0 && !canSendHeaders()) {
    throw new TypeError(
      `${ACTION}: handler.headers cannot be sent, this runtime's WebSocket does not send handshake headers (a browser)`,
    );
  }
  return pairs.length > 0 ? pairs : undefined;
}

function checkProtocols(protocols: unknown): string[] {
  if (protocols === undefined) return [];
  const list: unknown[] = Array.isArray(protocols) ? protocols : [protocols];
  if (list.some((item) => typeof item !== "string")) {
    throw new TypeError(
      `${ACTION}: handler.protocols must be a string or an array of strings, current value is ${
        describe(protocols)
      }`,
    );
  }
  return list as string[];
}

/**
 * A WebSocket client, as 4D's `4D.WebSocket`: callbacks instead of events, a
 * guaranteed sequence (`onOpen` once, messages, at most one `onError`,
 * `onTerminate` exactly once and last), and a queue while connecting.
 *
 * @example Sending before the connection is open
 * ```ts
 * import { WebSocket } from "@ws4d/websocket";
 * import assert from "node:assert/strict";
 *
 * const done = Promise.withResolvers<number>();
 * const ws = new WebSocket("ws://127.0.0.1:9", {
 *   onTerminate: (_ws, event) => done.resolve(event.code),
 *   onError() {},
 * });
 * assert.equal(ws.status, "Connecting");
 * ws.send("queued until open");
 * assert.equal(await done.promise, 1006);
 * ```
 */
export class WebSocket {
  readonly #session: Session;
  readonly #handler: WSClientHandler;
  readonly #url: string;
  readonly #dataType: DataType;
  readonly #id: number;

  /**
   * Opens a connection to `url` (`ws://` or `wss://`).
   *
   * @throws {SyntaxError} When `url` is not a `ws:`/`wss:` URL, or a
   * subprotocol is not valid.
   * @throws {TypeError} When a handler setting has the wrong type, or headers
   * are given where the runtime cannot send them.
   */
  constructor(url: string, handler?: WSClientHandler) {
    this.#url = checkUrl(url);
    if (handler === undefined) handler = {};
    if (typeof handler !== "object" || handler === null) {
      throw new TypeError(
        `${ACTION}: handler must be an object, current value is ${
          describe(handler)
        }`,
      );
    }
    this.#handler = handler;
    this.#dataType = handler.dataType === undefined
      ? "text"
      : checkDataType(handler.dataType, "handler.dataType");
    const headers = checkHeaders(handler.headers);
    const protocols = checkProtocols(handler.protocols);
    const maxQueued = handler.maxQueued === undefined
      ? 1000
      : checkNumber(handler.maxQueued, "handler.maxQueued", ACTION, {
        min: 0,
        integer: true,
        infinite: true,
      });
    if (typeof NativeWebSocket !== "function") {
      throw new TypeError(
        `${ACTION}: this runtime has no global WebSocket; Deno, Node 22 and later, Bun and browsers have one`,
      );
    }
    let socket: globalThis.WebSocket;
    try {
      socket = headers === undefined
        ? new NativeWebSocket(url, protocols)
        : new NativeWebSocket(
          url,
          { headers, protocols } as unknown as string[],
        );
    } catch (cause) {
      throw new SyntaxError(
        `${ACTION}: ${(cause as Error).message}`,
        { cause },
      );
    }
    this.#id = nextId++;
    this.#session = new Session(this, handler, {
      side: "client",
      dataType: this.#dataType,
      maxMessageSize: Infinity,
      maxBufferedAmount: Infinity,
      maxQueued,
      url,
      fallback: (errors) => printErrors("WebSocket", errors),
    });
    this.#session.attach(socket);
  }

  /**
   * Opens a connection, as 4D's `4D.WebSocket.new()`.
   *
   * @example
   * ```ts
   * import { WebSocket } from "@ws4d/websocket";
   * import assert from "node:assert/strict";
   *
   * assert.throws(() => WebSocket.new("http://example.com"), SyntaxError);
   * ```
   */
  // deno-lint-ignore no-misused-new -- 4D's constructor is `.new()`.
  static new(url: string, handler?: WSClientHandler): WebSocket {
    return new WebSocket(url, handler);
  }

  /** How received data is handed to `onMessage`. */
  get dataType(): DataType {
    return this.#dataType;
  }

  /** The handler given to the constructor. */
  get handler(): WSClientHandler {
    return this.#handler;
  }

  /** An integer unique in the process. */
  get id(): number {
    return this.#id;
  }

  /** `"Connecting"`, `"Connected"`, `"Closing"` or `"Closed"`. */
  get status(): WSStatus {
    return this.#session.status;
  }

  /** The URL, as given. */
  get url(): string {
    return this.#url;
  }

  /** The subprotocol the server chose, or `""`. */
  get protocol(): string {
    return this.#session.socket?.protocol ?? "";
  }

  /** Bytes passed to `send` that have not gone out yet. */
  get bufferedAmount(): number {
    return this.#session.socket?.bufferedAmount ?? 0;
  }

  /**
   * Sends `message`: a string as a text frame, bytes or a `Blob` as a binary
   * frame, any other JSON value as its JSON text. While connecting, messages
   * wait in order (up to `handler.maxQueued`) and go out on open.
   *
   * @returns `true` when the message was handed to the socket or queued;
   * `false`, sending nothing and throwing nothing, when the client is
   * `"Closing"` or `"Closed"` (after `terminate`) or its queue is full.
   * @throws {TypeError} For a value that cannot be sent, whatever the state.
   */
  send(message: unknown): boolean {
    return this.#session.send(message);
  }

  /**
   * Closes the connection with `code` (1000 by default, or 3000–4999) and
   * `reason`. Calling it again does nothing.
   *
   * @throws {TypeError} When `code` is not a number or `reason` not a string.
   * @throws {RangeError} When `code` is not 1000 or 3000–4999, or `reason`
   * is over 123 bytes; nothing closes then.
   */
  terminate(code?: number, reason?: string): void {
    const action = "Cannot terminate WebSocket";
    if (code !== undefined) {
      if (typeof code !== "number") {
        throw new TypeError(
          `${action}: code must be a number, current value is ${
            describe(code)
          }`,
        );
      }
      if (
        code !== 1000 &&
        !(Number.isInteger(code) && code >= 3000 && code <= 4999)
      ) {
        throw new RangeError(
          `${action}: code must be 1000 or 3000-4999, current value is ${code}`,
        );
      }
    }
    this.#session.close(code ?? 1000, checkReason(reason, action));
  }
}

export { WebSocket as WebSocketClient };
