// This module is browser compatible.
/**
 * The options of the server and the settings of the client: every default
 * in one place ({@linkcode DEFAULTS}), the number options checked from one
 * table of rules, and the resolution that runs in each constructor before
 * anything happens. The checks themselves are `_checks.ts`'s.
 *
 * @module
 */
import {
  checkBoolean,
  checkDataType,
  checkFunction,
  checkHeaders,
  checkKnown,
  checkNumber,
  checkObject,
  checkProtocolList,
  checkString,
  checkStrings,
  checkTokens,
  describe,
  type NumberRule,
} from "./_checks.ts";
import type { RateLimit } from "./_limits.ts";
import type { DataType } from "./_types.ts";
import type { Backplane } from "./backplane.ts";

/** The options of `WebSocketServer`. */
export interface WebSocketServerOptions<D extends DataType = DataType> {
  /**
   * A URLPattern pathname pattern (`"/chat"`, `"/rooms/:room"`); only
   * matching requests are handled, and the groups go to `request.params`.
   * @default {undefined} every path
   */
  readonly path?: string | undefined;
  /**
   * How received data is handed to `onMessage`.
   * @default {"text"}
   */
  readonly dataType?: D | undefined;
  /**
   * Listen by itself on this port (0: any free one) with `Deno.serve`.
   * @default {undefined} not listening: serve through `fetch`
   */
  readonly port?: number | undefined;
  /**
   * The address to listen on, with `port`.
   * @default {"0.0.0.0"}
   */
  readonly hostname?: string | undefined;
  /** The TLS certificate (PEM), with `key` and `port`. */
  readonly cert?: string | undefined;
  /** The TLS private key (PEM), with `cert` and `port`. */
  readonly key?: string | undefined;
  /**
   * Subprotocols accepted, in the server's order of preference.
   * @default {[]}
   */
  readonly protocols?: ReadonlyArray<string> | undefined;
  /**
   * Seconds without a pong before a connection is closed as dead (0: never).
   * @default {30}
   */
  readonly idleTimeout?: number | undefined;
  /**
   * More connections than this are answered 503.
   * @default {Infinity}
   */
  readonly maxConnections?: number | undefined;
  /**
   * Bytes; a larger message is a fatal error, closed with 1009.
   * @default {16777216} 16 MiB
   */
  readonly maxMessageSize?: number | undefined;
  /**
   * Bytes waiting to go out on one connection before it is closed with 1008
   * as a slow consumer.
   * @default {16777216} 16 MiB
   */
  readonly maxBufferedAmount?: number | undefined;
  /**
   * Seconds to wait for the peer to answer a close that the server started
   * (`terminate`, a fatal error, a slow consumer). A peer still silent then
   * is given up: `onTerminate` runs with the code that was sent, and the
   * connection leaves the registry (Deno keeps its socket until the peer goes
   * or the listener shuts down).
   * @default {5}
   */
  readonly closeTimeout?: number | undefined;
  /**
   * Graceful shutdown: `true` (SIGINT and SIGTERM) or a list of signal
   * names. The first of them makes the server `terminate()` (clients get 1001);
   * the listeners are then removed, so a second signal ends the process as
   * usual. Works listening by itself, mounted in `Deno.serve` and under
   * `deno serve`.
   * @default {false} a library does not take the process's signals unless asked
   */
  readonly signals?: boolean | ReadonlyArray<string> | undefined;
  /**
   * `Origin` values accepted, compared exactly; a request with no `Origin`
   * is accepted.
   * @default {undefined} every origin
   */
  readonly allowedOrigins?: ReadonlyArray<string> | undefined;
  /**
   * Carries `broadcast` to the other instances of this server that share
   * the backplane's channel: `BroadcastChannelBackplane` for the
   * workers of `deno serve --parallel`, `RedisBackplane` for processes and
   * machines. `connections` stays local.
   * @default {undefined} broadcast stays local
   */
  readonly backplane?: Backplane | undefined;
  /**
   * A token bucket per connection on what the peer sends: at most
   * `messages` messages and `bytes` bytes per `per` seconds, with a burst of
   * one whole window allowed after a quiet spell. Past it, the connection
   * gets `onError` (`RateLimited`) and is closed with 1008 `"rate limit"`;
   * the other connections go on.
   * @default {undefined} no limit
   */
  readonly rateLimit?: WSRateLimitOptions | undefined;
  /**
   * Open connections from one address (`request.remoteAddress`, or the key
   * `addressKey` returns); more upgrades are answered 429 with
   * `Retry-After`, before `onConnection`.
   * @default {Infinity}
   */
  readonly maxConnectionsPerAddress?: number | undefined;
  /**
   * The key that `maxConnectionsPerAddress` counts, from the request: behind
   * a proxy, the client's address from a header the proxy sets (and no
   * client can), or a user id.
   * @default {undefined} the peer's IP address (`request.remoteAddress`)
   */
  readonly addressKey?:
    | ((request: Request, remoteAddress: string) => string)
    | undefined;
  /**
   * Resuming (README, "Resuming"): a ws4d client with `reconnect` whose
   * connection breaks comes back to the same connection, and each side
   * sends again exactly what the other did not receive. `true` for the
   * defaults, or `{ window, maxMessages, maxBytes }`.
   * @default {undefined} off
   */
  readonly resume?: boolean | WSResumeOptions | undefined;
}

