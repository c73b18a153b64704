// This module is browser compatible.
/**
 * The server option `resume`: its type and doc ({@linkcode
 * WSResumeOptions}), each field's default and check in one table, and its
 * resolving to a session's {@linkcode ResumeLimits}.
 *
 * @module
 */
import {
  checkObject,
  defaultsOf,
  describe,
  numberOption,
  type NumberRule,
  resolveOptions,
} from "./_checks.ts";

/** The server option `resume`. */
export interface WSResumeOptions {
  /**
   * Seconds a broken connection waits for its client; then `onTerminate`
   * 1006. At most 3600 (an hour): a larger value is taken for milliseconds,
   * a `RangeError`.
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

/** The limits of a session, in the units of the server option `resume`. */
export interface ResumeLimits {
  /** How long a broken session waits for its client, in seconds. */
  readonly window: number;
  /** The most messages kept for the peer. */
  readonly maxMessages: number;
  /** The most bytes kept for the peer (a text message: its UTF-16 length). */
  readonly maxBytes: number;
}

/** The largest window the wire carries: 2³² - 1 ms, in whole seconds. */
export const MAX_WINDOW = 4_294_967;

/**
 * The longest `resume.window` accepted, in seconds (an hour): past it a value
 * is taken for milliseconds given by mistake.
 */
const MAX_RESUME_WINDOW = 3_600;

const SERVER = "Cannot create WebSocketServer";
const MiB = 1024 * 1024;

function number(fallback: number, rule: NumberRule) {
  return numberOption(fallback, rule, SERVER);
}

/** `resume`: each field's default and check. */
const RESUME = {
  window: number(60, { min: 0, max: MAX_RESUME_WINDOW, seconds: "an hour" }),
  maxMessages: number(1000, { min: 1, max: 0xffff_ffff, integer: true }),
  maxBytes: number(MiB, {
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    integer: true,
  }),
} satisfies Record<keyof ResumeLimits, unknown>;

/** The server's `resume: true` (SPEC.md, "Resuming"). */
export const DEFAULT_RESUME: ResumeLimits = defaultsOf(RESUME);

/**
 * Resolves the server option `resume`: `undefined` or `false` is off
 * (`null`), `true` is the defaults, an object sets some of them.
 *
 * @throws {TypeError} For a value of another type, an unknown field, or a
 * field that is not a number.
 * @throws {RangeError} For `window` outside 0 to 3600 s, `maxMessages`
 * not an integer from 1 to 2³² - 1, or `maxBytes` not an integer from 1.
 *
 * @example
 * ```ts
 * import { resolveResume } from "./_resume_options.ts";
 * import { assertEquals } from "@std/assert";
 *
 * assertEquals(resolveResume(undefined), null);
 * assertEquals(resolveResume({ window: 5 }), {
 *   window: 5,
 *   maxMessages: 1000,
 *   maxBytes: 1048576,
 * });
 * ```
 */
export function resolveResume(value: unknown): ResumeLimits | null {
  if (value === undefined || value === false) return null;
  if (value === true) return DEFAULT_RESUME;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(
      `${SERVER}: options.resume must be true or an object, current value is ${
        describe(value)
      }`,
    );
  }
  return Object.freeze(
    resolveOptions(
      RESUME,
      checkObject(value, "options.resume", SERVER),
      "options.resume",
      SERVER,
    ),
  );
}
