// This module is browser compatible.
/**
 * `WebSocket`: 4D's `4D.WebSocket` client over the runtime's own WebSocket.
 * It uses no `Deno.*` API, so it runs in Deno, browsers, Node 22+ and Bun,
 * with 4D's sequence on each: `onOpen` once, `onMessage`, at most one
 * `onError`, `onTerminate` exactly once, last. Beyond 4D, `reconnect`
 * connects again after a break, and against a server with `resume` the
 * session is resumed: every message exactly once, in order, both ways.
 *
 * @example Talking to a 4D-style server
 * ```ts
 * import { WebSocket } from "@ws4d/websocket/client";
 * import { WebSocketServer } from "@ws4d/websocket/server";
 * import { assertEquals } from "@std/assert";
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
 * assertEquals(await echoed.promise, { hello: "4D" });
 * ws.terminate();
 * ```
 *
 * In Node and Bun, install it with `npx jsr add @ws4d/websocket` or
 * `bunx jsr add @ws4d/websocket`. The server is
 * [`@ws4d/websocket/server`](https://jsr.io/@ws4d/websocket/doc/server). In the package's `docs/` folder:
 * `client.md` (the sequence, errors, tested runtimes), `options.md` (every
 * setting) and `reconnect-and-resume.md`.
 *
 * @module
 */
import { checkCloseCode, checkReason, checkUrl } from "./_checks.ts";
import { Dialer, type SocketConstructor } from "./_dialer.ts";
import { printErrors, toError } from "./_errors.ts";
import type { Link } from "./_link.ts";
import { resolveClientSettings } from "./_options.ts";
import { Backoff, Reconnector } from "./_reconnect.ts";
import { Resumption } from "./_resume.ts";
import { RESUME_PROTOCOL } from "./_resume_handshake.ts";
import { ClientSession } from "./_client_session.ts";
import type {
  DataType,
  WSCallbackResult,
  WSClientErrorEvent,
  WSClientOpenEvent,
  WSClientReconnectingEvent,
  WSClientStatus,
  WSClientTerminateEvent,
  WSData,
  WSMessageEvent,
  WSReconnectOptions,
  WSSendable,
} from "./_types.ts";
export type {
  DataType,
  WSCallbackResult,
  WSClientErrorEvent,
  WSClientOpenEvent,
  WSClientReconnectingEvent,
  WSClientStatus,
  WSClientTerminateEvent,
  WSData,
  WSError,
  WSErrorEvent,
  WSMessageEvent,
  WSObjectOf,
  WSOpenEvent,
  WSReconnectOptions,
  WSSendable,
  WSStatus,
} from "./_types.ts";
export { objectOf } from "./_object_of.ts";
export {
  ErrorCode,
  type ErrorCodeName,
  type ErrorCodeValue,
} from "./_errors.ts";

/**
 * The runtime's WebSocket, captured before our class shadows the name;
 * `undefined` where the runtime has none (Node before 22).
 */
const NativeWebSocket: SocketConstructor | undefined =
  (globalThis as { WebSocket?: SocketConstructor }).WebSocket;

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
 * called as methods (`this` is the handler), and its settings.
 *
 * `D` is its `dataType`, which types `event.data`; `H` is the handler's own
 * type, which types `ws.handler` (both are inferred from `new WebSocket(url,
 * handler)`; a class writes `implements WSClientHandler<"text", MyHandler>`).
 */
export interface WSClientHandler<
  D extends DataType = DataType,
  H = unknown,