/** The server option `resume`. */
export interface WSResumeOptions {
  /**
   * Seconds a broken connection waits for its client; then `onTerminate`
   * 1006.
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

/** The server option `rateLimit`. */
export interface WSRateLimitOptions {
  /**
   * Messages per `per` seconds.
   * @default {Infinity}
   */
  readonly messages?: number | undefined;
  /**
   * Bytes per `per` seconds (a text message counts its UTF-16 length).
   * @default {Infinity}
   */
  readonly bytes?: number | undefined;
  /**
   * The window of the rates, in seconds.
   * @default {1}
   */
  readonly per?: number | undefined;
}

/** The server's options that have a default, resolved. */
interface ServerDefaults {
  readonly dataType: DataType;
  /** Seconds. */
  readonly idleTimeout: number;
  readonly maxConnections: number;
  /** Bytes. */
  readonly maxMessageSize: number;
  /** Bytes. */
  readonly maxBufferedAmount: number;
  /** Seconds. */
  readonly closeTimeout: number;
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

/** The largest window the wire carries: 2³² − 1 ms, in whole seconds. */
export const MAX_WINDOW = 4_294_967;

/** The client's settings that have a default, resolved. */
interface ClientDefaults {
  readonly dataType: DataType;
  readonly maxQueued: number;
}

/** The client's `handler.reconnect` once resolved (seconds). */
export interface ResolvedReconnect {
  /** Seconds before the first retry. */
  readonly delay: number;
  /** Seconds: the longest delay, before jitter. */
  readonly maxDelay: number;
  /** The growth of the delay from one retry to the next. */
  readonly factor: number;
  /** ± this fraction of each delay is random. */
  readonly jitter: number;
  /** Retries in a row that may fail before the client ends for good. */
  readonly maxRetries: number;
}

/**
 * Every default of the package (SPEC.md). Typed by the resolved shapes, so a
 * default that is missing fails to compile.
 */
export const DEFAULTS: {
  readonly server: ServerDefaults;
  readonly client: ClientDefaults;
  /** The client's `reconnect: true` (SPEC.md, "Reconnecting"). */
  readonly reconnect: ResolvedReconnect;
  /** The signals of `signals: true`. */
  readonly signals: readonly string[];
  /** The server's `resume: true` (SPEC.md, "Resuming"). */
  readonly resume: ResumeLimits;
} = Object.freeze({
  server: Object.freeze({
    dataType: "text",
    idleTimeout: 30,
    maxConnections: Infinity,
    maxMessageSize: 16 * 1024 * 1024,
    maxBufferedAmount: 16 * 1024 * 1024,
    closeTimeout: 5,
  }),
  client: Object.freeze({ dataType: "text", maxQueued: 1000 }),
  reconnect: Object.freeze({
    delay: 0.5,
    maxDelay: 10,
    factor: 2,
    jitter: 0.5,
    maxRetries: Infinity,
  }),
  signals: Object.freeze(["SIGINT", "SIGTERM"]),
  resume: Object.freeze({
    window: 60,
    maxMessages: 1000,
    maxBytes: 1024 * 1024,
  }),
});

/** The rule of each number option, server and client (one table). */
const NUMBER_RULES: Readonly<Record<string, NumberRule>> = {
  port: { min: 0, max: 65535, integer: true },
  idleTimeout: { min: 0 },
  maxConnections: { min: 1, integer: true, infinite: true },
  maxMessageSize: { min: 1, integer: true, infinite: true },
  maxBufferedAmount: { min: 1, integer: true, infinite: true },
  closeTimeout: { min: 0, infinite: true },
  maxQueued: { min: 0, integer: true, infinite: true },
  timeout: { min: 0 },
  maxConnectionsPerAddress: { min: 1, integer: true, infinite: true },
  messages: { min: 1, infinite: true },
  bytes: { min: 1, infinite: true },
  per: { min: 0.001, max: 3600 },
};

/** Checks the number option `key` of `given` (prefixed `prefix.`) by its rule. */
function numberOption(
  given: Record<string, unknown>,
  key: string,
  prefix: string,
  action: string,
): number | undefined {
  const value = given[key];
  if (value === undefined) return undefined;
  return checkNumber(
    value,
    `${prefix}.${key}`,
    action,
    NUMBER_RULES[key] as NumberRule,
  );
}

/** Checks `terminate(timeout)`'s seconds: finite, at least 0. */
export function checkTimeout(timeout: unknown, action: string): number {
  return checkNumber(timeout, "timeout", action, NUMBER_RULES.timeout!);
}

/** The options of a `WebSocketServer` once checked, defaults applied. */
export interface ResolvedServerOptions extends ServerDefaults {
  readonly path: string | undefined;
  readonly port: number | undefined;
  readonly hostname: string | undefined;
  readonly cert: string | undefined;
  readonly key: string | undefined;
  readonly protocols: readonly string[];
  readonly allowedOrigins: ReadonlySet<string> | undefined;
  readonly backplane: Backplane | undefined;
  /** The signals that terminate the server; empty for none. */
  readonly signals: readonly string[];
  /** The token bucket of each connection, or `undefined` for none. */
  readonly rateLimit: RateLimit | undefined;
  readonly maxConnectionsPerAddress: number;
  /** The key that `maxConnectionsPerAddress` counts, from the request. */
  readonly addressKey:
    | ((request: Request, remoteAddress: string) => string)
    | undefined;
  /** The limits of resuming, or `null` when it is off. */
  readonly resume: ResumeLimits | null;
}

const SERVER_OPTIONS = new Set([
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
  "rateLimit",
  "maxConnectionsPerAddress",
  "addressKey",
  "resume",
]);

const SERVER = "Cannot create WebSocketServer";

/** Checks the options of `new WebSocketServer` and applies the defaults. */
export function resolveServerOptions(options: unknown): ResolvedServerOptions {
  const given = checkObject(options ?? {}, "options", SERVER);
  checkKnown(given, SERVER_OPTIONS, "options", SERVER);
  const defaults = DEFAULTS.server;
  const number = (key: keyof ServerDefaults & string, fallback: number) =>
    numberOption(given, key, "options", SERVER) ?? fallback;
  const port = numberOption(given, "port", "options", SERVER);
  const hostname = checkString(given.hostname, "options.hostname", SERVER);
  const cert = checkString(given.cert, "options.cert", SERVER);
  const key = checkString(given.key, "options.key", SERVER);
  if ((cert === undefined) !== (key === undefined)) {
    throw new TypeError(`${SERVER}: options.cert and options.key go together`);
  }
  if (port === undefined && (hostname ?? cert) !== undefined) {
    throw new TypeError(
      `${SERVER}: options.hostname, options.cert and options.key need options.port`,
    );
  }
  const protocols =
    checkStrings(given.protocols, "options.protocols", SERVER) ??
      [];
  checkTokens(protocols, "options.protocols", SERVER);
  const origins = checkStrings(
    given.allowedOrigins,
    "options.allowedOrigins",
    SERVER,
  );
  return {
    path: checkPath(given.path),
    dataType: given.dataType === undefined
      ? defaults.dataType
      : checkDataType(given.dataType, "options.dataType", SERVER),
    port,
    hostname,
    cert,
    key,
    protocols,
    idleTimeout: number("idleTimeout", defaults.idleTimeout),
    maxConnections: number("maxConnections", defaults.maxConnections),
    maxMessageSize: number("maxMessageSize", defaults.maxMessageSize),
    maxBufferedAmount: number("maxBufferedAmount", defaults.maxBufferedAmount),
    closeTimeout: number("closeTimeout", defaults.closeTimeout),
    allowedOrigins: origins === undefined ? undefined : new Set(origins),
    backplane: checkBackplane(given.backplane),
    signals: checkSignals(given.signals),
    rateLimit: checkRateLimit(given.rateLimit),
    maxConnectionsPerAddress:
      numberOption(given, "maxConnectionsPerAddress", "options", SERVER) ??
        Infinity,
    addressKey: checkFunction(given.addressKey, "options.addressKey", SERVER),
    resume: resolveResume(given.resume),
  };
}

const RATE_LIMIT_OPTIONS = new Set(["messages", "bytes", "per"]);

/** `{ messages?, bytes?, per? }`, at least one of the first two. */
function checkRateLimit(value: unknown): RateLimit | undefined {
  if (value === undefined) return undefined;
  const given = checkObject(value, "options.rateLimit", SERVER);
  checkKnown(given, RATE_LIMIT_OPTIONS, "options.rateLimit", SERVER);
  const messages = numberOption(given, "messages", "options.rateLimit", SERVER);
  const bytes = numberOption(given, "bytes", "options.rateLimit", SERVER);
  if (messages === undefined && bytes === undefined) {
    throw new TypeError(
      `${SERVER}: options.rateLimit needs messages, bytes or both`,
    );
  }
  return {
    messages: messages ?? Infinity,
    bytes: bytes ?? Infinity,
    per: numberOption(given, "per", "options.rateLimit", SERVER) ?? 1,
  };
}

/** A URLPattern pathname beginning with `/`. */
function checkPath(value: unknown): string | undefined {
  const path = checkString(value, "options.path", SERVER);
  if (path === undefined) return undefined;
  if (!path.startsWith("/")) {
    throw new TypeError(
      `${SERVER}: options.path must begin with "/", current value is ${
        describe(path)
      }`,
    );
  }
  try {
    new URLPattern({ pathname: path });
  } catch (cause) {
    throw new TypeError(
      `${SERVER}: options.path must be a URLPattern pathname, current value is ${
        describe(path)
      }`,
      { cause },
    );
  }
  return path;
}

/** `true` (SIGINT and SIGTERM), `false`, or a list of signal names. */
function checkSignals(value: unknown): readonly string[] {
  if (value === undefined || value === false) return [];
  if (value === true) return DEFAULTS.signals;
  const names = checkStrings(value, "options.signals", SERVER) ?? [];
  for (const name of names) {
    if (!/^SIG[A-Z0-9]+$/.test(name)) {
      throw new TypeError(
        `${SERVER}: options.signals must be true or a list of signal names such as "SIGTERM", current value is ${
          describe(name)
        }`,
      );
    }
  }
  return names;
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
      `${SERVER}: options.backplane must be a Backplane (start, publish and close methods), current value is ${
        describe(value)
      }`,
    );
  }
  return value as Backplane;
}

