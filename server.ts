/**
 * `WebSocketServer`: 4D's `4D.WebSocketServer` on `Deno.serve`. It upgrades
 * requests, keeps the registry of connections (`wss.connections`) and calls
 * your handlers with 4D's names and events: `onConnection` accepts (a
 * connection handler), refuses (`null`: 403) or answers (a `Response`). It
 * listens by itself when given a `port`, or serves through {@linkcode
 * WebSocketServer.prototype.fetch} inside any `Deno.serve` app, `deno serve`
 * or Deno Deploy. Every duration is in seconds; a wrong option throws a
 * `TypeError` or `RangeError` naming it.
 *
 * @example An echo server on a free port
 * ```ts
 * import { WebSocketServer } from "@ws4d/websocket/server";
 * import { assertEquals } from "@std/assert";
 *
 * await using wss = new WebSocketServer({
 *   onConnection: () => ({ onMessage: (ws, event) => ws.send(event.data) }),
 * }, { port: 0, hostname: "127.0.0.1" });
 * assertEquals(typeof wss.addr?.port, "number");
 * ```
 *
 * The client is [`@ws4d/websocket/client`](https://jsr.io/@ws4d/websocket/doc/client); `broadcast` across
 * processes, [`@ws4d/websocket/redis`](https://jsr.io/@ws4d/websocket/doc/redis); metrics,
 * [`@ws4d/websocket/otel`](https://jsr.io/@ws4d/websocket/doc/otel). In the package's `docs/` folder:
 * `options.md` (every option), `server.md` (callbacks, the HTTP answers of
 * `fetch`, error codes, shutting down), `frameworks.md` (Hono, oak, Fresh),
 * `reliability.md` and `limits-and-metrics.md`.
 *
 * @module
 */
import {
  openConnection,
  type WebSocketConnection,
  type WSConnectionHandler,
} from "./connection.ts";
import { checkServerHandler } from "./_handlers.ts";
import { encode } from "./_codec.ts";
import { callbackFailed, printErrors } from "./_errors.ts";
import {
  checkTimeout,
  type ResolvedServerOptions,
  resolveServerOptions,
  type WebSocketServerOptions,
} from "./_options.ts";
import type {
  WSBroadcastOptions,
  WSFetch,
  WSFetchInit,
  WSFetchRequest,
  WSServerHandler,
  WSServerHandlerInit,
} from "./_server_types.ts";
import { CallbackQueue } from "./_queue.ts";
import { ServerSessions } from "./_server_sessions.ts";
import { checkTopic } from "./_topics.ts";
import { Listener } from "./_listener.ts";
import {
  countErrors,
  createStats,
  snapshotStats,
  type WSClusterStats,
  type WSServerCounts,
  type WSServerStats,
} from "./_stats.ts";
import type {
  DataType,
  WSError,
  WSSendable,
  WSServerOpenEvent,
  WSServerTerminateEvent,
} from "./_types.ts";
export * from "./_server_exports.ts";

const OPEN: WSServerOpenEvent = Object.freeze({ type: "open" });
const TERMINATE: WSServerTerminateEvent = Object.freeze({ type: "terminate" });

/** The server's own callbacks: a failure is printed, no `onError` takes it. */
class ServerCallbacks<T> extends CallbackQueue<T> {
  override callbackFailed(name: string, thrown: unknown): void {
    printErrors(`WebSocketServer.${name}`, [
      callbackFailed(name, thrown).toEntry(),
    ]);
  }
}

