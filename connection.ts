/**
 * `WebSocketConnection`: one upgraded socket on the server side, as 4D's
 * `4D.WebSocketConnection`. The server makes them; the user receives them in
 * the callbacks of the connection handler that `onConnection` returned.
 *
 * @example A connection handler written as a class: `this` and `ws.handler` are the class
 * ```ts
 * import type {
 *   WebSocketConnection,
 *   WSConnectionHandler,
 *   WSMessageEvent,
 * } from "@ws4d/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * class Echo implements WSConnectionHandler<"text", Echo> {
 *   count = 0;
 *   onMessage(ws: WebSocketConnection<Echo, "text">, event: WSMessageEvent<string>) {
 *     this.count++;
 *     ws.send(event.data.toUpperCase());
 *   }
 * }
 * assertEquals(new Echo().count, 0);
 * ```
 *
 * @module
 */
import type { WebSocketServer } from "./server.ts";
export type { WebSocketServer } from "./server.ts";
export type { WSServerHandler } from "./_server_types.ts";
import type { Session } from "./_session.ts";
import type { Topics } from "./_topics.ts";
import { checkCloseCode, checkReason } from "./_checks.ts";
import type {
  DataType,
  WSCallbackResult,
  WSConnectionErrorEvent,
  WSConnectionStatus,
  WSConnectionTerminateEvent,
  WSData,
  WSMessageEvent,
  WSOpenEvent,
  WSRequest,
  WSSendable,
} from "./_types.ts";
export type {
  DataType,
  WSCallbackResult,
  WSConnectionErrorEvent,
  WSConnectionStatus,
  WSConnectionTerminateEvent,
  WSData,
  WSError,
  WSMessageEvent,
  WSObjectOf,
  WSOpenEvent,
  WSRequest,
  WSSendable,
} from "./_types.ts";
export {
  ErrorCode,
  type ErrorCodeName,
  type ErrorCodeValue,
} from "./_errors.ts";

/**
 * The handler of one connection (4D's `connectionHandler`), returned by the
 * server's `onConnection`. Callbacks are called as methods, so `this` is the
 * handler. `onMessage` is required.
 *
 * `D` is the server's `dataType`, which types `event.data`; `H` is the
 * handler's own type, which types `ws.handler` (a class writes
 * `implements WSConnectionHandler<"text", MyHandler>`); `X` is the type of
 * the context given at the upgrade, which types `ws.context`.
 */
export interface WSConnectionHandler<
  D extends DataType = DataType,
  H = WSConnectionHandler<D, never>,
  X = unknown,
> {
  /** Each message, in order, decoded by the server's `dataType`. */
  onMessage(
    connection: WebSocketConnection<H, D, X>,
    event: WSMessageEvent<WSData<D>>,
  ): WSCallbackResult;
  /** Once, first, when the socket is open. */
  onOpen?(
    connection: WebSocketConnection<H, D, X>,
    event: WSOpenEvent,
  ): WSCallbackResult;
  /** Exactly once, last, with a valid close code. */
  onTerminate?(
    connection: WebSocketConnection<H, D, X>,
    event: WSConnectionTerminateEvent,
  ): WSCallbackResult;
  /** A fatal error, at most once; the connection then closes. */
  onError?(
    connection: WebSocketConnection<H, D, X>,
    event: WSConnectionErrorEvent,
  ): WSCallbackResult;
}

/** What the server knows of a connection when it opens one. */
export interface WSConnectionInit<
  H = WSConnectionHandler,
  D extends DataType = DataType,
  X = unknown,
> {
  /** The server the connection belongs to. */
  readonly server: WebSocketServer<
    unknown,
    D,
    H & WSConnectionHandler<D, H>,
    X
  >;
  /** The request, as given to `onConnection`. */
  readonly request: WSRequest;
  /** The subprotocol chosen, or `""`. */
  readonly protocol: string;
  /** The context given to `fetch`, as given to `onConnection`. */
  readonly context: X;
}

