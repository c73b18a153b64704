// This module is browser compatible.
/**
 * The client's `reconnect` option (SPEC.md, "Reconnecting"): the delay
 * before each retry, which ends of a connection are retried, and the state
 * of a client that reconnects. Its checks and defaults are `_client_options.ts`'s. No socket is touched
 * and no timer set here: the session does that.
 *
 * @module
 */
import {
  checkReconnect,
  resolveReconnect as resolveReconnectOptions,
} from "./_client_options.ts";
import type { WSClientOpenEvent, WSReconnectOptions } from "./_types.ts";

/**
 * The resolved `reconnect` policy: its five values, and the delay before
 * each retry.
 *
 * @example The delays of the defaults, without jitter's randomness
 * ```ts
 * import { Backoff } from "./_reconnect.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const backoff = new Backoff({ jitter: 0 });
 * assertEquals(
 *   [1, 2, 3, 4, 5, 6].map((attempt) => backoff.nextDelay(attempt)),
 *   [0.5, 1, 2, 4, 8, 10],
 * );
 * ```
 */
export class Backoff {
  /** The delay before the first retry, in seconds. */
  readonly delay: number;
  /** The longest delay before jitter, in seconds. */
  readonly maxDelay: number;
  /** The growth of the delay from one retry to the next. */
  readonly factor: number;
  /** ± this fraction of each delay is random. */
  readonly jitter: number;
  /** Retries in a row that may fail before the client ends for good. */
  readonly maxRetries: number;

  /**
   * Checks `options` (already known to be an object) and applies the
   * defaults.
   *
   * @throws {TypeError} For an unknown field or a field that is not a number.
   * @throws {RangeError} For a field out of its range: `delay` >= 0,
   * `maxDelay` >= `delay`, `factor` >= 1, `jitter` in [0, 1], `maxRetries` an
   * integer >= 0 or `Infinity`.
   */
  constructor(options: WSReconnectOptions = {}) {
    const checked = checkReconnect(options);
    this.delay = checked.delay;
    this.maxDelay = checked.maxDelay;
    this.factor = checked.factor;
    this.jitter = checked.jitter;
    this.maxRetries = checked.maxRetries;
  }

  /**
   * The delay, in seconds, before retry number `attempt` (1 for the first
   * retry after a break or a failed first attempt): `delay × factor^(attempt
   * - 1)`, capped at `maxDelay`, then randomised within ± `jitter` of itself.
   * The cap comes before the jitter, so a delay lies within
   * `maxDelay × (1 ± jitter)`.
   *
   * @param attempt The retry's number, from 1.
   * @param random A source of numbers in [0, 1).
   * @returns The delay in seconds.
   */
  nextDelay(attempt: number, random: () => number = Math.random): number {
    const grown = this.delay === 0
      ? 0
      : this.delay * this.factor ** Math.max(0, attempt - 1);
    const base = Math.min(this.maxDelay, grown);
    if (this.jitter === 0) return base;
    return base * (1 + this.jitter * (2 * random() - 1));
  }
}

/**
 * Resolves `handler.reconnect`: `undefined` or `false` is off (`null`),
 * `true` is the defaults, an object sets some of them.
 *
 * @throws {TypeError} For a value of another type, an unknown field, or a
 * field that is not a number.
 * @throws {RangeError} For a field out of its range.
 *
 * @example
 * ```ts
 * import { resolveReconnect } from "./_reconnect.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(resolveReconnect(undefined), null);
 * assertEquals(resolveReconnect(true)?.maxDelay, 10);
 * assertEquals(resolveReconnect({ maxRetries: 2 })?.maxRetries, 2);
 * ```
 */
export function resolveReconnect(value: unknown): Backoff | null {
  const resolved = resolveReconnectOptions(value);
  return resolved === null ? null : new Backoff(resolved);
}

/** The close codes after which the client connects again (SPEC.md). */
const RETRIED_CODES: ReadonlySet<number> = new Set([
  // Deno reports 0 for a connection that broke: the same as 1006.
  0,
  1001, // going away
  1006, // abnormal closure: the connection broke
  1011, // server error
  1012, // service restart
  1013, // try again later
  1014, // bad gateway
  // Never in a close frame (RFC 6455 §7.4.1): a runtime reports a failed TLS
  // handshake with it, which the SPEC retries ("refused, DNS, TLS").
  1015,
]);

/**
 * Whether the client connects again after its connection ended this way
 * (SPEC.md, "Reconnecting"). The user's `terminate()` is final and is the
 * caller's to tell; this judges what the network and the server did.
 *
 * - `"failed"`: the connection could not be made. Retried, unless the
 *   runtime tells a handshake answered 4xx (`httpStatus` 400 to 499): then
 *   final. Refused, DNS, TLS, an answer 5xx or none at all are retried.
 * - A close code: retried for 1006 (and Deno's 0), 1001, 1011, 1012, 1013,
 *   1014 and 1015 (TLS); final for 1000, 1002, 1003, 1005, 1007, 1008, 1009,
 *   1010, 3000-4999, and any other code (reserved or invalid: the server did
 *   something the SPEC does not ask to retry).
 *
 * @param code A close code, or `"failed"` when the connection never opened.
 * @param httpStatus The status of the handshake's answer, when the runtime
 * tells it.
 * @returns `true` when the client should connect again.
 *
 * @example
 * ```ts
 * import { isRetried } from "./_reconnect.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(isRetried(1006), true);
 * assertEquals(isRetried(1000), false);
 * assertEquals(isRetried("failed", 503), true);
 * assertEquals(isRetried("failed", 403), false);
 * ```
 */
