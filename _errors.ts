// This module is browser compatible.
/**
 * The `ErrorCode` table, the one factory of `onError` entries, and the one
 * place where an error with nowhere else to go is printed.
 *
 * @module
 */
import type { WSError } from "./_types.ts";

/**
 * The stable numbers of the `errCode` field of every {@linkcode WSError}.
 * A number never changes meaning; new codes are only added.
 *
 * @example An exhaustive `switch` over `errCode`
 * ```ts
 * import { ErrorCode, type WSError } from "@ws4d/websocket";
 * import { assertEquals } from "@std/assert";
 *
 * function isTheData(error: WSError): boolean {
 *   switch (error.errCode) {
 *     case ErrorCode.InvalidUTF8:
 *     case ErrorCode.InvalidJSON:
 *     case ErrorCode.MessageTooLarge:
 *       return true;
 *     case ErrorCode.CallbackFailed:
 *     case ErrorCode.ConnectionFailed:
 *     case ErrorCode.InvalidHandler:
 *     case ErrorCode.ConnectionRefused:
 *     case ErrorCode.MessagesDropped:
 *     case ErrorCode.SlowConsumer:
 *     case ErrorCode.BackplaneFailed:
 *     case ErrorCode.ProtocolError:
 *     case ErrorCode.RateLimited:
 *       return false;
 *     default: {
 *       const unknown: never = error.errCode;
 *       return unknown;
 *     }
 *   }
 * }
 * assertEquals(ErrorCode.InvalidJSON, 3);
 * assertEquals(
 *   isTheData({ errCode: 3, message: "", componentSignature: "ws4d" }),
 *   true,
 * );
 * ```
 */
export const ErrorCode: {
  /** A user callback threw or its promise rejected (close 1011). */
  readonly CallbackFailed: 1;
  /** A message was not valid UTF-8 where text was needed (close 1007). */
  readonly InvalidUTF8: 2;
  /** A message was not valid JSON under `dataType: "object"` (close 1007). */
  readonly InvalidJSON: 3;
  /** A message was larger than `maxMessageSize` (close 1009). */
  readonly MessageTooLarge: 4;
  /** The connection could not be made, or broke before it opened. */
  readonly ConnectionFailed: 5;
  /** `onConnection` returned a handler without `onMessage`, or a `Response` that is no refusal. */
  readonly InvalidHandler: 6;
  /** `onConnection` threw or its promise rejected (HTTP 500). */
  readonly ConnectionRefused: 7;
  /** Messages queued while connecting were dropped because it never opened. */
  readonly MessagesDropped: 8;
  /** The outgoing buffer passed `maxBufferedAmount` (close 1008). */
  readonly SlowConsumer: 9;
  /** The backplane of a server failed; delivery stays local until it is back. */
  readonly BackplaneFailed: 10;
  /** The peer broke the WebSocket protocol (RFC 6455): the socket failed it (1002). */
  readonly ProtocolError: 11;
  /** The peer sent faster than the server's `rateLimit` (close 1008). */
  readonly RateLimited: 12;
} = Object.freeze({
  CallbackFailed: 1,
  InvalidUTF8: 2,
  InvalidJSON: 3,
  MessageTooLarge: 4,
  ConnectionFailed: 5,
  InvalidHandler: 6,
  ConnectionRefused: 7,
  MessagesDropped: 8,
  SlowConsumer: 9,
  BackplaneFailed: 10,
  ProtocolError: 11,
  RateLimited: 12,
});

/** One of the names of {@linkcode ErrorCode}. */
export type ErrorCodeName = keyof typeof ErrorCode;
/** One of the numbers of {@linkcode ErrorCode}. */
export type ErrorCodeValue = (typeof ErrorCode)[ErrorCodeName];

/**
 * The close code that a server sends for a fatal error of each kind
 * (RFC 6455 §7.4.1); a client always closes with 1000 and a reason.
 */
const CLOSE_CODES: Partial<Record<ErrorCodeValue, number>> = {
  [ErrorCode.CallbackFailed]: 1011,
  [ErrorCode.InvalidUTF8]: 1007,
  [ErrorCode.InvalidJSON]: 1007,
  [ErrorCode.MessageTooLarge]: 1009,
  [ErrorCode.SlowConsumer]: 1008,
  [ErrorCode.ProtocolError]: 1002,
  [ErrorCode.RateLimited]: 1008,
};