> {
  /**
   * When the connection is open: once, or at each open with `reconnect`
   * (`event.reconnected` tells the first from the others).
   */
  onOpen?(ws: WebSocket<H, D>, event: WSClientOpenEvent): WSCallbackResult;
  /** Each message, in order, decoded by `dataType`. */
  onMessage?(
    ws: WebSocket<H, D>,
    event: WSMessageEvent<WSData<D>>,
  ): WSCallbackResult;
  /** A fatal error, at most once: the processing stops. */
  onError?(ws: WebSocket<H, D>, event: WSClientErrorEvent): WSCallbackResult;
  /** Exactly once, last, with a valid close code. */
  onTerminate?(
    ws: WebSocket<H, D>,
    event: WSClientTerminateEvent,
  ): WSCallbackResult;
  /**
   * With `reconnect`: the connection ended or could not be made, and the
   * client connects again in `event.delay` seconds (`status` is
   * `"Connecting"` until then).
   */
  onReconnecting?(
    ws: WebSocket<H, D>,
    event: WSClientReconnectingEvent,
  ): WSCallbackResult;
  /**
   * How received data is handed to `onMessage`.
   * @default {"text"}
   */
  readonly dataType?: D | undefined;
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
  /**
   * Connect again after a break, a restart of the server or a connection
   * that could not be made (beyond 4D): `true` for the defaults, or the
   * delays (seconds) and `maxRetries`. Off by default.
   * @default {false}
   */
  readonly reconnect?: boolean | WSReconnectOptions | undefined;
  /**
   * Whether to offer resuming (beyond 4D; docs/reconnect-and-resume.md): with
   * `reconnect` and no `protocols`, a client offers it on every runtime,
   * in a way that a server without `resume` ignores. `false` never offers
   * it: the connections stay plain WebSockets on the wire.
   * @default {true}
   */
  readonly resume?: boolean | undefined;
}

/**
 * The user's own members of a handler `H` (its state, its helpers): the
 * callbacks and settings are typed by {@linkcode WSClientHandler}, and `H`
 * is inferred from the rest, so that `this` and `ws.handler` are `H`. A
 * member named as a callback or a setting in another case (`onmessage`,
 * the DOM's) is `never`: an error where it is written, as it is a
 * `TypeError` at run time.
 */
export type WSClientHandlerOwn<H> = {
  [K in keyof H]: K extends keyof WSClientHandler ? unknown
    : Lowercase<K & string> extends Lowercase<keyof WSClientHandler> ? never
    : H[K];
};

/** The handler a client is given: its callbacks typed, `this` its own type. */
export type WSClientHandlerInit<D extends DataType, H> =
  & WSClientHandler<D, H>
  & ThisType<H & WSClientHandler<D, H>>
  & WSClientHandlerOwn<H>;

let nextId = 1;
const ACTION = "Cannot create WebSocket";

/**
 * A WebSocket client, as 4D's `4D.WebSocket`: callbacks instead of events, a
 * guaranteed sequence (`onOpen` once, messages, at most one `onError`,
 * `onTerminate` exactly once and last), and a queue while connecting.
 *
 * @example Sending before the connection is open
 * ```ts
 * import { WebSocket } from "@ws4d/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * const done = Promise.withResolvers<number>();
 * const ws = new WebSocket("ws://127.0.0.1:9", {
 *   onTerminate: (_ws, event) => done.resolve(event.code),
 *   onError() {},
 * });
 * assertEquals(ws.status, "Connecting");
 * ws.send("queued until open");
 * assertEquals(await done.promise, 1006);
 * ```
 */
export class WebSocket<H = unknown, D extends DataType = "text"> {
  readonly #session: ClientSession<WebSocket<H, D>>;
  readonly #url: string;
  readonly #dataType: DataType;
  readonly #id: number;

