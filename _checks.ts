// This module is browser compatible.
/**
 * Every argument check of the package, with its message: a wrong type is a
 * `TypeError`, a value out of range a `RangeError`, unparseable text a
 * `SyntaxError`, each naming the argument and its current value in std's
 * style ("Cannot create WebSocket: handler.maxQueued must be an integer of
 * at least 0, current value is -1").
 *
 * @module
 */
import type { DataType } from "./_types.ts";

const UTF8_ENCODER = new TextEncoder();

/** A short, safe rendering of a value for error messages. */
export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return "a function";
  if (typeof value === "symbol") return "a symbol";
  if (typeof value === "bigint") return `${value}n`;
  if (value === null || typeof value !== "object") return String(value);
  return Array.isArray(value) ? "an array" : "an object";
}

/** What a number must be: at least `min`, at most `max`, an integer, finite. */
export interface NumberRule {
  readonly min: number;
  readonly max?: number;
  readonly integer?: boolean;
  /** `Infinity` is allowed (for "unlimited"). */
  readonly infinite?: boolean;
  /**
   * A duration in seconds, and its `max` said in words ("a day"): a value
   * out of range is a `RangeError` that says the unit is seconds, for the
   * milliseconds given by mistake (`idleTimeout: 30000`).
   */
  readonly seconds?: string;
}

/**
 * Checks a number: a `TypeError` for a non-number, a `RangeError` for NaN, a
 * value out of range, not an integer where one is needed, or not finite.
 */
export function checkNumber(
  value: unknown,
  name: string,
  action: string,
  rule: NumberRule,
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
    if (rule.seconds !== undefined) {
      throw new RangeError(
        `${action}: ${name} is in seconds and must be ${what} of at least ${rule.min} and at most ${rule.max} (${rule.seconds}), current value is ${value}${
          rule.max !== undefined && value > rule.max && Number.isFinite(value)
            ? " (the unit is seconds, not milliseconds)"
            : ""
        }`,
      );
    }
    throw new RangeError(
      `${action}: ${name} must be ${what} of at least ${rule.min}${upper}, current value is ${value}`,
    );
  }
  return value;
}

/** An object (not an array, not null), or a `TypeError` naming it. */
export function checkObject(
  value: unknown,
  name: string,
  action: string,
): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(
      `${action}: ${name} must be an object, current value is ${
        describe(value)
      }`,
    );
  }
  return value as Record<string, unknown>;
}

/** A string, or `undefined` when absent; else a `TypeError`. */
export function checkString(
  value: unknown,
  name: string,
  action: string,
): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string") {
    throw new TypeError(
      `${action}: ${name} must be a string, current value is ${
        describe(value)
      }`,
    );
  }
  return value;
}

/** A boolean, or `undefined` when absent; else a `TypeError`. */
export function checkBoolean(
  value: unknown,
  name: string,
  action: string,
): boolean | undefined {
  if (value === undefined || typeof value === "boolean") return value;
  throw new TypeError(
    `${action}: ${name} must be true or false, current value is ${
      describe(value)
    }`,
  );
}

/** A function, or `undefined` when absent; else a `TypeError`. */
export function checkFunction<F>(
  value: unknown,
  name: string,
  action: string,
): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "function") {
    throw new TypeError(
      `${action}: ${name} must be a function, current value is ${
        describe(value)
      }`,
    );
  }
  return value as F;
}

/** A copy of an array of strings, or `undefined` when absent. */
export function checkStrings(
  value: unknown,
  name: string,
  action: string,
): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) {
    throw new TypeError(
      `${action}: ${name} must be an array of strings, current value is ${
        describe(value)
      }`,
    );
  }
  return [...value];
}

