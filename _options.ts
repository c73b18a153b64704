// This module is browser compatible.
/**
 * The server's options: each one's type and doc ({@linkcode
 * WebSocketServerOptions}), and its default and check, in one table
 * (`SERVER_OPTIONS`) from which the list of known names, the resolved type
 * and the defaults derive; the same for `rateLimit`. The option `resume`
 * is `_resume_options.ts`'s, the client's settings `_client_options.ts`'s;
 * {@linkcode DEFAULTS} holds them all.
 *
 * @module
 */
import {
  checkDataType,
  checkFunction,
  checkNumber,
  checkObject,
  checkString,
  checkStrings,
  checkTokens,
  defaultsOf,
  describe,
  numberOption,
  type NumberRule,
  option,
  type Resolved,
  resolveOptions,
} from "./_checks.ts";
import {
  CLIENT_SETTINGS,
  RECONNECT_DEFAULTS,
  type ResolvedReconnect,
} from "./_client_options.ts";
import type { RateLimit } from "./_limits.ts";
import {
  DEFAULT_RESUME,
  resolveResume,
  type ResumeLimits,
  type WSResumeOptions,
} from "./_resume_options.ts";
import type { DataType } from "./_types.ts";
import type { Backplane } from "./backplane.ts";
export {
  checkReconnect,
  resolveClientSettings,
  type ResolvedClientSettings,
  type ResolvedReconnect,
  resolveReconnect,
} from "./_client_options.ts";

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
   * Seconds without a pong before a connection is closed as dead (0: never);
   * at most 3600 (an hour): a larger value is taken for milliseconds, a
   * `RangeError`.
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
   * or the listener shuts down). At most 300 (five minutes): a larger value
   * is taken for milliseconds, a `RangeError`.
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
   * Resuming (docs/reconnect-and-resume.md): a ws4d client with `reconnect` whose
   * connection breaks comes back to the same connection, and each side
   * sends again exactly what the other did not receive. `true` for the
   * defaults, or `{ window, maxMessages, maxBytes }`.
   * @default {undefined} off
   */
  readonly resume?: boolean | WSResumeOptions | undefined;
  /**
   * The most topics one connection subscribes to at once
   * (docs/topics.md); past it, `ws.subscribe` throws a `RangeError`. 0: no
   * connection subscribes.
   * @default {1000}
   */
  readonly maxSubscriptions?: number | undefined;
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
   * The window of the rates, in seconds (0.001 to 3600, an hour).
   * @default {1}
   */
  readonly per?: number | undefined;
}

/**
 * The longest durations accepted, in seconds: past them a value is taken
 * for milliseconds given by mistake, and is a `RangeError` that says the
 * unit is seconds. The client's are `_client_options.ts`'s.
 */
const MAXIMUMS = Object.freeze({
  /**
   * `idleTimeout`: an hour. (A day would let the issue's own mistake, 30000
   * meant as 30 s, pass as 8 h 20 min; a dead peer unnoticed for an hour is
   * already long, and 0 turns the pings off.)
   */
  idleTimeout: 3_600,
  /** `closeTimeout`: five minutes. */
  closeTimeout: 300,
  /** `terminate(timeout)`: five minutes. */
  terminate: 300,
  /** `rateLimit.per`: an hour. */
  per: 3_600,
});

const SERVER = "Cannot create WebSocketServer";
const NONE: readonly string[] = Object.freeze([]);
/** The signals of `signals: true`. */
const SIGNALS: readonly string[] = Object.freeze(["SIGINT", "SIGTERM"]);
const MiB = 1024 * 1024;

function number(fallback: number, rule: NumberRule) {
  return numberOption(fallback, rule, SERVER);
}

function checkText(value: unknown, name: string): string {
  return checkString(value, name, SERVER) ?? "";
}

const text = () => option<string | undefined>(undefined, checkText);

