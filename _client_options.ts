// This module is browser compatible.
/**
 * The client's settings (the non-callback members of its handler): each
 * one's default and check in one table (`CLIENT_SETTINGS`; their types and
 * docs are `WSClientHandler`'s), and `handler.reconnect`'s.
 *
 * @module
 */
import {
  callbackNames,
  checkCallbackNames,
  CLIENT_CALLBACKS,
} from "./_handlers.ts";
import {
  checkBoolean,
  checkDataType,
  checkHeaders,
  checkNumber,
  checkObject,
  checkProtocolList,
  defaultsOf,
  describe,
  numberOption,
  option,
  type Resolved,
  resolveOptions,
} from "./_checks.ts";
import type { DataType } from "./_types.ts";

const CLIENT = "Cannot create WebSocket";

/**
 * The longest delays of `handler.reconnect`, in seconds: past them a value
 * is taken for milliseconds given by mistake, a `RangeError` that says the
 * unit is seconds.
 */
const RECONNECT_MAXIMUMS = Object.freeze({
  /** `delay`, the first retry's: a minute. */
  delay: 60,
  /** `maxDelay`: an hour. */
  maxDelay: 3_600,
});

const RECONNECT = "handler.reconnect";

/** `handler.reconnect`: each field's default and check. */
const RECONNECT_FIELDS = {
  delay: numberOption(0.5, {
    min: 0,
    max: RECONNECT_MAXIMUMS.delay,
    seconds: "a minute",
  }, CLIENT),
  // Not given: 10, or `delay` when that is longer (`{ delay: 60 }` works).
  maxDelay: option(
    10,
    (value, name, before) =>
      checkNumber(value, name, CLIENT, {
        min: Number(before.delay),
        max: RECONNECT_MAXIMUMS.maxDelay,
        seconds: "an hour",
      }),
  ),
  factor: numberOption(2, { min: 1 }, CLIENT),
  jitter: numberOption(0.5, { min: 0, max: 1 }, CLIENT),
  maxRetries: numberOption(
    Infinity,
    { min: 0, integer: true, infinite: true },
    CLIENT,
  ),
};

/** The client's `handler.reconnect` once resolved (seconds). */
export type ResolvedReconnect = Resolved<typeof RECONNECT_FIELDS>;

/** The client's `reconnect: true` (SPEC.md, "Reconnecting"). */
export const RECONNECT_DEFAULTS: ResolvedReconnect = defaultsOf(
  RECONNECT_FIELDS,
);

/**
 * Every setting of a client's handler: its default and its check (its
 * type and doc are `WSClientHandler`'s).
 */
export const CLIENT_SETTINGS = {
  dataType: option<DataType>(
    "text",
    (value, name) => checkDataType(value, name, CLIENT),
  ),
  headers: option<[string, string][] | undefined>(
    undefined,
    (value, name) => checkHeaders(value, name, CLIENT),
  ),
  protocols: option<string[]>(
    [],
    (value, name) => checkProtocolList(value, name, CLIENT),
  ),
  maxQueued: numberOption(
    1000,
    { min: 0, integer: true, infinite: true },
    CLIENT,
  ),
  reconnect: option<ResolvedReconnect | null>(null, resolveReconnect),
  resume: option<boolean | undefined>(
    undefined,
    (value, name) => checkBoolean(value, name, CLIENT),
  ),
};

/** The client's settings once checked, defaults applied. */
export type ResolvedClientSettings = Resolved<typeof CLIENT_SETTINGS>;

/** The client handler's callbacks and settings, by lower-case name. */
const CLIENT_NAMES = callbackNames([
  ...CLIENT_CALLBACKS,
  ...Object.keys(CLIENT_SETTINGS),
]);

/** Checks the settings of a client's handler and applies the defaults. */
export function resolveClientSettings(
  handler: unknown,
): ResolvedClientSettings {
  const given = checkObject(handler ?? {}, "handler", CLIENT);
  checkCallbackNames(given, CLIENT_NAMES, "handler", CLIENT);
  const settings = resolveOptions(
    CLIENT_SETTINGS,
    given,
    "handler",
    CLIENT,
    false,
  );
  // A fresh list each time: the default is shared.
  return given.protocols === undefined
    ? { ...settings, protocols: [] }
    : settings;
}

/**
 * Resolves `handler.reconnect`: `undefined` or `false` is off (`null`),
 * `true` the defaults, an object sets some of them
 * ({@linkcode checkReconnect}).
 *
 * @throws {TypeError} For a value of another type, an unknown field, or a
 * field that is not a number.
 * @throws {RangeError} For a field out of its range.
 */
export function resolveReconnect(value: unknown): ResolvedReconnect | null {
  if (value === undefined || value === false) return null;
  if (value === true) return RECONNECT_DEFAULTS;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(
      `${CLIENT}: ${RECONNECT} must be true or an object, current value is ${
        describe(value)
      }`,
    );
  }
  return checkReconnect(value);
}

/**
 * Checks the fields of `handler.reconnect` given as an object and applies
 * the defaults: `delay` from 0 to 60 (a minute), `maxDelay` from `delay` to
 * 3600 (an hour; when not given, 10 or `delay` if that is longer),
 * `factor` >= 1,
 * `jitter` in [0, 1], `maxRetries` an integer >= 0 or `Infinity`.
 *
 * @throws {TypeError} For an unknown field or a field that is not a number.
 * @throws {RangeError} For a field out of its range.
 */
export function checkReconnect(options: object): ResolvedReconnect {
  const given = checkObject(options, RECONNECT, CLIENT);
  const resolved = resolveOptions(RECONNECT_FIELDS, given, RECONNECT, CLIENT);
  return given.maxDelay === undefined
    ? {
      ...resolved,
      maxDelay: Math.max(RECONNECT_DEFAULTS.maxDelay, resolved.delay),
    }
    : resolved;
}