  /**
   * Opens a connection to `url` (`ws://` or `wss://`).
   *
   * @throws {SyntaxError} When `url` is not a `ws:`/`wss:` URL, or a
   * subprotocol is not valid.
   * @throws {TypeError} When a handler setting has the wrong type, headers
   * are given where the runtime cannot send them, or the runtime has no
   * global `WebSocket`.
   */
  constructor(url: string, handler?: WSClientHandlerInit<D, H>) {
    this.#url = checkUrl(url, ACTION);
    const settings = resolveClientSettings(handler);
    if (settings.headers !== undefined && !canSendHeaders()) {
      throw new TypeError(
        `${ACTION}: handler.headers cannot be sent, this runtime's WebSocket does not send handshake headers (a browser)`,
      );
    }
    if (typeof NativeWebSocket !== "function") {
      throw new TypeError(
        `${ACTION}: this runtime has no global WebSocket; Deno, Node 22 and later, Bun and browsers have one`,
      );
    }
    this.#dataType = settings.dataType;
    // Resuming is offered with reconnect and no subprotocol of our own.
    const resume = settings.reconnect !== null &&
        settings.protocols.length === 0 && settings.resume !== false
      ? Resumption.client()
      : null;
    const dialer = new Dialer(
      NativeWebSocket,
      url,
      settings.protocols,
      settings.headers,
      resume,
    );
    let link: Link;
    try {
      link = dialer.open();
    } catch (cause) {
      throw new SyntaxError(`${ACTION}: ${toError(cause).message}`, { cause });
    }
    this.#id = nextId++;
    this.#session = new ClientSession<WebSocket<H, D>>(
      handler ?? {},
      {
        side: "client",
        dataType: settings.dataType,
        maxMessageSize: Infinity,
        maxBufferedAmount: Infinity,
        url,
        owner: { fallback: (errors) => printErrors("WebSocket", errors) },
      },
      {
        maxQueued: settings.maxQueued,
        ...settings.reconnect === null ? {} : {
          reconnect: {
            policy: new Reconnector(new Backoff(settings.reconnect)),
            dialer,
          },
        },
      },
      resume,
    );
    this.#session.target = this;
    this.#session.attach(link);
  }

  /**
   * Opens a connection, as 4D's `4D.WebSocket.new()`.
   *
   * @example
   * ```ts
   * import { WebSocket } from "@ws4d/websocket";
   * import { assertThrows } from "@std/assert";
   *
   * assertThrows(() => WebSocket.new("http://example.com"), SyntaxError);
   * ```
   */
  // deno-lint-ignore no-misused-new -- 4D's constructor is `.new()`.
  static new<H = unknown, D extends DataType = "text">(
    url: string,
    handler?: WSClientHandlerInit<D, H>,
  ): WebSocket<H, D> {
    return new WebSocket(url, handler);
  }

  /** How received data is handed to `onMessage`. */
  get dataType(): DataType {
    return this.#dataType;
  }

  /** The handler given to the constructor, with its own type. */
  get handler(): H & WSClientHandler<DataType, H> {
    return this.#session.handler as H & WSClientHandler<DataType, H>;
  }

  /** An integer unique in the process. */
  get id(): number {
    return this.#id;
  }

  /** `"Connecting"`, `"Connected"`, `"Closing"` or `"Closed"`. */
  get status(): WSClientStatus {
    return this.#session.status;
  }

  /** The URL, as given. */
  get url(): string {
    return this.#url;
  }

  /** The subprotocol the server chose, or `""`. */
  get protocol(): string {
    const protocol = this.#session.link?.protocol ?? "";
    // Resuming's own subprotocol never shows (SPEC.md, "Resuming").
    return protocol === RESUME_PROTOCOL ? "" : protocol;
  }

  /** Bytes passed to `send` that have not gone out yet. */
  get bufferedAmount(): number {
    return this.#session.link?.bufferedAmount ?? 0;
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
  send<M>(message: WSSendable<M>): boolean {
    return this.#session.send(message);
  }

  /**
   * Closes the connection with `code` (1000 by default, or 3000-4999) and
   * `reason`; between two tries of `reconnect`, ends at once (no further
   * try). Calling it again does nothing.
   *
   * @throws {TypeError} When `code` is not a number or `reason` not a string.
   * @throws {RangeError} When `code` is not 1000 or 3000-4999, or `reason`
   * is over 123 bytes; nothing closes then.
   */
  terminate(code?: number, reason?: string): void {
    const action = "Cannot terminate WebSocket";
    const checked = checkCloseCode(code, action, true);
    this.#session.close(checked ?? 1000, checkReason(reason, "reason", action));
  }
}

export { WebSocket as WebSocketClient };
