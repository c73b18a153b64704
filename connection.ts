/**
 * `WebSocketConnection`: one upgraded socket on the server side, as 4D's
 * `4D.WebSocketConnection`. The server makes them; the user receives them in
 * the callbacks of the connection handler that `onConnection` returned.
 *
 * @example A connection handler that echoes
 * ```ts
 * import type { WebSocketConnection, WSConnectionHandler, WSMessageEvent } from "@ws4d/websocket";
 *
 * class Echo implements WSConnectionHandler {
 *   onMessage(ws: WebSocketConnection, event: WSMessageEvent): void {
 *     ws.send(event.data);
 *   }
 * }
 * const handler: WSConnectionHandler = new Echo();
 * ```
 *
 * @module
 */
import type { WebSocketServer } from "./server.ts";
import { type ConnectionInit, INTERNAL, Session } from "./_session.ts";
import { checkReason, describe } from "./_codec.ts";
import type {
  DataType,
  WSCallbackResult,
  WSConnectionErrorEvent,
  WSConnectionStatus,
  WSMessageEvent,
  WSOpenEvent,
  WSRequest,
  WSTerminateEvent,
} from "./_types.ts";

/**
 * The handler of one connection (4D's `connectionHandler`), returned by the
 * server's `onConnection`. Callbacks are called as methods, so `this` is the
 * handler. `onMessage` is required.
 */
export interface WSConnectionHandler {
  /** Each message, in order, decoded by the server's `dataType`. */
  onMessage(
    connection: WebSocketConnection,
    event: WSMessageEvent,
  ): WSCallbackResult;
  /** Once, first, when the socket is open. */
  onOpen?(
    connection: WebSocketConnection,
    event: WSOpenEvent,
  ): WSCallbackResult;
  /** Exactly once, last, with a valid close code. */
  onTerminate?(
    connection: WebSocketConnection,
    event: WSTerminateEvent,
  ): WSCallbackResult;
  /** A fatal error, at most once; the connection then closes. */
  onError?(
    connection: WebSocketConnection,
    event: WSConnectionErrorEvent,
  ): WSCallbackResult;
}

let nextId = 1;

/**
 * One WebSocket connection on the server side, made by the server when
 * `onConnection` returns a connection handler; never by the user.
 *
 * @example Sending to every other connection, as 4D's chat does
 * ```ts
 * import type { WebSocketConnection, WSMessageEvent } from "@ws4d/websocket";
 *
 * const handler = {
 *   onMessage(ws: WebSocketConnection, event: WSMessageEvent) {
 *     for (const other of ws.wss.connections) {
 *       if (other.id !== ws.id) other.send(event.data);
 *     }
 *   },
 * };
 * ```
 */
export class WebSocketConnection {
  readonly #session: Session;
  readonly #handler: WSConnectionHandler;
  readonly #server: WebSocketServer;
  readonly #request: WSRequest;
  readonly #protocol: string;
  readonly #id: number;

  /**
   * Made by the server only.
   *
   * @throws {TypeError} Always, when called by the user.
   */
  constructor(init: unknown) {
    const given = init as Partial<ConnectionInit> | null;
    if (
      typeof init !== "object" || given === null || given.token !== INTERNAL
    ) {
      throw new TypeError(
        "Cannot construct WebSocketConnection: the server makes connections",
      );
    }
    const ready = given as ConnectionInit;
    this.#handler = ready.handler as WSConnectionHandler;
    this.#server = ready.server as WebSocketServer;
    this.#request = ready.request;
    this.#protocol = ready.protocol;
    this.#id = nextId++;
    this.#session = new Session(this, ready.handler, ready.settings);
    ready.bind(this, this.#session);
  }

  /** The connection handler that `onConnection` returned. */
  get handler(): WSConnectionHandler {
    return this.#handler;
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

  /** The server this connection belongs to. */
  get wss(): WebSocketServer {
    return this.#server;
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
    return this.#session.socket?.bufferedAmount ?? 0;
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
  send(message: unknown): boolean {
    return this.#session.send(message);
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
    if (code !== undefined) {
      if (typeof code !== "number") {
        throw new TypeError(
          `Cannot terminate connection: code must be a number, current value is ${
            describe(code)
          }`,
        );
      }
      if (!Number.isInteger(code)) {
        throw new RangeError(
          `Cannot terminate connection: code must be an integer, current value is ${code}`,
        );
      }
    }
    const reason = checkReason(message, "Cannot terminate connection");
    if (code !== undefined && code > 3000 && code <= 4999) {
      this.#session.close(code, reason);
    } else {
      this.#session.close(1000, "");
    }
  }
}
