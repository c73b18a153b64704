// This module is browser compatible.
/**
 * The public types that the server, its connections and the client share:
 * data types, statuses, event objects and the error entries of `onError`.
 * The handler interfaces live beside their classes (`server.ts`,
 * `connection.ts`, `client.ts`), which their signatures name.
 *
 * Names follow one scheme: `WSServer...` for the server, `WSConnection...` for
 * its connections, `WSClient...` for the client; what all three share has no
 * side in its name (`WSError`, `WSMessageEvent`, `WSOpenEvent`).
 *
 * @module
 */
import type { ErrorCodeValue } from "./_errors.ts";

/**
 * How received data is handed to `onMessage` (SPEC.md, "Data types").
 *
 * - `"text"`: a `string` (a binary frame is decoded as UTF-8);
 * - `"blob"`: a `Uint8Array` (a text frame is encoded as UTF-8);
 * - `"object"`: the parsed JSON value.
 */
export type DataType = "text" | "blob" | "object";

/**
 * The data type `"object"` that names the type of its messages, `T`: what
 * {@linkcode objectOf} returns. Given as `dataType`, it types `event.data`
 * as `T` in every handler of the server or the client, named once. At run
 * time it is the string `"object"`: the type is your word for what the peer
 * sends, not a check of it (check what an untrusted peer sends).
 */
export type WSObjectOf<T> = "object" & {
  /** Never present: it carries `T` in the type only. */
  readonly "~message"?: T;
};

/**
 * The type of `event.data` for a `dataType`: `string` for `"text"`,
 * `Uint8Array` for `"blob"`, `T` for {@linkcode objectOf}`<T>()`, `unknown`
 * for `"object"` (or when the data type is not known where the handler is
 * written).
 */
export type WSData<D extends DataType = DataType> = D extends "text" ? string
  : D extends "blob" ? Uint8Array
  : D extends WSObjectOf<infer T> ? T
  : unknown;

/**
 * What `send` and `broadcast` take (SPEC.md, "Data types"): a string, bytes,
 * a `Blob` or any JSON value; `undefined`, a function, a symbol or a
 * `bigint` does not type-check (and throws a `TypeError` at run time). A
 * value of type `unknown` (an `"object"` message echoed) is accepted, and
 * checked when sent.
 */
export type WSSendable<M> = M extends
  undefined | symbol | bigint | ((...args: never[]) => unknown) ? never
  : M;

/** The status of a client {@linkcode WebSocket}, as in 4D. */
export type WSClientStatus = "Connecting" | "Connected" | "Closing" | "Closed";

/** The status of a server-side connection, as in 4D. */
export type WSConnectionStatus = "Connected" | "Closing" | "Closed";

/**
 * One entry of the `errors` stack of an `onError` event, as in 4D's error
 * stack.
 */
export interface WSError {
  /** The stable number of the error: one of the values of `ErrorCode`. */
  readonly errCode: ErrorCodeValue;
  /** What happened, in one sentence. */
  readonly message: string;
  /** Always `"ws4d"`. */
  readonly componentSignature: "ws4d";
  /** The original exception or the runtime's own event, where there is one. */
  readonly cause?: unknown;
}

/** The event of a connection's or a client's `onOpen`. */
export interface WSOpenEvent {
  /** Always `"open"`. */
  readonly type: "open";
}

/**
 * The event of a client's `onOpen`: whether this open is a reconnect, and
 * whether it resumed the session (SPEC.md, "Reconnecting").
 *
 * @example Telling the first open from a reconnect
 * ```ts
 * import type { WSClientOpenEvent } from "@ws4d/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * function greeting(event: WSClientOpenEvent): string {
 *   return event.reconnected ? "back again" : "hello";
 * }
 * assertEquals(
 *   greeting({ type: "open", reconnected: false, resumed: false }),
 *   "hello",
 * );
 * ```
 */
export interface WSClientOpenEvent extends WSOpenEvent {
  /** False at the first open, true at each open after it (`reconnect`). */
  readonly reconnected: boolean;
  /**
   * True when the server took the session up where it broke (resuming);
   * false for a fresh connection, which the application resynchronises.
   */
  readonly resumed: boolean;
}

/**
 * The event of a client's `onReconnecting` (with `handler.reconnect`): why
 * the connection ended, and when the next try comes. The client's `status`
 * is `"Connecting"` until then.
 *
 * @example Showing the wait
 * ```ts
 * import type { WSClientReconnectingEvent } from "@ws4d/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * function banner(event: WSClientReconnectingEvent): string {
 *   return `Reconnecting in ${event.delay.toFixed(1)} s (try ${event.attempt}, code ${event.code})`;
 * }
 * assertEquals(
 *   banner({ type: "reconnecting", code: 1012, reason: "", attempt: 1, delay: 0.5 }),
 *   "Reconnecting in 0.5 s (try 1, code 1012)",
 * );
 * ```
 */
export interface WSClientReconnectingEvent {
  /** Always `"reconnecting"`. */
  readonly type: "reconnecting";
  /**
   * The close code of the connection that ended (1006 for a break, or for a
   * connection that could not be made).
   */
  readonly code: number;
  /**
   * The close reason; for a connection that could not be made, why, as the
   * runtime says it (possibly empty).
   */
  readonly reason: string;
  /** The number of the coming retry since the last open, from 1. */
  readonly attempt: number;
  /** Seconds until the coming retry. */
  readonly delay: number;
}