export function isRetried(
  code: number | "failed",
  httpStatus?: number,
): boolean {
  if (code === "failed") {
    return httpStatus === undefined || httpStatus < 400 || httpStatus > 499;
  }
  return RETRIED_CODES.has(code);
}

/** "Invalid status code: 403" (Deno), "Expected 101 status code: 403" (Bun). */
const HANDSHAKE_STATUS = /\bstatus code:? ?(\d{3})\b/i;

/**
 * The HTTP status of a refused handshake, where the runtime's message says
 * it (Deno, Bun); `undefined` where it does not (Node's undici, browsers).
 *
 * @param message Why the connection could not be made, as the runtime says it.
 * @returns The status, from 100 to 599, or `undefined`.
 *
 * @example
 * ```ts
 * import { handshakeStatus } from "./_reconnect.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(
 *   handshakeStatus("NetworkError: failed to connect to WebSocket: Invalid status code: 403"),
 *   403,
 * );
 * assertEquals(handshakeStatus("Expected 101 status code: 503"), 503);
 * assertEquals(handshakeStatus("Received network error or non-101 status code."), undefined);
 * ```
 */
export function handshakeStatus(message: string): number | undefined {
  const found = HANDSHAKE_STATUS.exec(message);
  if (found === null) return undefined;
  const status = Number(found[1]);
  return status >= 100 && status <= 599 ? status : undefined;
}

/** The event of a client's first `onOpen`, with or without `reconnect`. */
export const FIRST_OPEN: WSClientOpenEvent = Object.freeze({
  type: "open",
  reconnected: false,
  resumed: false,
});

/** The event of each later `onOpen`, not resumed. */
const REOPEN: WSClientOpenEvent = Object.freeze({
  type: "open",
  reconnected: true,
  resumed: false,
});

/** The event of an `onOpen` that resumed the session. */
const RESUMED_OPEN: WSClientOpenEvent = Object.freeze({
  type: "open",
  reconnected: true,
  resumed: true,
});

/**
 * A client's reconnect state: the policy and the count of retries since the
 * last open. The session asks it, at each end that is neither the user's
 * `terminate()` nor a fatal error, whether and when to connect again; it
 * holds no timer and touches no socket (the client's `Dialer` makes them).
 *
 * @example A server that restarts, then a final close
 * ```ts
 * import { Backoff, Reconnector } from "./_reconnect.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const reconnector = new Reconnector(new Backoff({ jitter: 0, maxRetries: 1 }));
 * assertEquals(reconnector.opened().reconnected, false);
 * assertEquals(reconnector.next(1012), 0.5); // retry 1, in 0.5 s
 * assertEquals(reconnector.next("failed", "tcp connect error"), null); // maxRetries reached
 * assertEquals(reconnector.failures, 1);
 * assertEquals(reconnector.opened().reconnected, true);
 * assertEquals(reconnector.next("failed", "Invalid status code: 403"), null);
 * assertEquals(reconnector.next(4000), null); // the server meant it
 * ```
 */
export class Reconnector {
  /** The delays and `maxRetries`. */
  readonly backoff: Backoff;
  readonly #random: () => number;
  /** The number of the latest retry since the last open (0 before any). */
  attempt = 0;
  /** Tries in a row that could not connect, since the last open. */
  failures = 0;
  /** A connection has opened once. */
  #opened = false;

  /**
   * @param backoff The policy.
   * @param random A source of numbers in [0, 1), for the jitter.
   */
  constructor(backoff: Backoff, random: () => number = Math.random) {
    this.backoff = backoff;
    this.#random = random;
  }

  /**
   * A connection opened (`resumed` the session or not): the count of
   * retries starts again.
   *
   * @returns The event of its `onOpen`.
   */
  opened(resumed = false): WSClientOpenEvent {
    const event = resumed ? RESUMED_OPEN : this.#opened ? REOPEN : FIRST_OPEN;
    this.#opened = true;
    this.attempt = 0;
    this.failures = 0;
    return event;
  }

  /**
   * A connection ended, neither by the user nor by a fatal error.
   *
   * @param code Its close code, or `"failed"` when it could not be made.
   * @param reason Why it could not be made, as the runtime says it: a
   * handshake answered 4xx is final where the runtime tells the status.
   * @returns The delay in seconds before the next try, or `null` when the
   * client ends for good: a final case, or `maxRetries` retries in a row
   * have failed.
   */
  next(code: number | "failed", reason = ""): number | null {
    if (code === "failed") this.failures++;
    const status = code === "failed" ? handshakeStatus(reason) : undefined;
    if (!isRetried(code, status)) return null;
    if (this.attempt >= this.backoff.maxRetries) return null;
    this.attempt++;
    return this.backoff.nextDelay(this.attempt, this.#random);
  }
}