/**
 * A WebSocket server with a registry of connections, as 4D's
 * `4D.WebSocketServer`.
 *
 * @example Mounted in your own `Deno.serve`, beside other routes
 * ```ts
 * import { WebSocketServer } from "@ws4d/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * await using wss = new WebSocketServer({
 *   onConnection: () => ({ onMessage: (ws, event) => ws.send(event.data) }),
 * }, { path: "/ws" });
 * await using server = Deno.serve(
 *   { port: 0, hostname: "127.0.0.1", onListen() {} },
 *   (request, info) =>
 *     wss.handles(request) ? wss.fetch(request, info) : new Response("home"),
 * );
 * const home = await fetch(`http://127.0.0.1:${server.addr.port}/`);
 * assertEquals(await home.text(), "home");
 * ```
 *
 * @example A typed handler: `this` and `event.data` are inferred
 * ```ts
 * import { WebSocketServer } from "@ws4d/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * await using wss = new WebSocketServer({
 *   onConnection: () => ({
 *     received: 0,
 *     onMessage(ws, event) {
 *       this.received++; // `this` is this handler
 *       ws.send(event.data.byteLength); // "blob": a Uint8Array
 *     },
 *   }),
 * }, { dataType: "blob" });
 * assertEquals(wss.dataType, "blob");
 * ```
 */
export class WebSocketServer<
  H = WSServerHandler,
  D extends DataType = "text",
  C extends WSConnectionHandler<D, C> = WSConnectionHandler<D>,
  X = unknown,