/** The short close reason that goes with each fatal error. */
const CLOSE_REASONS: Partial<Record<ErrorCodeValue, string>> = {
  [ErrorCode.InvalidUTF8]: "invalid UTF-8",
  [ErrorCode.InvalidJSON]: "invalid JSON",
  [ErrorCode.MessageTooLarge]: "message too large",
  [ErrorCode.SlowConsumer]: "slow consumer",
  [ErrorCode.ProtocolError]: "protocol error",
  [ErrorCode.RateLimited]: "rate limit",
};

/** The name of each `ErrorCode` value, for counting errors by name. */
export const ERROR_NAMES: Readonly<Record<ErrorCodeValue, ErrorCodeName>> =
  Object.fromEntries(
    Object.entries(ErrorCode).map(([name, value]) => [value, name]),
  ) as Record<ErrorCodeValue, ErrorCodeName>;

/** An internal error that carries its {@linkcode ErrorCode}. */
export class Ws4dError extends Error {
  /** One of the values of {@linkcode ErrorCode}. */
  readonly errCode: ErrorCodeValue;

  constructor(errCode: ErrorCodeValue, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "Ws4dError";
    this.errCode = errCode;
  }

  /** The close code a server sends for this error (1011 for any other). */
  get closeCode(): number {
    return CLOSE_CODES[this.errCode] ?? 1011;
  }

  /** The close reason that goes with the close code, by the side that closes. */
  closeReason(side: "server" | "client"): string {
    if (this.errCode === ErrorCode.CallbackFailed) return `${side} error`;
    return CLOSE_REASONS[this.errCode] ?? "error";
  }

  /** The entry of an `onError` stack. */
  toEntry(): WSError {
    return wsError(this.errCode, this.message, this.cause);
  }
}

/** Builds one entry of an `onError` stack. */
export function wsError(
  errCode: ErrorCodeValue,
  message: string,
  cause?: unknown,
): WSError {
  return cause === undefined
    ? { errCode, message, componentSignature: "ws4d" }
    : { errCode, message, componentSignature: "ws4d", cause };
}

/** Turns anything thrown (a string, a plain object) into an `Error`. */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  let text: string;
  try {
    text = typeof thrown === "string" ? thrown : JSON.stringify(thrown);
  } catch {
    text = String(thrown);
  }
  return new Error(`Non-error thrown: ${text}`, { cause: thrown });
}

/**
 * The fatal error behind a socket's `error` event once open, from the
 * message of Deno's WebSocket engine; `null` for a broken connection (the
 * peer cut it), which is no error of the peer's data.
 */
export function socketFailure(message: string): Ws4dError | null {
  if (/utf-?8/i.test(message)) {
    return new Ws4dError(
      ErrorCode.InvalidUTF8,
      `The peer sent invalid UTF-8: ${message}`,
    );
  }
  if (/too large/i.test(message) && !/ping/i.test(message)) {
    return new Ws4dError(
      ErrorCode.MessageTooLarge,
      `The peer sent a frame too large: ${message}`,
    );
  }
  if (
    /reserved bits|invalid value|opcode|control frame|ping frame too large|invalid close|continuation|fragment|mask/i
      .test(message)
  ) {
    return new Ws4dError(
      ErrorCode.ProtocolError,
      `The peer broke the WebSocket protocol: ${message}`,
    );
  }
  return null;
}

/** The entry for a user callback that threw or rejected. */
export function callbackFailed(name: string, thrown: unknown): Ws4dError {
  const error = toError(thrown);
  return new Ws4dError(
    ErrorCode.CallbackFailed,
    `Callback ${name} failed: ${error.message}`,
    error,
  );
}

/**
 * The last resort for errors nobody else receives: the only `console` call of
 * the package (SPEC.md, "Errors").
 */
export function printErrors(
  where: string,
  errors: readonly WSError[],
): void {
  // deno-lint-ignore no-console
  console.error(`ws4d: unhandled error in ${where}:`, errors);
}