/**
 * The client's `handler.reconnect` given as an object (SPEC.md,
 * "Reconnecting"): every field optional, durations in seconds. The delay
 * before retry _n_ is `min(maxDelay, delay × factor^(n-1))`, randomised by
 * ± `jitter` of itself.
 *
 * @example Three tries at most, one second apart
 * ```ts
 * import { WebSocket, type WSReconnectOptions } from "@ws4d/websocket";
 * import { assertMatch } from "@std/assert";
 *
 * const reconnect: WSReconnectOptions = { delay: 0, maxRetries: 2 };
 * const failed = Promise.withResolvers<string>();
 * new WebSocket("ws://127.0.0.1:9", {
 *   reconnect,
 *   onError: (_ws, event) => failed.resolve(event.errors[0]?.message ?? ""),
 * });
 * assertMatch(await failed.promise, /after 3 tries/);
 * ```
 */
export interface WSReconnectOptions {
  /**
   * Seconds before the first retry, 0 to 60 (a minute): a larger value is
   * taken for milliseconds, a `RangeError`.
   * @default {0.5}
   */
  readonly delay?: number | undefined;
  /**
   * Seconds: the longest delay, before jitter, from `delay` to 3600 (an
   * hour): a larger value is taken for milliseconds, a `RangeError`.
   * @default {10}
   */
  readonly maxDelay?: number | undefined;
  /**
   * What each delay is multiplied by for the next retry (at least 1).
   * @default {2}
   */
  readonly factor?: number | undefined;
  /**
   * The randomisation of each delay: ± this fraction of it (0 to 1).
   * @default {0.5}
   */
  readonly jitter?: number | undefined;
  /**
   * How many retries in a row may fail before the client ends for good (an
   * integer, or `Infinity`); the first attempt is not a retry.
   * @default {Infinity}
   */
  readonly maxRetries?: number | undefined;
}

/**
 * The event of `onMessage`. `T` is the type of `data`, or a data type that
 * names it ({@linkcode WSData}): `WSMessageEvent<string>` and
 * `WSMessageEvent<"text">` both have a `string`, `WSMessageEvent<"object">`
 * an `unknown`, `WSMessageEvent<WSObjectOf<Chat>>` a `Chat`.
 */
export interface WSMessageEvent<T = unknown> {
  /** Always `"message"`. */
  readonly type: "message";
  /** A `string` (`"text"`), a `Uint8Array` (`"blob"`) or a parsed JSON value (`"object"`). */
  readonly data: [T] extends [DataType] ? WSData<T> : T;
}

/** The event of a client's `onError`. */
export interface WSClientErrorEvent {
  /** Always `"error"`. */
  readonly type: "error";
  /** The error stack, newest first. */
  readonly errors: readonly WSError[];
}

/** The event of a server-side connection's `onError`. */
export interface WSConnectionErrorEvent {
  /** Always `"error"`. */
  readonly type: "error";
  /** The error stack, newest first. */
  readonly errors: readonly WSError[];
  /** 4D's `status`: `HTTPError` is 0 once the connection is upgraded. */
  readonly status: {
    /** The HTTP status of the failure; 0 after the upgrade. */
    readonly HTTPError: number;
    /** The same stack as `errors`. */
    readonly errors: readonly WSError[];
  };
}

/** The event of a server's `onError`. */
export interface WSServerErrorEvent {
  /** Always `"error"`. */
  readonly type: "error";
  /** The error stack, newest first. */
  readonly errors: readonly WSError[];
  /** A short description of what failed. */
  readonly statusText: string;
}

/** The event of a server-side connection's `onTerminate`. */
export interface WSConnectionTerminateEvent {
  /** Always `"terminate"`. */
  readonly type: "terminate";
  /** A valid close code: the peer's, 1005 for a close with no code, 1006 for a broken connection. */
  readonly code: number;
  /** The close reason, possibly empty. */
  readonly reason: string;
}

/** The event of a client's `onTerminate`. */
export interface WSClientTerminateEvent {
  /** Always `"terminate"`. */
  readonly type: "terminate";
  /** A valid close code: the peer's, 1005 for a close with no code, 1006 for a broken connection. */
  readonly code: number;
  /** The close reason, possibly empty. */
  readonly reason: string;
  /** Whether the close handshake completed. */
  readonly wasClean: boolean;
}

/** The event of a server's `onOpen`. */
export interface WSServerOpenEvent {
  /** Always `"open"`. */
  readonly type: "open";
}

/** The event of a server's `onTerminate`. */
export interface WSServerTerminateEvent {
  /** Always `"terminate"`. */
  readonly type: "terminate";
}

/**
 * A callback's result: a promise is waited for before the next callback of
 * the same connection; anything else is ignored, so an arrow function may
 * return what its body returns.
 */
export type WSCallbackResult = unknown;

/**
 * The upgrade request as `onConnection` sees it, read before the upgrade.
 */
export interface WSRequest {
  /** Lower-case names; a repeated header is one string joined with `", "`. */
  readonly headers: Readonly<Record<string, string>>;
  /** The URL's parameters; a repeated one is an array. */
  readonly query: Readonly<Record<string, string | string[]>>;
  /** The path and query, as in the request line (`"/status?name=ryan"`). */
  readonly url: string;
  /** The client's IP address (empty where the runtime does not give it). */
  readonly remoteAddress: string;
  /** The groups of the server's `path` pattern that matched. */
  readonly params: Readonly<Record<string, string>>;
}

/** @deprecated Use {@linkcode WSClientErrorEvent}. */
export type WSErrorEvent = WSClientErrorEvent;
/** @deprecated Use {@linkcode WSClientStatus}. */
export type WSStatus = WSClientStatus;
/** @deprecated Use {@linkcode WSConnectionTerminateEvent}. */
export type WSTerminateEvent = WSConnectionTerminateEvent;
/** @deprecated Use {@linkcode WSServerOpenEvent} or {@linkcode WSServerTerminateEvent}. */
export type WSServerEvent = WSServerOpenEvent | WSServerTerminateEvent;
