/**
 * The server's options: their defaults, in one place, and their checks, run
 * in the constructor before anything happens.
 *
 * @module
 */
import { checkDataType, DEFAULT_MAX_MESSAGE_SIZE, describe } from "./_codec.ts";
import type { DataType } from "./_types.ts";
import type { Backplane } from "./backplane.ts";

/** The options of a `WebSocketServer` once checked, defaults applied. */
export interface ResolvedServerOptions {
  readonly path: string | undefined;
  readonly dataType: DataType;
  readonly port: number | undefined;
  readonly hostname: string | undefined;
  readonly cert: string | undefined;
  readonly key: string | undefined;
  readonly protocols: readonly string[];
  readonly idleTimeout: number;
  readonly maxConnections: number;
  readonly maxMessageSize: number;
  readonly maxBufferedAmount: number;
  readonly closeTimeout: number;
  readonly allowedOrigins: ReadonlySet<string> | undefined;
  readonly backplane: Backplane | undefined;
  /** The signals that terminate the server; empty for none. */
  readonly signals: readonly string[];
}

/** Every default of the server's options (SPEC.md, WebSocketServer). */
export const SERVER_DEFAULTS = {
  dataType: "text",
  idleTimeout: 30,
  maxConnections: Infinity,
  maxMessageSize: DEFAULT_MAX_MESSAGE_SIZE,
  maxBufferedAmount: 16 * 1024 * 1024,
  closeTimeout: 5,
} as const;

/** The signals of `signals: true`. */
export const DEFAULT_SIGNALS: readonly string[] = ["SIGINT", "SIGTERM"];

const KNOWN = new Set([
  "path",
  "dataType",
  "port",
  "hostname",
  "cert",
  "key",
  "protocols",
  "idleTimeout",
  "maxConnections",
  "maxMessageSize",
  "maxBufferedAmount",
  "closeTimeout",
  "allowedOrigins",
  "backplane",
  "signals",
]);

const ACTION = "Cannot create WebSocketServer";

/** A subprotocol is an HTTP token (RFC 6455 §4.1, RFC 7230 §3.2.6). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Checks a number option: a `TypeError` for a non-number, a `RangeError` for
 * a value below `min`, not an integer where one is needed, or not finite.
 */
export function checkNumber(
  value: unknown,
  name: string,
  action: string,
  rule: { min: number; integer?: boolean; max?: number; infinite?: boolean },
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

function checkString(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string") {
    throw new TypeError(
      `${ACTION}: ${name} must be a string, current value is ${
        describe(value)
      }`,
    );
  }
  return value;
}

function checkStrings(value: unknown, name: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) {
    throw new TypeError(
      `${ACTION}: ${name} must be an array of strings, current value is ${
        describe(value)
      }`,
    );
  }
  return [...value];
}

