/**
 * `WebSocketServer`: 4D's `4D.WebSocketServer` on `Deno.serve`. It upgrades
 * requests, keeps the registry of connections and runs their lifecycle. It
 * listens by itself when given a `port`, or serves through {@linkcode
 * WebSocketServer.prototype.fetch} inside any `Deno.serve` app, `deno serve`
 * or Deno Deploy.
 *
 * @example An echo server on a free port
 * ```ts
 * import { WebSocketServer } from "@ws4d/websocket/server";
 * import assert from "node:assert/strict";
 *
 * await using wss = new WebSocketServer({
 *   onConnection: () => ({ onMessage: (ws, event) => ws.send(event.data) }),
 * }, { port: 0, hostname: "127.0.0.1" });
 * assert.equal(typeof wss.addr?.port, "number");
 * ```
 *
 * @module
 */
import { WebSocketConnection, type WSConnectionHandler } from "./connection.ts";
import type { Backplane, BackplaneData } from "./backplane.ts";
export {
  type Backplane,
  type BackplaneData,
  type BackplaneSink,
  BroadcastChannelBackplane,
} from "./backplane.ts";
import { encode, type Encoded } from "./_codec.ts";
import { ErrorCode, printErrors, toError, wsError } from "./_errors.ts";
import {
  checkNumber,
  DEFAULT_SIGNALS,
  resolveServerOptions,
} from "./_options.ts";
import type { ResolvedServerOptions } from "./_options.ts";
import {
  CallbackQueue,
  INTERNAL,
  type Session,
  type SessionSettings,
} from "./_session.ts";
import type {
  DataType,
  WSCallbackResult,
  WSError,
  WSRequest,
  WSServerErrorEvent,
  WSServerEvent,
} from "./_types.ts";

/** The event of `onConnection`: the request, read before the upgrade. */
export interface WSConnectionEvent {
  /** Always `"connection"`. */
  readonly type: "connection";
  /** The upgrade request. */
  readonly request: WSRequest;
}

/**
 * What `onConnection` returns: a handler accepts; `null`/`undefined` refuses
 * with 403; a `Response` (status 400–599) refuses with that answer, such as
 * 401 with `WWW-Authenticate` or 429 with `Retry-After`.
 */
export type WSConnectionResult =
  | WSConnectionHandler
  | Response
  | null
  | undefined
  | Promise<WSConnectionHandler | Response | null | undefined>;

/**
 * The server's handler (4D's `WSSHandler`). Callbacks are called as methods,
 * so `this` is the handler. `onConnection` is required.
 */
export interface WSServerHandler {
  /**
   * Accepts a connection by returning its handler, or refuses it: `null` or
   * `undefined` answers 403, a `Response` answers itself.
   */
  onConnection(
    server: WebSocketServer,
    event: WSConnectionEvent,
  ): WSConnectionResult;
  /** Once, when the server is ready to accept. */
  onOpen?(server: WebSocketServer, event: WSServerEvent): WSCallbackResult;
  /** Once, after the last connection's `onTerminate`. */
  onTerminate?(server: WebSocketServer, event: WSServerEvent): WSCallbackResult;
  /** An error of the server itself, or of a connection with no `onError`. */
  onError?(
    server: WebSocketServer,
    event: WSServerErrorEvent,
  ): WSCallbackResult;
}