> {
  readonly #handler: WSServerHandlerInit<H, D, C, X>;
  readonly #options: ResolvedServerOptions;
  /** The server's own callbacks, one at a time. */
  readonly #queue: CallbackQueue<this>;
  readonly #listener: Listener;
  /** The registry, topics, upgrade, admission and fan-out of its sessions. */
  readonly #sessions: ServerSessions<WebSocketConnection<C, D, X>, X>;
  #terminating: Promise<void> | undefined;
  /** What the server counts (`stats`), on the paths it already takes. */
  readonly #stats: WSServerCounts = createStats();

  /**
   * Makes a server. With `options.port`, it listens by itself at once.
   *
   * @throws {TypeError} When `handler.onConnection` is not a function, a
   * callback's name differs from the right one only by case (`onconnection`),
   * or an option has the wrong type or is unknown.
   * @throws {RangeError} When a number option is out of range (a duration
   * past its maximum says the unit is seconds).
   */
  constructor(
    handler: WSServerHandlerInit<H, D, C, X>,
    options?: WebSocketServerOptions<D>,
  ) {
    checkServerHandler(handler, "Cannot create WebSocketServer");
    const resolved = resolveServerOptions(options);
    this.#handler = handler;
    this.#options = resolved;
    this.#sessions = new ServerSessions<WebSocketConnection<C, D, X>, X>(
      resolved,
      this.#stats,
      {
        report: (statusText, errors) => this.#report(statusText, errors),
        terminated: () => this.terminated,
        open: (session, request, protocol, context, topics) =>
          openConnection(session, {
            server: this,
            request,
            protocol,
            context,
          }, topics),
        onConnection: (request, context, responseHeaders) =>
          handler.onConnection(this, {
            type: "connection",
            request,
            context,
            responseHeaders,
          }),
      },
    );
    this.#queue = new ServerCallbacks<this>(handler);
    this.#queue.target = this;
    this.#listener = new Listener(
      resolved,
      this.fetch,
      () => void this.terminate(),
    );
    this.#sessions.listen();
    queueMicrotask(() => this.#queue.push("onOpen", OPEN));
  }

  /**
   * Makes a server, as 4D's `4D.WebSocketServer.new()`.
   *
   * @example
   * ```ts
   * import { WebSocketServer } from "@ws4d/websocket";
   * import { assert } from "@std/assert";
   *
   * const wss = WebSocketServer.new({ onConnection: () => null });
   * assert(wss instanceof WebSocketServer);
   * await wss.terminate();
   * ```
   */
  // deno-lint-ignore no-misused-new -- 4D's constructor is `.new()`.
  static new<
    H,
    D extends DataType = "text",
    C extends WSConnectionHandler<D, C> = WSConnectionHandler<D>,
    X = unknown,
  >(
    handler: WSServerHandlerInit<H, D, C, X>,
    options?: WebSocketServerOptions<D>,
  ): WebSocketServer<H, D, C, X> {
    return new WebSocketServer<H, D, C, X>(handler, options);
  }

  /** A fresh array of the `"Connected"` connections. */
  get connections(): WebSocketConnection<C, D, X>[] {
    return Array.from(
      this.#sessions.registry.connected,
      (session) => session.target,
    );
  }

  /** How received data is handed to `onMessage`. */
  get dataType(): DataType {
    return this.#options.dataType;
  }

  /** The handler given to the constructor, with its own type. */
  get handler(): H & WSServerHandler<D, C, X> {
    // `H` was inferred from this very object, its callbacks typed apart.
    return this.#handler as H & WSServerHandler<D, C, X>;
  }

  /** The `path` pattern, or `undefined` for every path. */
  get path(): string | undefined {
    return this.#options.path;
  }

  /**
   * What this instance of the server has counted since it started (the
   * whole server, across instances: {@linkcode WebSocketServer.clusterStats}):
   * connections, refusals by HTTP status, closes by code, messages and
   * bytes both ways, errors by
   * `ErrorCode` name, broadcasts, backplane failures and drops, limits hit,
   * and (with `resume`) the sessions waiting for their client, resumed, and
   * expired by reason. A frozen, JSON-friendly copy, made at each read.
   *
   * @example
   * ```ts
   * import { WebSocketServer } from "@ws4d/websocket";
   * import { assertEquals } from "@std/assert";
   *
   * await using wss = new WebSocketServer({ onConnection: () => null });
   * const refused = await wss.fetch(new Request("http://localhost/"));
   * await refused.body?.cancel();
   * assertEquals(wss.stats.refused, { "426": 1 });
   * assertEquals(wss.stats.connections, 0);
   * ```
   */
  get stats(): WSServerStats {
    return snapshotStats(this.#stats);
  }

  /**
   * The counts of the whole server: this instance's and those of every
   * other instance alive on its backplane (as each last said in its
   * heartbeat, at most 0.25 s old), each client once, a relayed session at
   * the instance that holds it. Each topic's subscribers are counted as
   * `topic:<name>` (the whole server's {@linkcode subscriberCount}, for at
   * most 240 topics of each instance). Without a backplane that tells its
   * instances (see `docs/cluster.md`), this instance's alone.
   *
   * @example
   * ```ts
   * import { WebSocketServer } from "@ws4d/websocket";
   * import { assertEquals } from "@std/assert";
   *
   * await using wss = new WebSocketServer({ onConnection: () => null });
   * assertEquals(wss.clusterStats.instances, 1);
   * assertEquals(wss.clusterStats.counts.connections, 0);
   * ```
   */
  get clusterStats(): WSClusterStats {
    return this.#sessions.clusterStats();
  }

  /** True once `terminate` has been called. */
  get terminated(): boolean {
    return this.#terminating !== undefined;
  }

  /** The listening address when it listens by itself, else `undefined`. */
  get addr(): Deno.NetAddr | undefined {
    return this.#listener.addr;
  }

  /**
   * True where the server's `path` matches the request, so that one
   * `Deno.serve` can route between several servers and other pages.
   */
  handles(request: Request | WSFetchRequest): boolean {
    const pattern = this.#sessions.pattern;
    return pattern === undefined || pattern.test(request.url);
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
   * import { assertEquals } from "@std/assert";
   *
   * const wss = new WebSocketServer({
   *   onConnection: () => ({
   *     onMessage: (ws, event) => ws.wss.broadcast(event.data, { except: ws }),
   *   }),
   * });
   * assertEquals(wss.broadcast({ news: "no one is connected yet" }), 0);
   * await wss.terminate();
   * ```
   */
  broadcast<M>(message: WSSendable<M>, options?: WSBroadcastOptions): number {
    return this.#sessions.broadcast(
      encode(message),
      options?.except as WebSocketConnection<C, D, X> | undefined,
    );
  }

  /**
   * Sends `message` to every subscriber of `topic` (docs/topics.md),
   * encoded once: on this instance (but `options.except`) and, through a
   * `backplane` that carries topics, on every other instance, in the order
   * this instance published.
   *
   * @returns How many local connections it was handed to.
   * @throws {TypeError} When `topic` is not a non-empty, well-formed
   * string, or for a value that cannot be sent, as `send` does.
   * @throws {RangeError} When `topic` is over 256 UTF-16 code units.
   *
   * @example A room
   * ```ts
   * import { WebSocketServer } from "@ws4d/websocket";
   * import { assertEquals } from "@std/assert";
   *
   * await using wss = new WebSocketServer({
   *   onConnection: () => ({
   *     onOpen: (ws) => void ws.subscribe("lobby"),
   *     onMessage: (ws, event) => ws.publish("lobby", event.data),
   *   }),
   * });
   * assertEquals(wss.publish("lobby", "no one is there yet"), 0);
   * assertEquals(wss.subscriberCount("lobby"), 0);
   * ```
   */
  publish<M>(
    topic: string,
    message: WSSendable<M>,
    options?: WSBroadcastOptions,
  ): number {
    return this.#sessions.publish(
      checkTopic(topic, "Cannot publish"),
      encode(message),
      options?.except as WebSocketConnection<C, D, X> | undefined,
    );
  }

  /**
   * How many connections of this instance subscribe to `topic`.
   *
   * @throws {TypeError} For a `topic` that is not one, as `publish`.
   * @throws {RangeError} For a `topic` too long.
   */
  subscriberCount(topic: string): number {
    return this.#sessions.topics.count(
      checkTopic(topic, "Cannot count subscribers"),
    );
  }

  /**
   * Each topic with subscribers on this instance, and how many (a fresh
   * map): the whole server's counts, across instances, sum these.
   */
  topicCounts(): Map<string, number> {
    return this.#sessions.topics.counts();
  }

  /**
   * The Deno request handler: `Deno.serve(wss.fetch)`, or `export default {
   * fetch: wss.fetch }` for `deno serve` and Deno Deploy. It is bound.
   *
   * A matching upgrade request is upgraded; a matching plain request gets
   * 426; another path 404; an `Origin` not allowed or a refusal 403; one
   * connection too many or a terminated server 503.
   *
   * `request` must be the runtime's own `Request` (typed by what is read,
   * for frameworks whose types name another). `info` is read by its shape,
   * for `request.remoteAddress`: the `remoteAddr.hostname` of what
   * `Deno.serve` gives; anything else (Hono's `c.env`) passes as it is.
   * `init.context` goes to `onConnection` as `event.context` and stays as
   * `conn.context`.
   */
  fetch: WSFetch<X> = (
    request: Request | WSFetchRequest,
    info?: unknown,
    init?: WSFetchInit<X>,
  ): Response | Promise<Response> => {
    return this.#sessions.answer(request, info, init);
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
   * import { assertEquals } from "@std/assert";
   *
   * const wss = new WebSocketServer({ onConnection: () => null }, { port: 0 });
   * const done = wss.terminate(1);
   * assertEquals(wss.terminate(), done);
   * await done;
   * assertEquals(wss.terminated, true);
   * ```
   */
  terminate(timeout?: number): Promise<void> {
    if (this.#terminating !== undefined) return this.#terminating;
    const seconds = timeout === undefined
      ? this.#options.closeTimeout
      : checkTimeout(timeout, "Cannot terminate WebSocketServer");
    this.#terminating = this.#shutdownNow(seconds * 1000);
    return this.#terminating;
  }

  /** Terminates the server, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.terminate();
  }

  #shutdownNow(ms: number): Promise<void> {
    return this.#sessions.shutdown(ms, {
      signals: this.#listener.signals,
      stopListening: () => this.#listener.stop(),
      terminated: () =>
        new Promise<void>((resolve) => {
          this.#queue.push("onTerminate", TERMINATE);
          this.#queue.after(resolve);
        }),
    });
  }

  /** Reports to the server's `onError`, or prints where there is none. */
  #report(statusText: string, errors: readonly WSError[]): void {
    countErrors(this.#stats, errors);
    if (typeof this.#handler.onError !== "function") {
      printErrors("WebSocketServer", errors);
      return;
    }
    this.#queue.push("onError", { type: "error", statusText, errors });
  }
}