/** The client's settings once checked, defaults applied. */
export interface ResolvedClientSettings extends ClientDefaults {
  /** Handshake headers as pairs, or `undefined` for none. */
  readonly headers: [string, string][] | undefined;
  readonly protocols: string[];
  /** `handler.reconnect`, or `null` when it is off. */
  readonly reconnect: ResolvedReconnect | null;
  /** `handler.resume`: `undefined` lets the runtime decide. */
  readonly resume: boolean | undefined;
}

const CLIENT = "Cannot create WebSocket";

/** Checks the settings of a client's handler and applies the defaults. */
export function resolveClientSettings(
  handler: unknown,
): ResolvedClientSettings {
  const given = checkObject(handler ?? {}, "handler", CLIENT);
  const defaults = DEFAULTS.client;
  return {
    dataType: given.dataType === undefined
      ? defaults.dataType
      : checkDataType(given.dataType, "handler.dataType", CLIENT),
    headers: checkHeaders(given.headers, "handler.headers", CLIENT),
    protocols: checkProtocolList(given.protocols, "handler.protocols", CLIENT),
    maxQueued: numberOption(given, "maxQueued", "handler", CLIENT) ??
      defaults.maxQueued,
    reconnect: resolveReconnect(given.reconnect),
    resume: checkBoolean(given.resume, "handler.resume", CLIENT),
  };
}

