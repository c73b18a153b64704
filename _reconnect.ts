// This module is browser compatible.
/**
 * The client's `reconnect` option (SPEC.md, "Reconnecting"): its checks and
 * defaults, the delay before each retry, and which ends of a connection are
 * retried. Pure: no socket, no timer, no `Deno.*`.
 *
 * @module
 */
import { describe } from "./_checks.ts";

/** The fields of `handler.reconnect` given as an object (seconds). */
export interface ReconnectOptions {
  /**
   * The delay before the first retry, in seconds.
   * @default {0.5}
   */
  readonly delay?: number | undefined;
  /**
   * The longest delay, in seconds, before jitter.
   * @default {10}
   */
  readonly maxDelay?: number | undefined;
  /**
   * What each delay is multiplied by for the next retry.
   * @default {2}
   */
  readonly factor?: number | undefined;
  /**
   * The randomisation of each delay: ± this fraction of it (0 to 1).
   * @default {0.5}
   */
  readonly jitter?: number | undefined;
  /**
   * How many retries in a row may fail before the client ends for good.
   * @default {Infinity}
   */
  readonly maxRetries?: number | undefined;
}

/** Every default of `handler.reconnect` (SPEC.md, "Reconnecting"). */
export const RECONNECT_DEFAULTS = {
  delay: 0.5,
  maxDelay: 10,
  factor: 2,
  jitter: 0.5,
  maxRetries: Infinity,
} as const;

const ACTION = "Cannot create WebSocket";
const NAME = "handler.reconnect";
const KNOWN = new Set(Object.keys(RECONNECT_DEFAULTS));

/**
 * Checks a number option: a `TypeError` for a non-number, a `RangeError` for
 * a value out of `[min, max]`, not an integer where one is needed, or not
 * finite unless `infinite` allows `Infinity`. Same message style as the
 * server's options.
 *
 * @example A delay below 0
 * ```ts
 * import { checkNumberOption } from "./_reconnect.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(
 *   () => checkNumberOption(-1, "handler.reconnect.delay", "Cannot create WebSocket", { min: 0 }),
 *   RangeError,
 * );
 * ```
 */
export function checkNumberOption(
  value: unknown,
  name: string,
  action: string,
  rule: {
    readonly min: number;
    readonly max?: number;
    readonly integer?: boolean;
    readonly infinite?: boolean;
  },
): number {
  if (typeof value !== "number") {
    throw new TypeError(
      `${action}: ${name} must be a number, current value is ${
        describe(value)
      }`,
    );
  }
  const infiniteOk = rule.infinite === true && value === Infinity;
  if (
    Number.isNaN(value) || value < rule.min ||
    (rule.max !== undefined && value > rule.max) ||
    (!infiniteOk && !Number.isFinite(value)) ||
    (!infiniteOk && rule.integer === true && !Number.isInteger(value))
  ) {
    const what = rule.integer === true ? "an integer" : "a number";
    const upper = rule.max !== undefined ? ` and at most ${rule.max}` : "";
    throw new RangeError(
      `${action}: ${name} must be ${what} of at least ${rule.min}${upper}, current value is ${value}`,
    );
  }
  return value;
}

/**
 * The resolved `reconnect` policy: its five values, and the delay before
 * each retry.
 *
 * @example The delays of the defaults, without jitter's randomness
 * ```ts
 * import { Backoff } from "./_reconnect.ts";
 * import assert from "node:assert/strict";
 *
 * const backoff = new Backoff({ jitter: 0 });
 * assert.deepEqual(
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
   * @throws {RangeError} For a field out of its range: `delay` ≥ 0,
   * `maxDelay` ≥ `delay`, `factor` ≥ 1, `jitter` in [0, 1], `maxRetries` an
   * integer ≥ 0 or `Infinity`.
   */
  constructor(options: ReconnectOptions = {}) {
    for (const name of Object.keys(options)) {
      if (!KNOWN.has(name)) {
        throw new TypeError(`${ACTION}: ${NAME}.${name} is not an option`);
      }
    }
    const {
      delay = RECONNECT_DEFAULTS.delay,
      maxDelay = RECONNECT_DEFAULTS.maxDelay,
      factor = RECONNECT_DEFAULTS.factor,
      jitter = RECONNECT_DEFAULTS.jitter,
      maxRetries = RECONNECT_DEFAULTS.maxRetries,
    } = options;
    this.delay = checkNumberOption(delay, `${NAME}.delay`, ACTION, { min: 0 });
    this.maxDelay = checkNumberOption(maxDelay, `${NAME}.maxDelay`, ACTION, {
      min: this.delay,
    });
    this.factor = checkNumberOption(factor, `${NAME}.factor`, ACTION, {
      min: 1,
    });
    this.jitter = checkNumberOption(jitter, `${NAME}.jitter`, ACTION, {
      min: 0,
      max: 1,
    });
    this.maxRetries = checkNumberOption(
      maxRetries,
      `${NAME}.maxRetries`,
      ACTION,
      { min: 0, integer: true, infinite: true },
    );
  }

  /**
   * The delay, in seconds, before retry number `attempt` (1 for the first
   * retry after a break or a failed first attempt): `delay × factor^(attempt
   * − 1)`, capped at `maxDelay`, then randomised within ± `jitter` of itself.
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
 * import assert from "node:assert/strict";
 *
 * assert.equal(resolveReconnect(undefined), null);
 * assert.equal(resolveReconnect(true)?.maxDelay, 10);
 * assert.equal(resolveReconnect({ maxRetries: 2 })?.maxRetries, 2);
 * ```
 */
export function resolveReconnect(value: unknown): Backoff | null {
  if (value === undefined || value === false) return null;
  if (value === true) return new Backoff();
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(
      `${ACTION}: ${NAME} must be true or an object, current value is ${
        describe(value)
      }`,
    );
  }
  return new Backoff(value as ReconnectOptions);
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
 *   1010, 3000–4999, and any other code (reserved or invalid: the server did
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
 * import assert from "node:assert/strict";
 *
 * assert.equal(isRetried(1006), true);
 * assert.equal(isRetried(1000), false);
 * assert.equal(isRetried("failed", 503), true);
 * assert.equal(isRetried("failed", 403), false);
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