/** Proves that the constructor is called by {@linkcode openConnection}. */
const FACTORY: unique symbol = Symbol("ws4d.connection");

let nextId = 1;

/**
 * One WebSocket connection on the server side, made by the server when
 * `onConnection` returns a connection handler; never by the user.
 *
 * @example Sending to every other connection, as 4D's chat does
 * ```ts
 * import { WebSocketServer } from "@ws4d/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * await using wss = new WebSocketServer({
 *   onConnection: () => ({
 *     onMessage(ws, event) {
 *       for (const other of ws.wss.connections) {
 *         if (other.id !== ws.id) other.send(event.data);
 *       }
 *     },
 *   }),
 * });
 * assertEquals(wss.connections, []);
 * ```
 */
export class WebSocketConnection<
  H = WSConnectionHandler,
  D extends DataType = DataType,
  X = unknown,
> {
  readonly #session: Session<WebSocketConnection<H, D, X>>;
  readonly #server: WSConnectionInit<H, D, X>["server"];
  readonly #request: WSRequest;
  readonly #context: X;
  readonly #protocol: string;
  readonly #id: number;
  readonly #topics: Topics<
    WebSocketConnection<H, D, X>,
    Session<WebSocketConnection<H, D, X>>
  >;

  /**
   * Made by the server only.
   *
   * @throws {TypeError} Always, when called by the user.
   */
  constructor(
    token: never,
    session: Session<WebSocketConnection<H, D, X>>,
    init: WSConnectionInit<H, D, X>,
    topics: Topics<
      WebSocketConnection<H, D, X>,
      Session<WebSocketConnection<H, D, X>>
    >,
  ) {
    if ((token as unknown) !== FACTORY) {
      throw new TypeError(
        "Cannot construct WebSocketConnection: the server makes connections",
      );
    }
    this.#session = session;
    this.#server = init.server;
    this.#request = init.request;
    this.#protocol = init.protocol;
    this.#context = init.context;
    this.#id = nextId++;
    this.#topics = topics;
  }

  /**
   * The connection handler that `onConnection` returned, with its own type
   * (a class, or an object literal seen from `wss.connections`).
   */
  get handler(): H {
    return this.#session.handler as H;
  }

  /** An integer unique in the process. */
  get id(): number {
    return this.#id;
  }

  /** `"Connected"`, `"Closing"` or `"Closed"`. */
  get status(): WSConnectionStatus {
    const status = this.#session.status;
    return status === "Connecting" ? "Connected" : status;
  }

  /**
   * The server this connection belongs to, with this connection's types:
   * `ws.wss.connections[i].handler` is `H`, as 4D's chat loop reads it.
   */
  get wss(): WSConnectionInit<H, D, X>["server"] {
    return this.#server;
  }

  /**
   * The context given at the upgrade (`wss.fetch(request, info, { context
   * })`), as `onConnection` read it: the user a middleware authenticated, a
   * tenant, a trace id. `undefined` when none was given.
   */
  get context(): X {
    return this.#context;
  }

  /** The upgrade request, as given to `onConnection`. */
  get request(): WSRequest {
    return this.#request;
  }

  /** The subprotocol chosen from the client's offer, or `""`. */
  get protocol(): string {
    return this.#protocol;
  }

  /** How the server decodes received data. */
  get dataType(): DataType {
    return this.#server.dataType;
  }

  /** Bytes passed to `send` that have not gone out yet. */
  get bufferedAmount(): number {
    return this.#session.link?.bufferedAmount ?? 0;
  }

  /**
   * Sends `message`: a string as a text frame, bytes or a `Blob` as a binary
   * frame, any other JSON value as its JSON text.
   *
   * @returns `true` when the message was handed to the socket; `false`,
   * sending nothing and throwing nothing, when the connection is `"Closing"`
   * or `"Closed"` (a timer or a broadcast that races the peer's departure).
   * @throws {TypeError} For a value that cannot be sent (`undefined`, a
   * function, a symbol, a bigint, a circular object), whatever the state.
   */
  send<M>(message: WSSendable<M>): boolean {
    return this.#session.send(message);
  }

  /**
   * Subscribes this connection to `topic` (docs/topics.md): what is
   * published to it reaches this connection, on whichever instance it was
   * published. Only the server subscribes a connection.
   *
   * @returns True; false, subscribing nothing, when the connection is
   * `"Closing"` or `"Closed"`.
   * @throws {TypeError} When `topic` is not a non-empty, well-formed string.
   * @throws {RangeError} When `topic` is over 256 UTF-16 code units, or the
   * connection has `maxSubscriptions` topics already.
   *
   * @example A room per path
   * ```ts
   * import { WebSocketServer } from "@ws4d/websocket";
   * import { assertEquals } from "@std/assert";
   *
   * await using wss = new WebSocketServer({
   *   onConnection: (_wss, { request }) => ({
   *     onOpen: (ws) => void ws.subscribe(request.params.room ?? "lobby"),
   *     onMessage: (ws, event) => ws.publish(ws.subscriptions[0]!, event.data),
   *   }),
   * }, { path: "/rooms/:room" });
   * assertEquals(wss.subscriberCount("lobby"), 0);
   * ```
   */
  subscribe(topic: string): boolean {
    return this.#topics.subscribe(
      this.#session,
      topic,
      "Cannot subscribe connection",
    );
  }

  /**
   * Unsubscribes this connection from `topic`.
   *
   * @returns Whether it was subscribed.
   * @throws {TypeError} For a `topic` that is not one, as `subscribe`.
   * @throws {RangeError} For a `topic` too long.
   */
  unsubscribe(topic: string): boolean {
    return this.#topics.unsubscribe(
      this.#session,
      topic,
      "Cannot unsubscribe connection",
    );
  }

  /**
   * Whether this connection subscribes to `topic`.
   *
   * @throws {TypeError} For a `topic` that is not one, as `subscribe`.
   * @throws {RangeError} For a `topic` too long.
   */
  isSubscribed(topic: string): boolean {
    return this.#topics.has(this.#session, topic, "Cannot read subscription");
  }

  /** A fresh array of this connection's topics, in the order subscribed. */
  get subscriptions(): string[] {
    return this.#topics.of(this.#session);
  }

  /**
   * Publishes `message` to `topic` as `wss.publish` does, to every
   * subscriber but this connection.
   *
   * @returns How many local connections it was handed to.
   * @throws {TypeError} For a `topic` that is not one, or a value that
   * cannot be sent.
   * @throws {RangeError} For a `topic` too long.
   */
  publish<M>(topic: string, message: WSSendable<M>): number {
    return this.#server.publish(topic, message, { except: this });
  }

  /**
   * Closes the connection. As 4D documents: with a `code` from 3001 to 4999,
   * the code and `message` go to the client; otherwise it closes with 1000
   * and the message is not sent. Calling it again does nothing.
   *
   * @throws {TypeError} When `code` is not a number or `message` not a string.
   * @throws {RangeError} When `code` is not an integer, or `message` is over
   * 123 bytes of UTF-8.
   */
  terminate(code?: number, message?: string): void {
    const action = "Cannot terminate connection";
    const checked = checkCloseCode(code, action, false);
    const reason = checkReason(message, "message", action);
    if (checked !== undefined && checked > 3000 && checked <= 4999) {
      this.#session.close(checked, reason);
    } else {
      this.#session.close(1000, "");
    }
  }
}

/**
 * Makes the connection of `session`, which takes it as its target: the one
 * way to make a connection, for the server (not exported by the package).
 *
 * @ignore
 */
export function openConnection<H, D extends DataType, X>(
  session: Session<WebSocketConnection<H, D, X>>,
  init: WSConnectionInit<H, D, X>,
  topics: Topics<
    WebSocketConnection<H, D, X>,
    Session<WebSocketConnection<H, D, X>>
  >,
): WebSocketConnection<H, D, X> {
  const connection = new WebSocketConnection<H, D, X>(
    FACTORY as never,
    session,
    init,
    topics,
  );
  session.target = connection;
  return connection;
}