const RECONNECT = "handler.reconnect";
const RECONNECT_FIELDS = new Set(Object.keys(DEFAULTS.reconnect));

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
  if (value === true) return DEFAULTS.reconnect;
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
 * the defaults: `delay` ≥ 0, `maxDelay` ≥ `delay` (finite; when not given, 10
 * or `delay` if that is longer), `factor` ≥ 1,
 * `jitter` in [0, 1], `maxRetries` an integer ≥ 0 or `Infinity`.
 *
 * @throws {TypeError} For an unknown field or a field that is not a number.
 * @throws {RangeError} For a field out of its range.
 */
export function checkReconnect(options: object): ResolvedReconnect {
  const given = options as Readonly<Record<string, unknown>>;
  for (const name of Object.keys(given)) {
    if (!RECONNECT_FIELDS.has(name)) {
      throw new TypeError(`${CLIENT}: ${RECONNECT}.${name} is not an option`);
    }
  }
  const defaults = DEFAULTS.reconnect;
  const field = (name: keyof ResolvedReconnect, rule: NumberRule): number =>
    given[name] === undefined
      ? defaults[name]
      : checkNumber(given[name], `${RECONNECT}.${name}`, CLIENT, rule);
  const delay = field("delay", { min: 0 });
  return {
    delay,
    // Not given: 10, or `delay` when that is longer (`{ delay: 60 }` works).
    maxDelay: given.maxDelay === undefined
      ? Math.max(defaults.maxDelay, delay)
      : checkNumber(given.maxDelay, `${RECONNECT}.maxDelay`, CLIENT, {
        min: delay,
      }),
    factor: field("factor", { min: 1 }),
    jitter: field("jitter", { min: 0, max: 1 }),
    maxRetries: field("maxRetries", { min: 0, integer: true, infinite: true }),
  };
}

