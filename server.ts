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
 * import { assertEquals } from "@std/assert";
 *
 * await using wss = new WebSocketServer({
 *   onConnection: () => ({ onMessage: (ws, event) => ws.send(event.data) }),
 * }, { port: 0, hostname: "127.0.0.1" });
 * assertEquals(typeof wss.addr?.port, "number");
 * ```
 *
 * @module
 */
import {
  openConnection,
  type WebSocketConnection,
  type WSConnectionHandler,
} from "./connection.ts";
import type { Backplane } from "./backplane.ts";
import { encode } from "./_codec.ts";
import {
  callbackFailed,
  ErrorCode,
  printErrors,
  toError,
  wsError,
} from "./_errors.ts";
import { Fanout } from "./_fanout.ts";
import {
  checkHandshake,
  chooseProtocol,
  matchPath,
  plain,
  readRequest,
} from "./_handshake.ts";
import {
  checkTimeout,
  DEFAULTS,
  type ResolvedServerOptions,
  resolveServerOptions,
} from "./_options.ts";
import { KeyCounter } from "./_limits.ts";
import { SocketLink } from "./_link.ts";
import { Resumption } from "./_resume.ts";
import {
  createToken,
  isSameToken,
  parseProtocols,
  RESUME_PROTOCOL,
  RESUME_QUERY,
  takeResumeQuery,
  tokenSelector,
} from "./_resume_handshake.ts";
import { SignalShutdown } from "./_signals.ts";
import {
  CallbackQueue,
  countErrors,
  Session,
  type SessionSettings,
} from "./_session.ts";
import {
  createStats,
  snapshotStats,
  type WSServerCounts,
  type WSServerStats,
} from "./_stats.ts";
import type {
  DataType,
  WSCallbackResult,
  WSError,
  WSRequest,
  WSServerErrorEvent,
  WSServerOpenEvent,
  WSServerTerminateEvent,
} from "./_types.ts";
export {
  type Backplane,
  type BackplaneData,
  type BackplaneSink,
  BroadcastChannelBackplane,
} from "./backplane.ts";
export {
  WebSocketConnection,
  type WSConnectionHandler,
  type WSConnectionInit,
} from "./connection.ts";
export type {
  DataType,
  WSCallbackResult,
  WSConnectionErrorEvent,
  WSConnectionStatus,
  WSConnectionTerminateEvent,
  WSData,
  WSError,
  WSMessageEvent,
  WSOpenEvent,
  WSRequest,
  WSServerErrorEvent,
  WSServerOpenEvent,
  WSServerTerminateEvent,
} from "./_types.ts";
export {
  ErrorCode,
  type ErrorCodeName,
  type ErrorCodeValue,
} from "./_errors.ts";
export type { WSLimitName, WSServerStats } from "./_stats.ts";

/** The event of `onConnection`: the request, read before the upgrade. */
export interface WSServerConnectionEvent {
  /** Always `"connection"`. */
  readonly type: "connection";
  /** The upgrade request. */
  readonly request: WSRequest;
}

/** @deprecated Use {@linkcode WSServerConnectionEvent}. */
export type WSConnectionEvent = WSServerConnectionEvent;

/**
 * A connection handler as `onConnection` returns it: `this` in its methods
 * is the handler's own type `C`.
 */
export type WSAcceptedHandler<C> = C & ThisType<C>;

/**
 * What `onConnection` answers: a handler accepts; `null`/`undefined` refuses
 * with 403; a `Response` (status 400–599) refuses with that answer, such as
 * 401 with `WWW-Authenticate` or 429 with `Retry-After`.
 */
export type WSConnectionAnswer<C> =
  | WSAcceptedHandler<C>
  | Response
  | null
  | undefined;

/** What `onConnection` returns: an answer, or a promise of one. */
export type WSConnectionResult<C> =
  | WSConnectionAnswer<C>
  | Promise<WSConnectionAnswer<C>>;

/**
 * The server's handler (4D's `WSSHandler`). Callbacks are called as methods,
 * so `this` is the handler. `onConnection` is required.
 *
 * `D` is the server's `dataType`, `C` the type of the connection handlers
 * it returns: both are inferred from `new WebSocketServer(handler, options)`.
 */
export interface WSServerHandler<
  D extends DataType = DataType,
  C extends WSConnectionHandler<D, C> = WSConnectionHandler<D>,
> {
  /**
   * Accepts a connection by returning its handler, or refuses it: `null` or
   * `undefined` answers 403, a `Response` answers itself.
   */
  onConnection(
    server: WebSocketServer<D, C>,
    event: WSServerConnectionEvent,
  ): WSConnectionResult<C>;
  /** Once, when the server is ready to accept. */
  onOpen?(
    server: WebSocketServer<D, C>,
    event: WSServerOpenEvent,
  ): WSCallbackResult;
  /** Once, after the last connection's `onTerminate`. */
  onTerminate?(
    server: WebSocketServer<D, C>,
    event: WSServerTerminateEvent,
  ): WSCallbackResult;
  /** An error of the server itself, or of a connection with no `onError`. */
  onError?(
    server: WebSocketServer<D, C>,
    event: WSServerErrorEvent,
  ): WSCallbackResult;
}

/** The options of {@linkcode WebSocketServer}. */
export interface WebSocketServerOptions<D extends DataType = DataType> {
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
  readonly dataType?: D | undefined;
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
  /**
   * A token bucket per connection on what the peer sends: at most
   * `messages` messages and `bytes` bytes per `per` seconds, with a burst of
   * one whole window allowed after a quiet spell. Past it, the connection
   * gets `onError` (`RateLimited`) and is closed with 1008 `"rate limit"`;
   * the other connections go on.
   * @default {undefined} no limit
   */
  readonly rateLimit?: WSRateLimitOptions | undefined;
  /**
   * Open connections from one address (`request.remoteAddress`, or the key
   * `addressKey` returns); more upgrades are answered 429 with
   * `Retry-After`, before `onConnection`.
   * @default {Infinity}
   */
  readonly maxConnectionsPerAddress?: number | undefined;
  /**
   * The key that `maxConnectionsPerAddress` counts, from the request: behind
   * a proxy, the client's address from a header the proxy sets (and no
   * client can), or a user id.
   * @default {undefined} the peer's IP address (`request.remoteAddress`)
   */
  readonly addressKey?:
    | ((request: Request, remoteAddress: string) => string)
    | undefined;
  /**
   * Resuming (README, "Resuming"): a ws4d client with `reconnect` whose
   * connection breaks comes back to the same connection, and each side
   * sends again exactly what the other did not receive. `true` for the
   * defaults, or `{ window, maxMessages, maxBytes }`.
   * @default {undefined} off
   */
  readonly resume?: boolean | WSResumeOptions | undefined;
}

/** The server option `resume`. */
export interface WSResumeOptions {
  /**
   * Seconds a broken connection waits for its client; then `onTerminate`
   * 1006.
   * @default {60}
   */
  readonly window?: number | undefined;
  /**
   * The most messages each side keeps for the other, unacknowledged.
   * @default {1000}
   */
  readonly maxMessages?: number | undefined;
  /**
   * The most bytes each side keeps for the other (a text message counts
   * its UTF-16 length).
   * @default {1048576}
   */
  readonly maxBytes?: number | undefined;
}

/** The server option `rateLimit`. */
export interface WSRateLimitOptions {
  /**
   * Messages per `per` seconds.
   * @default {Infinity}
   */
  readonly messages?: number | undefined;
  /**
   * Bytes per `per` seconds (a text message counts its UTF-16 length).
   * @default {Infinity}
   */
  readonly bytes?: number | undefined;
  /**
   * The window of the rates, in seconds.
   * @default {1}
   */
  readonly per?: number | undefined;
}

/** The options of {@linkcode WebSocketServer.prototype.broadcast}. */
export interface WSBroadcastOptions {
  /** A connection to skip (the chat's "all the other clients"). */
  readonly except?: WebSocketConnection<unknown> | undefined;
}

const OPEN: WSServerOpenEvent = Object.freeze({ type: "open" });
const TERMINATE: WSServerTerminateEvent = Object.freeze({ type: "terminate" });

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
  D extends DataType = "text",
  C extends WSConnectionHandler<D, C> = WSConnectionHandler<D>,
> {
  readonly #handler: WSServerHandler<D, C>;
  readonly #options: ResolvedServerOptions;
  readonly #pattern: URLPattern | undefined;
  /** The server's own callbacks, one at a time. */
  readonly #queue: CallbackQueue<this>;
  /** What every connection's session shares: one object per server. */
  readonly #settings: SessionSettings<WebSocketConnection<C, D>>;
  readonly #fanout: Fanout<WebSocketConnection<C, D>>;
  readonly #httpServer: Deno.HttpServer<Deno.NetAddr> | undefined;
  /** Every session not yet terminated. */
  readonly #live = new Set<Session<WebSocketConnection<C, D>>>();
  /** The `"Connected"` ones, in the order they opened. */
  readonly #connected = new Set<Session<WebSocketConnection<C, D>>>();
  /** `onConnection` calls whose promise has not settled. */
  #pending = 0;
  #terminating: Promise<void> | undefined;
  /** Resolves when `#live` empties during `terminate`. */
  #drained: (() => void) | undefined;
  /** The listeners of `options.signals`. */
  readonly #signals: SignalShutdown | undefined;
  #stopped: Promise<void> | undefined;
  /** What the server counts (`stats`), on the paths it already takes. */
  readonly #stats: WSServerCounts = createStats();
  /** Open connections per address, with `maxConnectionsPerAddress`. */
  readonly #perAddress: KeyCounter | undefined;
  /** The address key of each session, with `maxConnectionsPerAddress`. */
  readonly #keys = new Map<Session<WebSocketConnection<C, D>>, string>();
  /** The sessions that may be resumed, by their token's selector. */
  readonly #resumable = new Map<string, Session<WebSocketConnection<C, D>>>();

  /**
   * Makes a server. With `options.port`, it listens by itself at once.
   *
   * @throws {TypeError} When `handler.onConnection` is not a function, or an
   * option has the wrong type or is unknown.
   * @throws {RangeError} When a number option is out of range.
   */
  constructor(
    handler: WSServerHandler<D, C>,
    options?: WebSocketServerOptions<D>,
  ) {
    if (
      typeof handler !== "object" || handler === null ||
      typeof (handler as Partial<WSServerHandler<D, C>>).onConnection !==
        "function"
    ) {
      throw new TypeError(
        "Cannot create WebSocketServer: handler.onConnection must be a function",
      );
    }
    const resolved = resolveServerOptions(options);
    this.#handler = handler;
    this.#options = resolved;
    this.#pattern = resolved.path === undefined
      ? undefined
      : new URLPattern({ pathname: resolved.path });
    this.#settings = {
      side: "server",
      dataType: resolved.dataType,
      maxMessageSize: resolved.maxMessageSize,
      maxBufferedAmount: resolved.maxBufferedAmount,
      closeTimeout: resolved.closeTimeout * 1000,
      stats: this.#stats,
      rateLimit: resolved.rateLimit,
      owner: {
        fallback: (errors) => this.#report("connection error", errors),
        connected: (session) => this.#connected.add(session),
        left: (session) => this.#connected.delete(session),
        unresumable: (session) => this.#forget(session),
        done: (session) => {
          this.#live.delete(session);
          this.#forget(session);
          this.#stats.connections--;
          if (this.#perAddress !== undefined) {
            this.#release(this.#keys.get(session));
            this.#keys.delete(session);
          }
          if (this.#live.size === 0) this.#drained?.();
        },
      },
    };
    this.#queue = new CallbackQueue<this>(handler, {
      callbackFailed(name, thrown) {
        printErrors(`WebSocketServer.${name}`, [
          callbackFailed(name, thrown).toEntry(),
        ]);
      },
    });
    this.#queue.target = this;
    this.#fanout = new Fanout(resolved.backplane);
    if (resolved.maxConnectionsPerAddress !== Infinity) {
      this.#perAddress = new KeyCounter(resolved.maxConnectionsPerAddress);
    }
    // Signals first: a signal that cannot be listened to throws before
    // anything listens; a port that cannot be taken leaves no listener.
    if (resolved.signals.length > 0) {
      this.#signals = new SignalShutdown(
        resolved.signals,
        resolved.signals !== DEFAULTS.signals,
        () => void this.terminate(),
      );
    }
    try {
      this.#httpServer = this.#listen();
    } catch (error) {
      this.#signals?.stop();
      throw error;
    }
    resolved.backplane?.start({
      deliver: (data) => this.#fanout.deliver(data, this.#connected),
      failed: (error) => {
        this.#stats.backplaneFailures++;
        this.#report("backplane failed", [
          wsError(
            ErrorCode.BackplaneFailed,
            `The backplane failed, broadcasts stay local until it is back: ${error.message}`,
            error,
          ),
        ]);
      },
      recovered: (dropped) => {
        this.#stats.backplaneDrops += dropped;
        this.#report("backplane recovered", [
          wsError(
            ErrorCode.BackplaneFailed,
            `The backplane is back: ${dropped} broadcast(s) did not reach the other instances while it was down`,
          ),
        ]);
      },
    });
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
    D extends DataType = "text",
    C extends WSConnectionHandler<D, C> = WSConnectionHandler<D>,
  >(
    handler: WSServerHandler<D, C>,
    options?: WebSocketServerOptions<D>,
  ): WebSocketServer<D, C> {
    return new WebSocketServer(handler, options);
  }

  /** A fresh array of the `"Connected"` connections. */
  get connections(): WebSocketConnection<C, D>[] {
    return Array.from(this.#connected, (session) => session.target);
  }

  /** How received data is handed to `onMessage`. */
  get dataType(): DataType {
    return this.#options.dataType;
  }

  /** The handler given to the constructor. */
  get handler(): WSServerHandler<D, C> {
    return this.#handler;
  }

  /** The `path` pattern, or `undefined` for every path. */
  get path(): string | undefined {
    return this.#options.path;
  }

  /**
   * What the server has counted since it started: connections, refusals by
   * HTTP status, closes by code, messages and bytes both ways, errors by
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
  broadcast(message: unknown, options?: WSBroadcastOptions): number {
    const count = this.#fanout.broadcast(
      encode(message),
      this.#connected,
      options?.except as WebSocketConnection<C, D> | undefined,
    );
    const stats = this.#stats;
    stats.broadcasts++;
    stats.broadcastDeliveries += count;
    return count;
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
    const answer = this.#handle(request, info);
    return answer instanceof Response
      ? this.#counted(answer)
      : answer.then(this.#counted);
  };

  /** Counts an answer that is no upgrade, on this server's path. */
  #counted = (response: Response): Response => {
    const status = response.status;
    if (status !== 101 && status !== 404) {
      const refused = this.#stats.refused;
      refused[status] = (refused[status] ?? 0) + 1;
    }
    return response;
  };

  #handle(
    request: Request,
    info: Deno.ServeHandlerInfo | undefined,
  ): Response | Promise<Response> {
    if (this.#terminating !== undefined) return plain(503, "Server terminated");
    const params = matchPath(this.#pattern, request.url);
    if (params === null) return plain(404, "Not Found");
    const refusal = checkHandshake(request.headers);
    if (refusal !== undefined) return refusal;
    const options = this.#options;
    const origins = options.allowedOrigins;
    const origin = request.headers.get("origin");
    if (origins !== undefined && origin !== null && !origins.has(origin)) {
      return plain(403, "Forbidden");
    }
    if (options.resume !== null) {
      // A resume counts once: its session is live already.
      const resumed = this.#resume(request);
      if (resumed !== undefined) return resumed;
    }
    if (this.#live.size + this.#pending >= options.maxConnections) {
      this.#stats.limits.maxConnections++;
      return plain(503, "Too Many Connections");
    }
    const wsRequest = readRequest(request, info?.remoteAddr, params);
    let key: string | undefined;
    if (this.#perAddress !== undefined) {
      try {
        key = options.addressKey?.(request, wsRequest.remoteAddress) ??
          wsRequest.remoteAddress;
      } catch (thrown) {
        return this.#refusedByError(thrown, "addressKey");
      }
      if (!this.#perAddress.acquire(key)) {
        this.#stats.limits.maxConnectionsPerAddress++;
        return plain(429, "Too Many Connections From This Address", {
          "retry-after": "1",
        });
      }
    }
    let answer: WSConnectionResult<C>;
    try {
      answer = this.#handler.onConnection(this, {
        type: "connection",
        request: wsRequest,
      });
    } catch (thrown) {
      this.#release(key);
      return this.#refusedByError(thrown);
    }
    if (!isThenable(answer)) {
      return this.#accept(request, wsRequest, answer, key);
    }
    this.#pending++;
    return Promise.resolve(answer).then(
      (handler) => {
        this.#pending--;
        return this.#accept(request, wsRequest, handler, key);
      },
      (thrown) => {
        this.#pending--;
        this.#release(key);
        return this.#refusedByError(thrown);
      },
    );
  }

  /**
   * Attaches the socket of a resume to its session: the token names a
   * session this server holds (compared in constant time), not over, and
   * the count the client offers is one it can resume from. Otherwise
   * `undefined`: the handshake goes on as a fresh one.
   */
  #resume(request: Request): Response | undefined {
    const offer = parseProtocols(request.headers.get("sec-websocket-protocol"))
      .resume;
    if (offer === null || offer.token === null) return undefined;
    const session = this.#resumable.get(tokenSelector(offer.token));
    const resumption = session?.resumption;
    if (
      session === undefined || resumption === null ||
      resumption === undefined ||
      !isSameToken(resumption.token, offer.token) ||
      !session.canResume(offer.received)
    ) {
      return undefined;
    }
    const upgraded = this.#upgradeSocket(request);
    if (upgraded instanceof Response) return upgraded;
    upgraded.response.headers.set("sec-websocket-protocol", RESUME_PROTOCOL);
    this.#stats.sessionsResumed++;
    session.resumeWith(
      new SocketLink(upgraded.socket, true),
      offer.received,
    );
    return upgraded.response;
  }

  /** Upgrades `request`, or answers 400 where Deno refuses to. */
  #upgradeSocket(
    request: Request,
  ): { socket: WebSocket; response: Response } | Response {
    try {
      return Deno.upgradeWebSocket(request, {
        idleTimeout: this.#options.idleTimeout,
      });
    } catch (thrown) {
      return plain(400, `Bad Request: ${toError(thrown).message}`);
    }
  }

  /** `session`'s token names it no more (it ended, or was declined). */
  #forget(session: Session<WebSocketConnection<C, D>>): void {
    const resumption = session.resumption;
    if (resumption === null) return;
    const selector = tokenSelector(resumption.token);
    if (this.#resumable.get(selector) === session) {
      this.#resumable.delete(selector);
    }
  }

  /** One connection less for `key` (`maxConnectionsPerAddress`). */
  #release(key: string | undefined): void {
    if (key !== undefined) this.#perAddress?.release(key);
  }

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
    this.#terminating = this.#shutdown(seconds * 1000);
    return this.#terminating;
  }

  /** Terminates the server, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.terminate();
  }

  /** Listens by itself when given a `port` (TLS with `cert` and `key`). */
  #listen(): Deno.HttpServer<Deno.NetAddr> | undefined {
    const { port, hostname, cert, key } = this.#options;
    if (port === undefined) return undefined;
    const listen: Deno.ServeTcpOptions = { port, onListen() {} };
    if (hostname !== undefined) listen.hostname = hostname;
    return Deno.serve(
      cert !== undefined && key !== undefined
        ? { ...listen, cert, key }
        : listen,
      this.fetch,
    );
  }

  async #shutdown(ms: number): Promise<void> {
    this.#signals?.stopSoon();
    const backplane = this.#options.backplane?.close().catch(() => {});
    for (const session of this.#live) {
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
      for (const session of this.#live) session.abandon();
      await this.#stopListening();
      await drained;
    }
    await this.#stopListening();
    await this.#fanout.settled();
    await backplane;
    this.#signals?.stop();
    await new Promise<void>((resolve) => {
      this.#queue.push("onTerminate", TERMINATE);
      this.#queue.after(resolve);
    });
  }

  #stopListening(): Promise<void> {
    return this.#stopped ??= this.#httpServer === undefined
      ? Promise.resolve()
      : this.#httpServer.shutdown().catch(() => {});
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

  #refusedByError(thrown: unknown, name = "onConnection"): Response {
    const error = toError(thrown);
    this.#report(`${name} failed`, [
      wsError(
        ErrorCode.ConnectionRefused,
        `Callback ${name} failed: ${error.message}`,
        error,
      ),
    ]);
    return plain(500, "Internal Server Error");
  }

  /**
   * Upgrades `request` for `handler`: the server makes a typed session
   * first, then its connection, registers the session and attaches the
   * socket.
   */
  #accept(
    request: Request,
    wsRequest: WSRequest,
    handler: WSConnectionAnswer<C>,
    key: string | undefined,
  ): Response {
    const response = this.#upgrade(request, wsRequest, handler, key);
    if (response.status !== 101) this.#release(key);
    return response;
  }

  #upgrade(
    request: Request,
    wsRequest: WSRequest,
    handler: WSConnectionAnswer<C>,
    key: string | undefined,
  ): Response {
    if (handler === null || handler === undefined) {
      return plain(403, "Forbidden");
    }
    if (handler instanceof Response) return this.#refusedWith(handler);
    if (
      typeof handler !== "object" ||
      typeof (handler as { onMessage?: unknown }).onMessage !== "function"
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
    const offered = parseProtocols(
      request.headers.get("sec-websocket-protocol"),
    );
    const protocol = chooseProtocol(offered.rest, this.#options.protocols);
    const limits = this.#options.resume;
    const queryOffer = limits !== null && request.url.includes(RESUME_QUERY) &&
      takeResumeQuery(new URL(request.url).search).offered;
    const upgraded = this.#upgradeSocket(request);
    if (upgraded instanceof Response) return upgraded;
    let resumption: Resumption | null = null;
    if (protocol !== "") {
      upgraded.response.headers.set("sec-websocket-protocol", protocol);
    } else if (
      limits !== null &&
      (offered.resume !== null || (offered.rest === null && queryOffer))
    ) {
      // Offered in the subprotocols, the client knows at open; in the
      // query, at the hello, and the session is its once it accepts.
      const accepted = offered.resume !== null;
      if (accepted) {
        upgraded.response.headers.set(
          "sec-websocket-protocol",
          RESUME_PROTOCOL,
        );
      }
      let token = createToken();
      while (this.#resumable.has(tokenSelector(token))) token = createToken();
      resumption = Resumption.server(limits, token, accepted, this.#stats);
    }
    const session = new Session<WebSocketConnection<C, D>>(
      handler,
      this.#settings,
      resumption,
    );
    if (resumption !== null) {
      this.#resumable.set(tokenSelector(resumption.token), session);
    }
    openConnection(session, { server: this, request: wsRequest, protocol });
    this.#live.add(session);
    if (key !== undefined) this.#keys.set(session, key);
    const stats = this.#stats;
    stats.connections++;
    stats.connectionsTotal++;
    session.attach(new SocketLink(upgraded.socket, true));
    return upgraded.response;
  }
}