/** A subprotocol is an HTTP token (RFC 6455 §4.1, RFC 7230 §3.2.6). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Subprotocols: HTTP tokens, or a `TypeError` naming the first that is not. */
export function checkTokens(
  list: readonly string[],
  name: string,
  action: string,
): void {
  for (const item of list) {
    if (!TOKEN.test(item)) {
      throw new TypeError(
        `${action}: ${name} must hold HTTP tokens, current value is ${
          describe(item)
        }`,
      );
    }
  }
}

/** Throws a `TypeError` naming `name` unless `value` is a `DataType`. */
export function checkDataType(
  value: unknown,
  name: string,
  action: string,
): DataType {
  if (value === "text" || value === "blob" || value === "object") return value;
  throw new TypeError(
    `${action}: ${name} must be "text", "blob" or "object", current value is ${
      describe(value)
    }`,
  );
}

/** A close reason: a string of at most 123 bytes (RFC 6455 §5.5). */
export function checkReason(
  reason: unknown,
  name: string,
  action: string,
): string {
  if (reason === undefined) return "";
  if (typeof reason !== "string") {
    throw new TypeError(
      `${action}: ${name} must be a string, current value is ${
        describe(reason)
      }`,
    );
  }
  const size = UTF8_ENCODER.encode(reason).byteLength;
  if (size > 123) {
    throw new RangeError(
      `${action}: ${name} must be at most 123 bytes of UTF-8, current size is ${size}`,
    );
  }
  return reason;
}

/**
 * A close code given by the user: an integer, and where `clientRange` is
 * set, 1000 or 3000-4999 (a client socket may send no other).
 */
export function checkCloseCode(
  code: unknown,
  action: string,
  clientRange: boolean,
): number | undefined {
  if (code === undefined) return undefined;
  if (typeof code !== "number") {
    throw new TypeError(
      `${action}: code must be a number, current value is ${describe(code)}`,
    );
  }
  if (
    clientRange
      ? code !== 1000 && !(Number.isInteger(code) && code >= 3000 &&
        code <= 4999)
      : !Number.isInteger(code)
  ) {
    throw new RangeError(
      `${action}: code must be ${
        clientRange ? "1000 or 3000-4999" : "an integer"
      }, current value is ${code}`,
    );
  }
  return code;
}

/** A `ws://` or `wss://` URL without a fragment, or a `SyntaxError`. */
export function checkUrl(url: unknown, action: string): string {
  if (typeof url !== "string") {
    throw new TypeError(
      `${action}: url must be a string, current value is ${describe(url)}`,
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SyntaxError(
      `${action}: url is not a URL, current value is ${describe(url)}`,
    );
  }
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new SyntaxError(
      `${action}: url must start with ws:// or wss://, current value is ${
        describe(url)
      }`,
    );
  }
  if (parsed.hash !== "") {
    throw new SyntaxError(
      `${action}: url must not have a fragment, current value is ${
        describe(url)
      }`,
    );
  }
  return url;
}

/**
 * Handshake headers as pairs: a value may be an array for a repeated name;
 * `undefined` when there are none.
 */
export function checkHeaders(
  headers: unknown,
  name: string,
  action: string,
): [string, string][] | undefined {
  if (headers === undefined) return undefined;
  const given = checkObject(headers, name, action);
  const pairs: [string, string][] = [];
  for (const [key, value] of Object.entries(given)) {
    const values: unknown[] = Array.isArray(value) ? value : [value];
    for (const item of values) {
      if (typeof item !== "string") {
        throw new TypeError(
          `${action}: ${name}["${key}"] must be a string or an array of strings, current value is ${
            describe(value)
          }`,
        );
      }
      pairs.push([key, item]);
    }
  }
  return pairs.length > 0 ? pairs : undefined;
}

/** One subprotocol or a list of them, as a list. */
export function checkProtocolList(
  protocols: unknown,
  name: string,
  action: string,
): string[] {
  if (protocols === undefined) return [];
  const list: unknown[] = Array.isArray(protocols) ? protocols : [protocols];
  if (list.some((item) => typeof item !== "string")) {
    throw new TypeError(
      `${action}: ${name} must be a string or an array of strings, current value is ${
        describe(protocols)
      }`,
    );
  }
  return list as string[];
}