/** `rateLimit`: each field's default and check. */
const RATE_LIMIT = {
  messages: number(Infinity, { min: 1, infinite: true }),
  bytes: number(Infinity, { min: 1, infinite: true }),
  per: number(1, { min: 0.001, max: MAXIMUMS.per, seconds: "an hour" }),
};

/**
 * Every option of `WebSocketServer`: its default and its check (its type
 * and its doc are {@linkcode WebSocketServerOptions}'s, which this table
 * must cover exactly).
 */
const SERVER_OPTIONS = {
  path: option<string | undefined>(undefined, checkPath),
  dataType: option<DataType>(
    "text",
    (value, name) => checkDataType(value, name, SERVER),
  ),
  port: option<number | undefined>(
    undefined,
    (value, name) =>
      checkNumber(value, name, SERVER, { min: 0, max: 65535, integer: true }),
  ),
  hostname: text(),
  cert: text(),
  key: text(),
  protocols: option<readonly string[]>(NONE, (value, name) => {
    const protocols = checkStrings(value, name, SERVER) ?? [];
    checkTokens(protocols, name, SERVER);
    return protocols;
  }),
  idleTimeout: number(30, {
    min: 0,
    max: MAXIMUMS.idleTimeout,
    seconds: "an hour",
  }),
  maxConnections: number(Infinity, { min: 1, integer: true, infinite: true }),
  maxMessageSize: number(16 * MiB, { min: 1, integer: true, infinite: true }),
  maxBufferedAmount: number(16 * MiB, {
    min: 1,
    integer: true,
    infinite: true,
  }),
  closeTimeout: number(5, {
    min: 0,
    max: MAXIMUMS.closeTimeout,
    seconds: "five minutes",
  }),
  allowedOrigins: option<ReadonlySet<string> | undefined>(
    undefined,
    (value, name) => new Set(checkStrings(value, name, SERVER)),
  ),
  backplane: option<Backplane | undefined>(undefined, checkBackplane),
  signals: option<readonly string[]>(NONE, checkSignals),
  rateLimit: option<RateLimit | undefined>(undefined, checkRateLimit),
  maxConnectionsPerAddress: number(Infinity, {
    min: 1,
    integer: true,
    infinite: true,
  }),
  addressKey: option<
    ((request: Request, remoteAddress: string) => string) | undefined
  >(undefined, (value, name) => checkFunction(value, name, SERVER)),
  resume: option<ResumeLimits | null>(null, resolveResume),
  maxSubscriptions: number(1000, { min: 0, integer: true, infinite: true }),
} satisfies { readonly [K in keyof WebSocketServerOptions]-?: unknown };

/** The options of a `WebSocketServer` once checked, defaults applied. */
export type ResolvedServerOptions = Resolved<typeof SERVER_OPTIONS>;

/**
 * Every default of the package (SPEC.md), read from the tables of the
 * options.
 */
export const DEFAULTS: {
  /** The server's options not given. */
  readonly server: ResolvedServerOptions;
  /** The client's settings not given. */
  readonly client: Resolved<typeof CLIENT_SETTINGS>;
  /** The client's `reconnect: true` (SPEC.md, "Reconnecting"). */
  readonly reconnect: ResolvedReconnect;
  /** The signals of `signals: true`. */
  readonly signals: readonly string[];
  /** The server's `resume: true` (SPEC.md, "Resuming"). */
  readonly resume: ResumeLimits;
} = Object.freeze({
  server: defaultsOf(SERVER_OPTIONS),
  client: defaultsOf(CLIENT_SETTINGS),
  reconnect: RECONNECT_DEFAULTS,
  signals: SIGNALS,
  resume: DEFAULT_RESUME,
});

/** Checks `terminate(timeout)`'s seconds: 0 to five minutes. */
export function checkTimeout(timeout: unknown, action: string): number {
  return checkNumber(timeout, "timeout", action, {
    min: 0,
    max: MAXIMUMS.terminate,
    seconds: "five minutes",
  });
}

