/**
 * The server's public types beside its class: its handler, what
 * `onConnection` answers, and the options of `broadcast` (its options are
 * `_options.ts`'s, with their defaults and checks).
 *
 * @module
 */
import type { WebSocketConnection, WSConnectionHandler } from "./connection.ts";
import type { WebSocketServer } from "./server.ts";
import type {
  DataType,
  WSCallbackResult,
  WSRequest,
  WSServerErrorEvent,
  WSServerOpenEvent,
  WSServerTerminateEvent,
} from "./_types.ts";

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

/** The options of {@linkcode WebSocketServer.prototype.broadcast}. */
export interface WSBroadcastOptions {
  /** A connection to skip (the chat's "all the other clients"). */
  readonly except?: WebSocketConnection<unknown> | undefined;
}