/** The options of {@linkcode WebSocketServer}. */
export interface WebSocketServerOptions {
  /**
   * A URLPattern pathname pattern (`"/chat"`, `"/rooms/:room"`); only
   * matching requests are handled, and the groups go to `request.params`.
   * @default {undefined} every path
   */
  readonly path?: string | undefined;
  /**
   * How received data is handed to `onMessage`.
   * @default {"text"}
   */
  readonly dataType?: DataType | undefined;
  /**
   * Listen by itself on this port (0: any free one) with `Deno.serve`.
   * @default {undefined} not listening: serve through `fetch`
   */
  readonly port?: number | undefined;
  /**
   * The address to listen on, with `port`.
   * @default {"0.0.0.0"}
   */
  readonly hostname?: string | undefined;
  /** The TLS certificate (PEM), with `key` and `port`. */
  readonly cert?: string | undefined;
  /** The TLS private key (PEM), with `cert` and `port`. */
  readonly key?: string | undefined;
  /**
   * Subprotocols accepted, in the server's order of preference.
   * @default {[]}
   */
  readonly protocols?: ReadonlyArray<string> | undefined;
  /**
   * Seconds without a pong before a connection is closed as dead (0: never).
   * @default {30}
   */
  readonly idleTimeout?: number | undefined;
  /**
   * More connections than this are answered 503.
   * @default {Infinity}
   */
  readonly maxConnections?: number | undefined;
  /**
   * Bytes; a larger message is a fatal error, closed with 1009.
   * @default {16777216} 16 MiB
   */
  readonly maxMessageSize?: number | undefined;
  /**
   * Bytes waiting to go out on one connection before it is closed with 1008
   * as a slow consumer.
   * @default {16777216} 16 MiB
   */
  readonly maxBufferedAmount?: number | undefined;
  /**
   * Seconds to wait for the peer to answer a close that the server started
   * (`terminate`, a fatal error, a slow consumer). A peer still silent then
   * is given up: `onTerminate` runs with the code that was sent, and the
   * connection leaves the registry (Deno keeps its socket until the peer goes
   * or the listener shuts down).
   * @default {5}
   */
  readonly closeTimeout?: number | undefined;
  /**
   * Graceful shutdown: `true` (SIGINT and SIGTERM) or a list of signal
   * names. The first of them makes the server {@linkcode
   * WebSocketServer.prototype.terminate | terminate()} (clients get 1001);
   * the listeners are then removed, so a second signal ends the process as
   * usual. Works listening by itself, mounted in `Deno.serve` and under
   * `deno serve`.
   * @default {false} a library does not take the process's signals unless asked
   */
  readonly signals?: boolean | ReadonlyArray<string> | undefined;
  /**
   * `Origin` values accepted, compared exactly; a request with no `Origin`
   * is accepted.
   * @default {undefined} every origin
   */
  readonly allowedOrigins?: ReadonlyArray<string> | undefined;
  /**
   * Carries `broadcast` to the other instances of this server that share
   * the backplane's channel: {@linkcode BroadcastChannelBackplane} for the
   * workers of `deno serve --parallel`, `RedisBackplane` for processes and
   * machines. `connections` stays local.
   * @default {undefined} broadcast stays local
   */
  readonly backplane?: Backplane | undefined;
}

/** The options of {@linkcode WebSocketServer.prototype.broadcast}. */
export interface WSBroadcastOptions {
  /** A connection to skip (the chat's "all the other clients"). */
  readonly except?: WebSocketConnection | undefined;
}

const OPEN: WSServerEvent = Object.freeze({ type: "open" });
const TERMINATE: WSServerEvent = Object.freeze({ type: "terminate" });

function plain(status: number, text: string, headers?: HeadersInit): Response {
  return new Response(
    text,
    headers === undefined ? { status } : { status, headers },
  );
}

/** Sets an own property, even one named `__proto__`. */
function setOwn(target: Record<string, unknown>, name: string, value: unknown) {
  if (name === "__proto__") {
    Object.defineProperty(target, name, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    target[name] = value;
  }
}

/** Reads what `onConnection` sees; Deno closes the request at the upgrade. */
function readRequest(
  request: Request,
  info: Deno.ServeHandlerInfo | undefined,
  params: Record<string, string>,
): WSRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of request.headers) {
    // Only set-cookie comes apart when iterated; join it as the rest are.
    const before = Object.hasOwn(headers, name) ? headers[name] : undefined;
    setOwn(headers, name, before === undefined ? value : `${before}, ${value}`);
  }
  const url = new URL(request.url);
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of url.searchParams) {
    const before = Object.hasOwn(query, name) ? query[name] : undefined;
    if (before === undefined) setOwn(query, name, value);
    else if (typeof before === "string") setOwn(query, name, [before, value]);
    else before.push(value);
  }
  const addr = info?.remoteAddr as Partial<Deno.NetAddr> | undefined;
  return {
    headers,
    query,
    url: url.pathname + url.search,
    remoteAddress: typeof addr?.hostname === "string" ? addr.hostname : "",
    params,
  };
}