/** Checks the options of `new WebSocketServer` and applies the defaults. */
export function resolveServerOptions(options: unknown): ResolvedServerOptions {
  const given = checkObject(options ?? {}, "options", SERVER);
  const resolved = resolveOptions(SERVER_OPTIONS, given, "options", SERVER);
  const { port, hostname, cert, key } = resolved;
  if ((cert === undefined) !== (key === undefined)) {
    throw new TypeError(`${SERVER}: options.cert and options.key go together`);
  }
  if (port === undefined && (hostname ?? cert) !== undefined) {
    throw new TypeError(
      `${SERVER}: options.hostname, options.cert and options.key need options.port`,
    );
  }
  return resolved;
}

/** `{ messages?, bytes?, per? }`, at least one of the first two. */
function checkRateLimit(value: unknown, name: string): RateLimit {
  const given = checkObject(value, name, SERVER);
  const limit = resolveOptions(RATE_LIMIT, given, name, SERVER);
  if (given.messages === undefined && given.bytes === undefined) {
    throw new TypeError(`${SERVER}: ${name} needs messages, bytes or both`);
  }
  return limit;
}

/** A URLPattern pathname beginning with `/`. */
function checkPath(value: unknown, name: string): string {
  const path = checkText(value, name);
  if (!path.startsWith("/")) {
    throw new TypeError(
      `${SERVER}: ${name} must begin with "/", current value is ${
        describe(path)
      }`,
    );
  }
  try {
    new URLPattern({ pathname: path });
  } catch (cause) {
    throw new TypeError(
      `${SERVER}: ${name} must be a URLPattern pathname, current value is ${
        describe(path)
      }`,
      { cause },
    );
  }
  return path;
}

/** `true` (SIGINT and SIGTERM), `false`, or a list of signal names. */
function checkSignals(value: unknown, name: string): readonly string[] {
  if (value === false) return NONE;
  if (value === true) return SIGNALS;
  const names = checkStrings(value, name, SERVER) ?? [];
  for (const signal of names) {
    if (!/^SIG[A-Z0-9]+$/.test(signal)) {
      throw new TypeError(
        `${SERVER}: ${name} must be true or a list of signal names such as "SIGTERM", current value is ${
          describe(signal)
        }`,
      );
    }
  }
  return names;
}

/**
 * The optional members of a backplane and what each must be where present:
 * a function, but `instance`, a string (checked at construction: the
 * cluster's code that reads them is loaded later, and `clusterStats` later
 * still).
 */
const OPTIONAL_MEMBERS = [
  ["publishTopic", "function"],
  ["subscribe", "function"],
  ["unsubscribe", "function"],
  ["instance", "string"],
  ["sendTo", "function"],
  ["alive", "function"],
  ["instances", "function"],
  ["heard", "function"],
] as const satisfies readonly (readonly [keyof Backplane, string])[];

/**
 * A backplane is any object with `start`, `publish` and `close` methods,
 * and, for each optional member it has, one of the right type.
 */
function checkBackplane(value: unknown, name: string): Backplane {
  const candidate = value as Partial<Record<keyof Backplane, unknown>>;
  if (
    typeof value !== "object" || value === null ||
    typeof candidate.start !== "function" ||
    typeof candidate.publish !== "function" ||
    typeof candidate.close !== "function"
  ) {
    throw new TypeError(
      `${SERVER}: ${name} must be a Backplane (start, publish and close methods), current value is ${
        describe(value)
      }`,
    );
  }
  for (const [member, type] of OPTIONAL_MEMBERS) {
    const given = candidate[member];
    if (given !== undefined && typeof given !== type) {
      throw new TypeError(
        `${SERVER}: ${name} must be a Backplane, and ${name}.${member} a ${type} where present, current value is ${
          describe(given)
        }`,
      );
    }
  }
  return value as Backplane;
}