const RESUME_FIELDS = new Set(Object.keys(DEFAULTS.resume));

/**
 * Resolves the server option `resume`: `undefined` or `false` is off
 * (`null`), `true` is the defaults, an object sets some of them.
 *
 * @throws {TypeError} For a value of another type, an unknown field, or a
 * field that is not a number.
 * @throws {RangeError} For `window` outside 0 to 4294967 s, `maxMessages`
 * not an integer from 1 to 2³² − 1, or `maxBytes` not an integer from 1.
 *
 * @example
 * ```ts
 * import { resolveResume } from "./_options.ts";
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
  if (value === true) return DEFAULTS.resume;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(
      `${SERVER}: options.resume must be true or an object, current value is ${
        describe(value)
      }`,
    );
  }
  const given = value as Partial<Record<keyof ResumeLimits, unknown>>;
  for (const name of Object.keys(given)) {
    if (!RESUME_FIELDS.has(name)) {
      throw new TypeError(
        `${SERVER}: options.resume.${name} is not an option`,
      );
    }
  }
  const {
    window = DEFAULTS.resume.window,
    maxMessages = DEFAULTS.resume.maxMessages,
    maxBytes = DEFAULTS.resume.maxBytes,
  } = given;
  return Object.freeze({
    window: checkNumber(window, "options.resume.window", SERVER, {
      min: 0,
      max: MAX_WINDOW,
    }),
    maxMessages: checkNumber(
      maxMessages,
      "options.resume.maxMessages",
      SERVER,
      { min: 1, max: 0xffff_ffff, integer: true },
    ),
    maxBytes: checkNumber(
      maxBytes,
      "options.resume.maxBytes",
      SERVER,
      { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true },
    ),
  });
}
