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

/**
 * The event of `onConnection`: the request, read before the upgrade; the
 * context given to `fetch`; the headers of the answer.
 *
 * `X` is the type of the context: name it once, on this event's parameter
 * (`onConnection(wss, event: WSServerConnectionEvent<User>)`), and the
 * server's `fetch` and its connections' `context` take it.
 */
export interface WSServerConnectionEvent<X = unknown> {
  /** Always `"connection"`. */
  readonly type: "connection";
  /** The upgrade request. */
  readonly request: WSRequest;
  /**
   * What the caller of `fetch` gave as `{ context }` (the user a middleware
   * authenticated, a tenant, a trace id); `undefined` when none was given.
   * It stays on the connection as `conn.context`.
   */
  readonly context: X;
  /**
   * Headers added to the `101 Switching Protocols` answer when
   * `onConnection` accepts (a `Set-Cookie`, a trace id): set or append them
   * here. The handshake's own (`Upgrade`, `Connection`,
   * `Sec-WebSocket-Accept`, `Sec-WebSocket-Protocol`,
   * `Sec-WebSocket-Extensions`) are the server's and are not taken from
   * here. A refusal answers without them (a `Response` carries its own).
   */
  readonly responseHeaders: Headers;
}

/**
 * The optional third argument of {@linkcode WebSocketServer.prototype.fetch}:
 * the context of the request, which `onConnection` reads as
 * `event.context` and the connection keeps as `conn.context`.
 */
export interface WSFetchInit<X = unknown> {
  /** The value given to `onConnection` and kept on the connection. */
  readonly context: X;
}

/** @deprecated Use {@linkcode WSServerConnectionEvent}. */
export type WSConnectionEvent = WSServerConnectionEvent;

/**
 * A connection handler as `onConnection` returns it: `this` in its methods
 * is the handler's own type `C`, inferred from the object literal.
 */
export type WSAcceptedHandler<C> =
  & C
  & ThisType<C>
  & WSConnectionHandlerNames<C>;

/** The names of a connection handler's callbacks. */
export type WSConnectionCallbackName = keyof WSConnectionHandler;

/**
 * A connection handler's members named as a callback in another case
 * (`onmessage`) are `never`: an error where they are written, as they are
 * refused at run time.
 */
export type WSConnectionHandlerNames<C> = {
  [K in keyof C]: K extends WSConnectionCallbackName ? unknown
    : Lowercase<K & string> extends Lowercase<WSConnectionCallbackName> ? never
    : unknown;
};

/**
 * What `onConnection` answers: a handler accepts; `null`/`undefined` refuses
 * with 403; a `Response` (status 400-599) refuses with that answer, such as
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
 * The server as its own callbacks see it: its data type and context, its
 * connections' handlers as {@linkcode WSConnectionHandler} (TypeScript infers
 * the connection handler's type from what `onConnection` returns, which a
 * parameter naming it would fix too early).
 */
export type WSServerOf<D extends DataType = DataType, X = unknown> =
  WebSocketServer<unknown, D, WSConnectionHandler<D, never>, X>;

/**
 * The server's handler (4D's `WSSHandler`). Callbacks are called as methods,
 * so `this` is the handler. `onConnection` is required.
 *
 * `D` is the server's `dataType`, `C` the type of the connection handlers
 * it returns, `X` the type of the context given to `fetch`: `D` and `C` are
 * inferred from `new WebSocketServer(handler, options)`, `X` from the
 * annotation of `onConnection`'s event.
 */
export interface WSServerHandler<
  D extends DataType = DataType,
  C extends WSConnectionHandler<D, C> = WSConnectionHandler<D>,
  X = unknown,
> {
  /**
   * Accepts a connection by returning its handler, or refuses it: `null` or
   * `undefined` answers 403, a `Response` answers itself.
   */
  onConnection(
    server: WSServerOf<D, X>,
    event: WSServerConnectionEvent<X>,
  ): WSConnectionResult<C>;
  /** Once, when the server is ready to accept. */
  onOpen?(server: WSServerOf<D, X>, event: WSServerOpenEvent): WSCallbackResult;
  /** Once, after the last connection's `onTerminate`. */
  onTerminate?(
    server: WSServerOf<D, X>,
    event: WSServerTerminateEvent,
  ): WSCallbackResult;
  /** An error of the server itself, or of a connection with no `onError`. */
  onError?(
    server: WSServerOf<D, X>,
    event: WSServerErrorEvent,
  ): WSCallbackResult;
}

/** The names of the server handler's callbacks. */
export type WSServerCallbackName = keyof WSServerHandler;

/**
 * The user's own members of a server handler `H` (its state, its helpers):
 * the callbacks are typed by {@linkcode WSServerHandler}, and `H` is inferred
 * from the rest, so that `this` and `wss.handler` are `H`. A member named as
 * a callback in another case (`onconnection`) is `never`: an error where it
 * is written, as it is a `TypeError` at run time.
 */
export type WSServerHandlerOwn<H> = {
  [K in keyof H]: K extends WSServerCallbackName ? unknown
    : Lowercase<K & string> extends Lowercase<WSServerCallbackName> ? never
    : H[K];
};

/**
 * The handler a server is given: its callbacks typed, `this` its own type
 * `H` (an object literal's, with its own fields, or a class's).
 */
export type WSServerHandlerInit<
  H,
  D extends DataType,
  C extends WSConnectionHandler<D, C>,
  X,
> =
  & WSServerHandler<D, C, X>
  & ThisType<H & WSServerHandler<D, C, X>>
  & WSServerHandlerOwn<H>;

/** The options of {@linkcode WebSocketServer.prototype.broadcast}. */
export interface WSBroadcastOptions {
  /** A connection to skip (the chat's "all the other clients"). */
  readonly except?: WebSocketConnection<unknown, DataType, unknown> | undefined;
}

/**
 * The request `fetch` takes, typed by what it reads, so that a framework
 * whose types name another `Request` (oak's npm build names undici's) passes
 * it as it is. At run time it must be the runtime's own `Request`, which
 * Deno upgrades: another object is a `TypeError`.
 */
export interface WSFetchRequest {
  /** The request's URL. */
  readonly url: string;
  /** The request's method. */
  readonly method: string;
  /** The request's headers. */
  readonly headers: { get(name: string): string | null };
}

/**
 * The third argument of `fetch`: optional while the context may be
 * `undefined` (a server that names no context type), required once
 * `onConnection`'s event names one.
 */
export type WSFetchRest<X> = undefined extends X ? [init?: WSFetchInit<X>]
  : [init: WSFetchInit<X>];

/**
 * The type of {@linkcode WebSocketServer.prototype.fetch}: a Deno request
 * handler with the context of the request. Written as a method's type, so
 * that a server with a typed context still fits where a plain server is
 * expected.
 */
export type WSFetch<X> = {
  fetch(
    request: Request | WSFetchRequest,
    info?: unknown,
    ...init: WSFetchRest<X>
  ): Response | Promise<Response>;
}["fetch"];