/** Checks the options of `new WebSocketServer` and applies the defaults. */
export function resolveServerOptions(options: unknown): ResolvedServerOptions {
  if (options === undefined) options = {};
  if (
    typeof options !== "object" || options === null || Array.isArray(options)
  ) {
    throw new TypeError(
      `${ACTION}: options must be an object, current value is ${
        describe(options)
      }`,
    );
  }
  const given = options as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (!KNOWN.has(name)) {
      throw new TypeError(`${ACTION}: options.${name} is not an option`);
    }
  }
  const path = checkString(given.path, "options.path");
  if (path !== undefined) {
    if (!path.startsWith("/")) {
      throw new TypeError(
        `${ACTION}: options.path must begin with "/", current value is ${
          describe(path)
        }`,
      );
    }
    try {
      new URLPattern({ pathname: path });
    } catch (cause) {
      throw new TypeError(
        `${ACTION}: options.path must be a URLPattern pathname, current value is ${
          describe(path)
        }`,
        { cause },
      );
    }
  }
  const port = given.port === undefined
    ? undefined
    : checkNumber(given.port, "options.port", ACTION, {
      min: 0,
      max: 65535,
      integer: true,
    });
  const hostname = checkString(given.hostname, "options.hostname");
  const cert = checkString(given.cert, "options.cert");
  const key = checkString(given.key, "options.key");
  if ((cert === undefined) !== (key === undefined)) {
    throw new TypeError(`${ACTION}: options.cert and options.key go together`);
  }
  if (port === undefined && (hostname ?? cert) !== undefined) {
    throw new TypeError(
      `${ACTION}: options.hostname, options.cert and options.key need options.port`,
    );
  }
  const protocols = checkStrings(given.protocols, "options.protocols") ?? [];
  for (const protocol of protocols) {
    if (!TOKEN.test(protocol)) {
      throw new TypeError(
        `${ACTION}: options.protocols must hold HTTP tokens, current value is ${
          describe(protocol)
        }`,
      );
    }
  }
  const origins = checkStrings(given.allowedOrigins, "options.allowedOrigins");
  return {
    path,
    dataType: given.dataType === undefined
      ? SERVER_DEFAULTS.dataType
      : checkDataType(given.dataType, "options.dataType"),
    port,
    hostname,
    cert,
    key,
    protocols,
    idleTimeout: given.idleTimeout === undefined
      ? SERVER_DEFAULTS.idleTimeout
      : checkNumber(given.idleTimeout, "options.idleTimeout", ACTION, {
        min: 0,
      }),
    maxConnections: given.maxConnections === undefined
      ? SERVER_DEFAULTS.maxConnections
      : checkNumber(given.maxConnections, "options.maxConnections", ACTION, {
        min: 1,
        integer: true,
        infinite: true,
      }),
    maxMessageSize: given.maxMessageSize === undefined
      ? SERVER_DEFAULTS.maxMessageSize
      : checkNumber(given.maxMessageSize, "options.maxMessageSize", ACTION, {
        min: 1,
        integer: true,
        infinite: true,
      }),
    maxBufferedAmount: given.maxBufferedAmount === undefined
      ? SERVER_DEFAULTS.maxBufferedAmount
      : checkNumber(
        given.maxBufferedAmount,
        "options.maxBufferedAmount",
        ACTION,
        {
          min: 1,
          integer: true,
          infinite: true,
        },
      ),
    closeTimeout: given.closeTimeout === undefined
      ? SERVER_DEFAULTS.closeTimeout
      : checkNumber(given.closeTimeout, "options.closeTimeout", ACTION, {
        min: 0,
        infinite: true,
      }),
    allowedOrigins: origins === undefined ? undefined : new Set(origins),
    backplane: checkBackplane(given.backplane),
    signals: checkSignals(given.signals),
  };
}

/** `true` (SIGINT and SIGTERM), `false`, or a list of signal names. */
function checkSignals(value: unknown): readonly string[] {
  if (value === undefined || value === false) return [];
  if (value === true) return DEFAULT_SIGNALS;
  const names = checkStrings(value, "options.signals");
  for (const name of names ?? []) {
    if (!/^SIG[A-Z0-9]+$/.test(name)) {
      throw new TypeError(
        `${ACTION}: options.signals must be true or a list of signal names such as "SIGTERM", current value is ${
          describe(name)
        }`,
      );
    }
  }
  return names ?? [];
}

/** A backplane is any object with `start`, `publish` and `close` methods. */
function checkBackplane(value: unknown): Backplane | undefined {
  if (value === undefined) return undefined;
  const candidate = value as Partial<Record<keyof Backplane, unknown>>;
  if (
    typeof value !== "object" || value === null ||
    typeof candidate.start !== "function" ||
    typeof candidate.publish !== "function" ||
    typeof candidate.close !== "function"
  ) {
    throw new TypeError(
      `${ACTION}: options.backplane must be a Backplane (start, publish and close methods), current value is ${
        describe(value)
      }`,
    );
  }
  return value as Backplane;
}