/** A nonce of 16 bytes in base64 (RFC 6455 §4.1), as every client sends. */
const KEY = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

/**
 * The answer to a malformed handshake, which Deno would upgrade (RFC 6455
 * §4.2.1-2): 400 for a missing or malformed key or a missing version, 426
 * naming version 13 for another version.
 */
function checkHandshake(headers: Headers): Response | undefined {
  const key = headers.get("sec-websocket-key");
  if (key === null || !KEY.test(key.trim())) {
    return plain(
      400,
      "Bad Request: Sec-WebSocket-Key must be 16 bytes in base64",
    );
  }
  const version = headers.get("sec-websocket-version");
  if (version === null) {
    return plain(400, "Bad Request: Sec-WebSocket-Version is missing");
  }
  if (version.trim() !== "13") {
    return plain(426, "Upgrade Required: Sec-WebSocket-Version must be 13", {
      "sec-websocket-version": "13",
    });
  }
  return undefined;
}

/**
 * Text stays text; bytes become a `Uint8Array` over the same memory, which
 * the backplane copies before `publish` returns.
 */
function toBackplaneData(data: Exclude<Encoded, Blob>): BackplaneData {
  if (typeof data === "string" || data instanceof Uint8Array) return data;
  return ArrayBuffer.isView(data)
    ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : new Uint8Array(data);
}

/** Bytes copied, text as it is. */
function copyOf(data: BackplaneData): BackplaneData {
  return typeof data === "string" ? data : data.slice();
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null &&
    typeof (value as PromiseLike<unknown>).then === "function";
}

/**
 * A WebSocket server with a registry of connections, as 4D's
 * `4D.WebSocketServer`.
 *
 * @example Mounted in your own `Deno.serve`, beside other routes
 * ```ts
 * import { WebSocketServer } from "@ws4d/websocket";
 * import assert from "node:assert/strict";
 *
 * const wss = new WebSocketServer({
 *   onConnection: () => ({ onMessage: (ws, event) => ws.send(event.data) }),
 * }, { path: "/ws" });
 * const handler = (request: Request, info: Deno.ServeHandlerInfo) =>
 *   wss.handles(request) ? wss.fetch(request, info) : new Response("home");
 * const response = await wss.fetch(new Request("http://localhost/ws"));
 * assert.equal(response.status, 426);
 * assert.equal(typeof handler, "function");
 * await wss.terminate();
 * ```
 */
export class WebSocketServer {
  readonly #handler: WSServerHandler;
  readonly #options: ResolvedServerOptions;
  readonly #pattern: URLPattern | undefined;
  readonly #queue: CallbackQueue;
  readonly #httpServer: Deno.HttpServer<Deno.NetAddr> | undefined;
  /** Every connection not yet terminated, with its session. */
  readonly #live = new Map<WebSocketConnection, Session>();
  /** The `"Connected"` ones, in the order they opened. */
  readonly #connected = new Map<WebSocketConnection, Session>();
  /** `onConnection` calls whose promise has not settled. */
  #pending = 0;
  #terminating: Promise<void> | undefined;
  /** Resolves when `#live` empties during `terminate`. */
  #drained: (() => void) | undefined;
  /** Broadcasts waiting for a `Blob` to be read, to keep their order. */
  #publishing: Promise<void> | undefined;
  /** The listener of `options.signals`, while it listens. */
  #onSignal: (() => void) | undefined;