/** One option of a table: its default, and the check of a given value. */
export interface Option<T> {
  /** The value when the option is not given (`undefined`). */
  readonly default: T;
  /**
   * Checks a given value (never `undefined`), named `name` in errors;
   * `before` holds the values of the options before it in its table.
   */
  check(value: unknown, name: string, before: Record<string, unknown>): T;
}

/** The values of an option table, once resolved. */
export type Resolved<Table> = {
  readonly [K in keyof Table]: Table[K] extends Option<infer T> ? T : never;
};

/**
 * An option: its default and its check.
 *
 * @example
 * ```ts
 * import { option } from "./_checks.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const flag = option(false, (value) => value === true);
 * assertEquals(flag.default, false);
 * ```
 */
export function option<T>(
  fallback: T,
  check: (value: unknown, name: string, before: Record<string, unknown>) => T,
): Option<T> {
  return { default: fallback, check };
}

/**
 * A number option: its default, and the rule its values keep.
 *
 * @example
 * ```ts
 * import { numberOption } from "./_checks.ts";
 * import { assertThrows } from "@std/assert";
 *
 * const timeout = numberOption(30, { min: 0 }, "Cannot create it");
 * assertThrows(() => timeout.check(-1, "options.timeout", {}), RangeError);
 * ```
 */
export function numberOption(
  fallback: number,
  rule: NumberRule,
  action: string,
): Option<number> {
  return option(
    fallback,
    (value, name) => checkNumber(value, name, action, rule),
  );
}

/**
 * The defaults of an option table.
 *
 * @example
 * ```ts
 * import { defaultsOf, numberOption } from "./_checks.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const table = { per: numberOption(1, { min: 0 }, "Cannot") };
 * assertEquals(defaultsOf(table), { per: 1 });
 * ```
 */
export function defaultsOf<Table extends Record<string, Option<unknown>>>(
  table: Table,
): Resolved<Table> {
  const values: Record<string, unknown> = {};
  for (const name of Object.keys(table)) values[name] = table[name]?.default;
  // The keys are the table's, each value its option's: the mapped type.
  return Object.freeze(values) as Resolved<Table>;
}

/**
 * Resolves `given` by `table`: a name the table does not know is a
 * `TypeError`; each option is checked where given, else takes its default.
 *
 * @param prefix How the options are named in errors (`"options"`).
 * @param strict Whether a name the table does not know is an error (not
 * for a client's handler, which holds its callbacks and the user's own
 * members beside its settings).
 *
 * @example
 * ```ts
 * import { numberOption, resolveOptions } from "./_checks.ts";
 * import { assertEquals, assertThrows } from "@std/assert";
 *
 * const table = { per: numberOption(1, { min: 0 }, "Cannot") };
 * assertEquals(resolveOptions(table, {}, "options", "Cannot"), { per: 1 });
 * assertThrows(() => resolveOptions(table, { pre: 2 }, "options", "Cannot"), TypeError);
 * ```
 */
export function resolveOptions<Table extends Record<string, Option<unknown>>>(
  table: Table,
  given: Record<string, unknown>,
  prefix: string,
  action: string,
  strict = true,
): Resolved<Table> {
  for (const name of strict ? Object.keys(given) : []) {
    if (!Object.hasOwn(table, name)) {
      throw new TypeError(`${action}: ${prefix}.${name} is not an option`);
    }
  }
  const values: Record<string, unknown> = {};
  for (const name of Object.keys(table)) {
    const value = given[name];
    const spec = table[name];
    if (spec === undefined) continue;
    values[name] = value === undefined
      ? spec.default
      : spec.check(value, `${prefix}.${name}`, values);
  }
  // The keys are the table's, each value its option's: the mapped type.
  return values as Resolved<Table>;
}