  /**
   * Makes a server. With `options.port`, it listens by itself at once.
   *
   * @throws {TypeError} When `handler.onConnection` is not a function, or an
   * option has the wrong type or is unknown.
   * @throws {RangeError} When a number option is out of range.
   */
  constructor(handler: WSServerHandler, options?: WebSocketServerOptions) {
    if (
      typeof handler !== "object" || handler === null ||
      typeof (handler as Partial<WSServerHandler>).onConnection !== "function"
    ) {
      throw new TypeError(
        "Cannot create WebSocketServer: handler.onConnection must be a function",
      );
    }
    this.#options = resolveServerOptions(options);
    this.#handler = handler;
    this.#settings = {
      side: "server",
      dataType: this.#options.dataType,
      maxMessageSize: this.#options.maxMessageSize,
      maxBufferedAmount: this.#options.maxBufferedAmount,
      closeTimeout: this.#options.closeTimeout * 1000,
      fallback: (errors) => this.#report("connection error", errors),
      onConnected: (connection) =>
        this.#connected.set(
          connection as WebSocketConnection,
          this.#live.get(connection as WebSocketConnection) as Session,
        ),
      onLeave: (connection) =>
        this.#connected.delete(connection as WebSocketConnection),
      onDone: (connection) => {
        this.#live.delete(connection as WebSocketConnection);
        if (this.#live.size === 0) this.#drained?.();
      },
    };
    this.#pattern = this.#options.path === undefined
      ? undefined
      : new URLPattern({ pathname: this.#options.path });
    this.#queue = new CallbackQueue(this, handler, {
      callbackFailed(name, thrown) {
        const error = toError(thrown);
        printErrors(`WebSocketServer.${name}`, [
          wsError(
            ErrorCode.CallbackFailed,
            `Callback ${name} failed: ${error.message}`,
            error,
          ),
        ]);
      },
    });
    const { port, hostname, cert, key } = this.#options;
    if (port !== undefined) {
      const listen = { port, onListen() {} } as Deno.ServeTcpOptions;
      if (hostname !== undefined) listen.hostname = hostname;
      this.#httpServer = Deno.serve(
        cert !== undefined && key !== undefined
          ? { ...listen, cert, key } as
            & Deno.ServeTcpOptions
            & Deno.TlsCertifiedKeyPem
          : listen,
        this.fetch,
      );
    }
    this.#options.backplane?.start({
      deliver: (data) => this.#deliver(data),
      failed: (error) =>
        this.#report("backplane failed", [
          wsError(
            ErrorCode.BackplaneFailed,
            `The backplane failed, broadcasts stay local until it is back: ${error.message}`,
            error,
          ),
        ]),
      recovered: (dropped) =>
        this.#report("backplane recovered", [
          wsError(
            ErrorCode.BackplaneFailed,
            `The backplane is back: ${dropped} broadcast(s) did not reach the other instances while it was down`,
          ),
        ]),
    });
    this.#listenToSignals();
    queueMicrotask(() => this.#queue.push("onOpen", OPEN));
  }

  /**
   * Terminates on the first of `options.signals`. With `signals: true`, a
   * signal the platform cannot listen to (SIGTERM on Windows) is skipped; a
   * signal named in a list must be listened to.
   */
  #listenToSignals(): void {
    const signals = this.#options.signals;
    if (signals.length === 0) return;
    const onSignal = () => void this.terminate();
    this.#onSignal = onSignal;
    const strict = signals !== DEFAULT_SIGNALS;
    const listening: string[] = [];
    for (const signal of signals) {
      try {
        Deno.addSignalListener(signal as Deno.Signal, onSignal);
        listening.push(signal);
      } catch (cause) {
        if (!strict) continue;
        for (const done of listening) {
          Deno.removeSignalListener(done as Deno.Signal, onSignal);
        }
        throw new TypeError(
          `Cannot create WebSocketServer: options.signals cannot listen to ${signal} here (${
            toError(cause).message
          })`,
          { cause },
        );
      }
    }
  }

  #stopListeningToSignals(): void {
    const onSignal = this.#onSignal;
    if (onSignal === undefined) return;
    this.#onSignal = undefined;
    for (const signal of this.#options.signals) {
      try {
        Deno.removeSignalListener(signal as Deno.Signal, onSignal);
      } catch {
        // It was never added (skipped under `signals: true`).
      }
    }
  }

  /**
   * Makes a server, as 4D's `4D.WebSocketServer.new()`.
   *
   * @example
   * ```ts
   * import { WebSocketServer } from "@ws4d/websocket";
   * import assert from "node:assert/strict";
   *
   * const wss = WebSocketServer.new({ onConnection: () => null });
   * assert.ok(wss instanceof WebSocketServer);
   * await wss.terminate();
   * ```
   */
  // deno-lint-ignore no-misused-new -- 4D's constructor is `.new()`.
  static new(
    handler: WSServerHandler,
    options?: WebSocketServerOptions,
  ): WebSocketServer {
    return new WebSocketServer(handler, options);
  }

  /** A fresh array of the `"Connected"` connections. */
  get connections(): WebSocketConnection[] {
    return [...this.#connected.keys()];
  }

  /** How received data is handed to `onMessage`. */
  get dataType(): DataType {
    return this.#options.dataType;
  }

  /** The handler given to the constructor. */
  get handler(): WSServerHandler {
    return this.#handler;
  }

  /** The `path` pattern, or `undefined` for every path. */
  get path(): string | undefined {
    return this.#options.path;
  }

  /** True once `terminate` has been called. */
  get terminated(): boolean {
    return this.#terminating !== undefined;
  }

  /** The listening address when it listens by itself, else `undefined`. */
  get addr(): Deno.NetAddr | undefined {
    return this.#httpServer?.addr;
  }

  /**
   * True where the server's `path` matches the request, so that one
   * `Deno.serve` can route between several servers and other pages.
   */
  handles(request: Request): boolean {
    return this.#pattern === undefined || this.#pattern.test(request.url);
  }

  /**
   * Sends `message` to every open connection of this server, encoded once;
   * with a `backplane`, to every connection of the other instances too.
   *
   * @returns How many local connections it was handed to.
   * @throws {TypeError} For a value that cannot be sent, as `send` does.
   *
   * @example The chat's "resend to all the other clients"
   * ```ts
   * import { WebSocketServer } from "@ws4d/websocket";
   * import assert from "node:assert/strict";
   *
   * const wss = new WebSocketServer({
   *   onConnection: () => ({
   *     onMessage: (ws, event) => ws.wss.broadcast(event.data, { except: ws }),
   *   }),
   * });
   * assert.equal(wss.broadcast({ news: "no one is connected yet" }), 0);
   * await wss.terminate();
   * ```
   */
  broadcast(message: unknown, options?: WSBroadcastOptions): number {
    const data = encode(message);
    const except = options?.except;
    const skip = except === undefined ? undefined : this.#connected.get(except);
    let count = 0;
    for (const session of this.#connected.values()) {
      if (session !== skip && session.sendEncoded(data)) count++;
    }
    if (this.#options.backplane !== undefined) this.#publish(data);
    return count;
  }

  /** Hands a broadcast to the backplane, in order, as text or bytes. */
  #publish(data: Encoded): void {
    const backplane = this.#options.backplane as Backplane;
    if (this.#publishing === undefined && !(data instanceof Blob)) {
      backplane.publish(toBackplaneData(data));
      return;
    }
    // A Blob is read first; what follows it waits its turn, as a copy of
    // its bytes: the caller may reuse its buffer once broadcast returns.
    const ready: Promise<BackplaneData> = data instanceof Blob
      ? data.bytes()
      : Promise.resolve(copyOf(toBackplaneData(data)));
    const turn: Promise<void> = (this.#publishing ?? Promise.resolve())
      .then(() => ready)
      .then((bytes) => backplane.publish(bytes))
      .catch(() => {})
      .finally(() => {
        if (this.#publishing === turn) this.#publishing = undefined;
      });
    this.#publishing = turn;
  }

  /** A broadcast of another instance, to every local connection. */
  #deliver(data: BackplaneData): void {
    for (const session of this.#connected.values()) session.sendEncoded(data);
  }

  /**
   * The Deno request handler: `Deno.serve(wss.fetch)`, or `export default {
   * fetch: wss.fetch }` for `deno serve` and Deno Deploy. It is bound.
   *
   * A matching upgrade request is upgraded; a matching plain request gets
   * 426; another path 404; an `Origin` not allowed or a refusal 403; one
   * connection too many or a terminated server 503.
   */
  fetch = (
    request: Request,
    info?: Deno.ServeHandlerInfo,
  ): Response | Promise<Response> => {
    if (this.#terminating !== undefined) return plain(503, "Server terminated");
    let params: Record<string, string> = {};
    if (this.#pattern !== undefined) {
      const match = this.#pattern.exec(request.url);
      if (match === null) return plain(404, "Not Found");
      params = {};
      for (const [name, value] of Object.entries(match.pathname.groups)) {
        if (value !== undefined) setOwn(params, name, value);
      }
    }
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return plain(426, "Upgrade Required", { upgrade: "websocket" });
    }
    const malformed = checkHandshake(request.headers);
    if (malformed !== undefined) return malformed;
    const origins = this.#options.allowedOrigins;
    const origin = request.headers.get("origin");
    if (origins !== undefined && origin !== null && !origins.has(origin)) {
      return plain(403, "Forbidden");
    }
    if (this.#live.size + this.#pending >= this.#options.maxConnections) {
      return plain(503, "Too Many Connections");
    }
    const wsRequest = readRequest(request, info, params);
    let result: unknown;
    try {
      result = this.#handler.onConnection(this, {
        type: "connection",
        request: wsRequest,
      });
    } catch (thrown) {
      return this.#refusedByError(thrown);
    }
    if (!isThenable(result)) return this.#accept(request, wsRequest, result);
    this.#pending++;
    return Promise.resolve(result).then(
      (handler) => {
        this.#pending--;
        return this.#accept(request, wsRequest, handler);
      },
      (thrown) => {
        this.#pending--;
        return this.#refusedByError(thrown);
      },
    );
  };

  /**
   * Stops accepting, closes every connection with 1001 and stops listening,
   * as 4D's `terminate(timeout)` (4D 20 R8 and later):
   *
   * - no `timeout`: waits for each close handshake, up to `closeTimeout`,
   *   then cuts what is left;
   * - `timeout` > 0: cuts what is left after `timeout` seconds;
   * - `timeout` = 0: waits for nothing: every connection is cut at once and
   *   its `onTerminate` runs with 1006 (Deno's engine still sends a close
   *   frame, 1001, as it lets the socket go).
   *
   * Cutting, listening by itself, shuts the listener down; serving through
   * `fetch`, the connection is given up: it leaves the registry and its
   * `onTerminate` runs with 1006. Each connection's `onTerminate` runs, then
   * the server's, once.
   *
   * @param timeout Seconds to wait for the close handshakes.
   * @returns The same promise at every call.
   * @throws {TypeError} When `timeout` is not a number; nothing terminates.
   * @throws {RangeError} When `timeout` is negative or not finite.
   *
   * @example 4D's form: seconds, `0` for at once
   * ```ts
   * import { WebSocketServer } from "@ws4d/websocket";
   * import assert from "node:assert/strict";
   *
   * const wss = new WebSocketServer({ onConnection: () => null }, { port: 0 });
   * const done = wss.terminate(1);
   * assert.equal(wss.terminate(), done);
   * await done;
   * assert.equal(wss.terminated, true);
   * ```
   */
  terminate(timeout?: number): Promise<void> {
    if (this.#terminating !== undefined) return this.#terminating;
    const seconds = timeout === undefined
      ? this.#options.closeTimeout
      : checkNumber(timeout, "timeout", "Cannot terminate WebSocketServer", {
        min: 0,
      });
    this.#terminating = this.#shutdown(seconds * 1000);
    return this.#terminating;
  }

  /** Terminates the server, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.terminate();
  }

  async #shutdown(ms: number): Promise<void> {
    this.#stopListeningToSignals();
    const backplane = this.#options.backplane?.close().catch(() => {});
    for (const session of this.#live.values()) {
      session.close(1001, "server terminated", Infinity);
    }
    if (this.#live.size > 0) {
      const drained = new Promise<void>((resolve) => this.#drained = resolve);
      if (ms > 0) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, ms);
        });
        await Promise.race([drained, late]);
        clearTimeout(timer);
      }
      // What is left never answered: it terminates with 1006 (a cut, not a
      // close), and only the server's shutdown can cut its socket.
      for (const session of this.#live.values()) session.abandon();
      await this.#stopListening();
      await drained;
    }
    await this.#stopListening();
    await this.#publishing;
    await backplane;
    await new Promise<void>((resolve) => {
      this.#queue.push("onTerminate", TERMINATE);
      this.#queue.after(resolve);
    });
  }

  #stopped: Promise<void> | undefined;
  #stopListening(): Promise<void> {
    return this.#stopped ??= this.#httpServer === undefined
      ? Promise.resolve()
      : this.#httpServer.shutdown().catch(() => {});
  }

  /** Reports to the server's `onError`, or prints where there is none. */
  #report(statusText: string, errors: readonly WSError[]): void {
    if (typeof this.#handler.onError !== "function") {
      printErrors("WebSocketServer", errors);
      return;
    }
    this.#queue.push("onError", { type: "error", statusText, errors });
  }

  /**
   * `onConnection`'s own answer: a refusal is a status of 400–599; any
   * other is answered 500 and reported, for no socket can follow it.
   */
  #refusedWith(response: Response): Response {
    if (response.status >= 400 && response.status <= 599) return response;
    this.#report("invalid connection handler", [
      wsError(
        ErrorCode.InvalidHandler,
        `Cannot refuse connection: the Response onConnection returned must have a status of 400-599, current value is ${response.status}`,
      ),
    ]);
    return plain(500, "Internal Server Error");
  }

  #refusedByError(thrown: unknown): Response {
    const error = toError(thrown);
    this.#report("onConnection failed", [
      wsError(
        ErrorCode.ConnectionRefused,
        `Callback onConnection failed: ${error.message}`,
        error,
      ),
    ]);
    return plain(500, "Internal Server Error");
  }

  #accept(request: Request, wsRequest: WSRequest, handler: unknown): Response {
    if (handler === null || handler === undefined) {
      return plain(403, "Forbidden");
    }
    if (handler instanceof Response) return this.#refusedWith(handler);
    if (
      typeof handler !== "object" ||
      typeof (handler as Partial<WSConnectionHandler>).onMessage !== "function"
    ) {
      this.#report("invalid connection handler", [
        wsError(
          ErrorCode.InvalidHandler,
          "Cannot accept connection: the handler onConnection returned has no onMessage method",
        ),
      ]);
      return plain(403, "Forbidden");
    }
    if (this.#terminating !== undefined) return plain(503, "Server terminated");
    const protocol = this.#chooseProtocol(
      request.headers.get("sec-websocket-protocol"),
    );
    let upgraded: { socket: WebSocket; response: Response };
    try {
      upgraded = Deno.upgradeWebSocket(request, {
        idleTimeout: this.#options.idleTimeout,
      });
    } catch (thrown) {
      return plain(400, `Bad Request: ${toError(thrown).message}`);
    }
    if (protocol !== "") {
      upgraded.response.headers.set("sec-websocket-protocol", protocol);
    }
    const connection = new WebSocketConnection({
      token: INTERNAL,
      handler,
      server: this,
      request: wsRequest,
      protocol,
      settings: this.#settings,
      bind: this.#bind,
    });
    (this.#live.get(connection) as Session).attach(upgraded.socket);
    return upgraded.response;
  }

  /** What every connection's session shares: one object per server. */
  readonly #settings: SessionSettings;

  /** Registers a new connection's session (called by its constructor). */
  readonly #bind = (connection: unknown, session: Session): void => {
    this.#live.set(connection as WebSocketConnection, session);
  };

  /** The first of the server's protocols that the client offers, or "". */
  #chooseProtocol(offer: string | null): string {
    const protocols = this.#options.protocols;
    if (offer === null || protocols.length === 0) return "";
    const offered = offer.split(",").map((item) => item.trim());
    for (const protocol of protocols) {
      if (offered.includes(protocol)) return protocol;
    }
    return "";
  }
}
