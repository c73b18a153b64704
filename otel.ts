/**
 * OpenTelemetry metrics for a `WebSocketServer`: {@linkcode observeServer}
 * reads `wss.stats` when a metric reader collects, through observable
 * instruments and one batch callback, so the message path pays nothing. This
 * is the only module of the package that loads `npm:@opentelemetry/api` (the
 * API only, no SDK): import it only where you want the metrics.
 *
 * Under Deno's built-in OpenTelemetry nothing else is needed: run with
 * `OTEL_DENO=true` (and `OTEL_EXPORTER_OTLP_ENDPOINT` for your collector) and
 * Deno exports the metrics with its own. Elsewhere, register a `MeterProvider`
 * globally before calling it, or pass one.
 *
 * Conventions followed (OpenTelemetry semantic conventions 1.x, "Naming"):
 * names are lowercase, dot-namespaced, snake_case within a component, under
 * the system name `ws4d.` with the side, `ws4d.server.`, as `signalr.server.`
 * does (a WebSocket namespace is not defined by the semantic conventions, and
 * one taken by a library could clash with theirs later); counters of things are
 * plural with a `{thing}` unit and no `total`; the UpDownCounters are not
 * plural; bytes both ways are one `.io` instrument with `network.io.direction`,
 * as `system.network.io`; units are UCUM (`By`, `{connection}`). Registered
 * attributes are reused where they mean the same: `http.route` (the server's
 * `path`, absent when it has none), `http.response.status_code`,
 * `network.io.direction` (`receive`, `transmit`), `error.type` (an
 * `ErrorCode` name); the three of ws4d's own are `ws4d.close.code` (the close
 * code `onTerminate` reported), `ws4d.limit.name` (the option's name) and
 * `ws4d.expiry.reason` (`window` or `limits`).
 *
 * | instrument                         | kind          | unit           | attributes                  | `stats` field                           |
 * | ---------------------------------- | ------------- | -------------- | --------------------------- | --------------------------------------- |
 * | `ws4d.server.connection.active`    | UpDownCounter | `{connection}` |                             | `connections`                           |
 * | `ws4d.server.connection.accepted`  | Counter       | `{connection}` |                             | `connectionsTotal`                      |
 * | `ws4d.server.connection.refused`   | Counter       | `{connection}` | `http.response.status_code` | `refused`                               |
 * | `ws4d.server.connection.closed`    | Counter       | `{connection}` | `ws4d.close.code`           | `closes`                                |
 * | `ws4d.server.messages`             | Counter       | `{message}`    | `network.io.direction`      | `messagesReceived`, `messagesSent`      |
 * | `ws4d.server.io`                   | Counter       | `By`           | `network.io.direction`      | `bytesReceived`, `bytesSent`            |
 * | `ws4d.server.errors`               | Counter       | `{error}`      | `error.type`                | `errors`                                |
 * | `ws4d.server.broadcasts`           | Counter       | `{broadcast}`  |                             | `broadcasts`                            |
 * | `ws4d.server.broadcast.deliveries` | Counter       | `{message}`    |                             | `broadcastDeliveries`                   |
 * | `ws4d.server.publishes`            | Counter       | `{publish}`    |                             | `publishes`                             |
 * | `ws4d.server.publish.deliveries`   | Counter       | `{message}`    |                             | `publishDeliveries`                     |
 * | `ws4d.server.backplane.failures`   | Counter       | `{failure}`    |                             | `backplaneFailures`                     |
 * | `ws4d.server.broadcast.dropped`    | Counter       | `{broadcast}`  |                             | `backplaneDrops`                        |
 * | `ws4d.server.limit.hits`           | Counter       | `{hit}`        | `ws4d.limit.name`           | `limits`                                |
 * | `ws4d.server.session.waiting`      | UpDownCounter | `{session}`    |                             | `sessionsWaiting`                       |
 * | `ws4d.server.session.resumed`      | Counter       | `{session}`    |                             | `sessionsResumed`                       |
 * | `ws4d.server.session.expired`      | Counter       | `{session}`    | `ws4d.expiry.reason`        | `sessionsExpired`                       |
 *
 * Every instrument is asynchronous (observable), every data point has
 * `http.route` and the `attributes` option, and the counters are cumulative.
 *
 * @example Under Deno's OpenTelemetry: `OTEL_DENO=true deno run -A server.ts`
 * ```ts ignore
 * import { WebSocketServer } from "@ws4d/websocket";
 * import { observeServer } from "@ws4d/websocket/otel";
 *
 * const wss = new WebSocketServer({
 *   onConnection: () => ({ onMessage: (ws, event) => ws.send(event.data) }),
 * }, { path: "/ws", port: 8000 });
 * observeServer(wss);
 * ```
 *
 * What each count means is documented on `WebSocketServer`'s `stats`
 * ([`@ws4d/websocket/server`](https://jsr.io/@ws4d/websocket/doc/server));
 * `docs/limits-and-metrics.md`, in the package, shows a `MeterProvider` of
 * your own and the tests behind this table.
 *
 * @module
 */
import { metrics } from "npm:@opentelemetry/api@^1.9";
import type { WSServerStats } from "./_stats.ts";

export type { WSServerStats } from "./_stats.ts";

/** An attribute's value, as OpenTelemetry allows it. */
export type WSAttributeValue =
  | string
  | number
  | boolean
  | ReadonlyArray<string>
  | ReadonlyArray<number>
  | ReadonlyArray<boolean>;

/** Attributes of a data point, as OpenTelemetry allows them. */
export type WSAttributes = Readonly<Record<string, WSAttributeValue>>;

/**
 * An instrument made by a {@linkcode WSMeter}: opaque here. (This module's
 * types name only what it uses of `npm:@opentelemetry/api`, so that a
 * `Meter` or `MeterProvider` of any 1.x copy of the API fits them.)
 */
export type WSObservable = object;

/** The batch result given to an observable callback. */
export interface WSBatchObservableResult {
  /** Records one value of `metric` with `attributes`. */
  observe(
    metric: WSObservable,
    value: number,
    attributes?: WSAttributes,
  ): void;
}

/** An OpenTelemetry `Meter`, as far as {@linkcode observeServer} uses it. */
export interface WSMeter {
  /** Makes an asynchronous Counter. */
  createObservableCounter(
    name: string,
    options?: { description?: string; unit?: string },
  ): WSObservable;
  /** Makes an asynchronous UpDownCounter. */
  createObservableUpDownCounter(
    name: string,
    options?: { description?: string; unit?: string },
  ): WSObservable;
  /** Adds a callback that observes `observables` at each collection. */
  addBatchObservableCallback(
    callback: (result: WSBatchObservableResult) => void,
    observables: WSObservable[],
  ): void;
  /** Removes a callback added by `addBatchObservableCallback`. */
  removeBatchObservableCallback(
    callback: (result: WSBatchObservableResult) => void,
    observables: WSObservable[],
  ): void;
}

/** An OpenTelemetry `MeterProvider`, as far as {@linkcode observeServer} uses it. */
export interface WSMeterProvider {
  /** The meter of an instrumentation scope. */
  getMeter(name: string): WSMeter;
}

/**
 * What {@linkcode observeServer} reads: a `WebSocketServer`, or any object
 * with its `stats` and `path`.
 */
export interface WSStatsSource {
  /** What the server counted; read once per collection. */
  readonly stats: WSServerStats;
  /** The server's path, the `http.route` of every data point. */
  readonly path: string | undefined;
}

/** The options of {@linkcode observeServer}. */
export interface ObserveServerOptions {
  /**
   * The provider of the meter `@ws4d/websocket`. Under `OTEL_DENO=true` the
   * global one is Deno's, and another cannot be registered globally: pass it
   * here.
   * @default {metrics.getMeterProvider()}
   */
  readonly meterProvider?: WSMeterProvider | undefined;
  /**
   * A meter to create the instruments with, instead of the meter
   * `@ws4d/websocket` of `meterProvider`.
   * @default {undefined}
   */
  readonly meter?: WSMeter | undefined;
  /**
   * More attributes for every data point, for example
   * `{ "ws4d.server.name": "chat" }` to tell apart two servers that have no
   * path. They may replace `http.route`, never the attributes of a field.
   * @default {{}}
   */
  readonly attributes?: WSAttributes | undefined;
}

/** The instrumentation scope: the package's name. */
const SCOPE = "@ws4d/websocket";

const OPTION_NAMES: ReadonlySet<string> = new Set([
  "meterProvider",
  "meter",
  "attributes",
]);

/** The instruments of one meter, created once and shared by its servers. */
interface Instruments {
  readonly active: WSObservable;
  readonly accepted: WSObservable;
  readonly refused: WSObservable;
  readonly closed: WSObservable;
  readonly messages: WSObservable;
  readonly io: WSObservable;
  readonly errors: WSObservable;
  readonly broadcasts: WSObservable;
  readonly deliveries: WSObservable;
  readonly publishes: WSObservable;
  readonly publishDeliveries: WSObservable;
  readonly failures: WSObservable;
  readonly dropped: WSObservable;
  readonly limits: WSObservable;
  readonly waiting: WSObservable;
  readonly resumed: WSObservable;
  readonly expired: WSObservable;
  readonly all: WSObservable[];
}

// Deno's Meter (OTEL_DENO=true) makes new instruments for every call, and an
// SDK's warns of duplicates: each meter gets its instruments once, and each
// provider its meter once, however many servers are observed.
const METERS = new WeakMap<WSMeterProvider, WSMeter>();
const INSTRUMENTS = new WeakMap<WSMeter, Instruments>();

function instrumentsOf(meter: WSMeter): Instruments {
  let instruments = INSTRUMENTS.get(meter);
  if (instruments !== undefined) return instruments;
  // No valueType: Deno's meter accepts only the default (DOUBLE).
  const upDown = (name: string, unit: string, description: string) =>
    meter.createObservableUpDownCounter(name, { unit, description });
  const counter = (name: string, unit: string, description: string) =>
    meter.createObservableCounter(name, { unit, description });
  const made = {
    active: upDown(
      "ws4d.server.connection.active",
      "{connection}",
      "Connections open now: upgraded and not yet terminated.",
    ),
    accepted: counter(
      "ws4d.server.connection.accepted",
      "{connection}",
      "Connections accepted (upgraded) since the server started.",
    ),
    refused: counter(
      "ws4d.server.connection.refused",
      "{connection}",
      "Handshakes refused, by HTTP status.",
    ),
    closed: counter(
      "ws4d.server.connection.closed",
      "{connection}",
      "Connections terminated, by the close code onTerminate reported.",
    ),
    messages: counter(
      "ws4d.server.messages",
      "{message}",
      "Messages received from peers and sent to them.",
    ),
    io: counter(
      "ws4d.server.io",
      "By",
      "Payload bytes received and sent (UTF-8 bytes for text).",
    ),
    errors: counter(
      "ws4d.server.errors",
      "{error}",
      "onError entries, by ErrorCode name.",
    ),
    broadcasts: counter(
      "ws4d.server.broadcasts",
      "{broadcast}",
      "Calls of broadcast().",
    ),
    deliveries: counter(
      "ws4d.server.broadcast.deliveries",
      "{message}",
      "Local deliveries made by broadcast().",
    ),
    publishes: counter(
      "ws4d.server.publishes",
      "{publish}",
      "Calls of publish() on this instance.",
    ),
    publishDeliveries: counter(
      "ws4d.server.publish.deliveries",
      "{message}",
      "Messages handed to subscribers here by a publish of any instance.",
    ),
    failures: counter(
      "ws4d.server.backplane.failures",
      "{failure}",
      "Backplane failures reported.",
    ),
    dropped: counter(
      "ws4d.server.broadcast.dropped",
      "{broadcast}",
      "Broadcasts that did not reach the other instances.",
    ),
    limits: counter(
      "ws4d.server.limit.hits",
      "{hit}",
      "Limits hit, by limit option.",
    ),
    waiting: upDown(
      "ws4d.server.session.waiting",
      "{session}",
      "Resumable sessions whose socket broke, waiting for their client now.",
    ),
    resumed: counter(
      "ws4d.server.session.resumed",
      "{session}",
      "Sessions resumed on a new socket.",
    ),
    expired: counter(
      "ws4d.server.session.expired",
      "{session}",
      "Sessions ended with 1006 while their client was away, by reason (window, limits).",
    ),
  };
  instruments = { ...made, all: Object.values(made) };
  INSTRUMENTS.set(meter, instruments);
  return instruments;
}

function meterOf(options: ObserveServerOptions): WSMeter {
  if (options.meter !== undefined) return options.meter;
  const provider = options.meterProvider ?? metrics.getMeterProvider();
  let meter = METERS.get(provider);
  if (meter === undefined) {
    meter = provider.getMeter(SCOPE);
    METERS.set(provider, meter);
  }
  return meter;
}

/** A numeric key ("403", "1000") as the integer it names; any other as is. */
function keyValue(key: string): WSAttributeValue {
  const number = Number(key);
  return Number.isInteger(number) ? number : key;
}

function validate(
  source: WSStatsSource,
  options: ObserveServerOptions,
): void {
  // One read of stats here, to refuse a wrong object now rather than at
  // every collection.
  const stats: unknown = typeof source === "object" && source !== null
    ? source.stats
    : undefined;
  if (typeof stats !== "object" || stats === null) {
    throw new TypeError(
      `Cannot observe server: it must have a stats object, current value is ${
        String(source)
      }`,
    );
  }
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot observe server: options must be an object, current value is ${
        String(options)
      }`,
    );
  }
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.has(name)) {
      throw new TypeError(
        `Cannot observe server: unknown option, current value is "${name}"`,
      );
    }
  }
  if (options.meter !== undefined && options.meterProvider !== undefined) {
    throw new TypeError(
      "Cannot observe server: give one of the options meter and meterProvider, not both",
    );
  }
  const { attributes } = options;
  if (
    attributes !== undefined &&
    (typeof attributes !== "object" || attributes === null)
  ) {
    throw new TypeError(
      `Cannot observe server: attributes must be an object, current value is ${
        String(attributes)
      }`,
    );
  }
}

/**
 * Exports the `stats` of a server as OpenTelemetry metrics until disposed:
 * one batch callback reads `source.stats` once each time a reader collects.
 * Nothing runs between collections. Call it after the `MeterProvider` is
 * registered (Deno's is there from the start under `OTEL_DENO=true`).
 *
 * @param source The server (`wss`), or any object with `stats` and `path`.
 * @param options The provider or meter, and more attributes.
 * @returns A `Disposable`: disposing it removes the callback, and the server's
 *   data points stop (`using` disposes it at the end of the block).
 * @throws {TypeError} When `source` has no `stats`, an option is unknown or
 *   of the wrong type, or both `meter` and `meterProvider` are given.
 *
 * @example With an SDK MeterProvider (test-only here), collected at once
 * ```ts
 * import { observeServer, type WSServerStats } from "@ws4d/websocket/otel";
 * import {
 *   AggregationTemporality,
 *   MeterProvider,
 *   MetricReader,
 * } from "npm:@opentelemetry/sdk-metrics@^3";
 * import { assertEquals } from "@std/assert";
 *
 * class Reader extends MetricReader {
 *   protected override async onForceFlush() {}
 *   protected override async onShutdown() {}
 * }
 * const reader = new Reader({
 *   aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE,
 * });
 * const meterProvider = new MeterProvider({ readers: [reader] });
 * const stats: WSServerStats = {
 *   connections: 3, connectionsTotal: 7, refused: { "403": 1 }, closes: {},
 *   messagesReceived: 0, messagesSent: 0, bytesReceived: 0, bytesSent: 0,
 *   errors: {}, broadcasts: 0, broadcastDeliveries: 0, publishes: 0,
 *   publishDeliveries: 0, backplaneFailures: 0,
 *   backplaneDrops: 0, limits: {}, sessionsWaiting: 0, sessionsResumed: 0,
 *   sessionsExpired: { window: 0, limits: 0 },
 * };
 *
 * using _metrics = observeServer({ stats, path: "/chat" }, { meterProvider });
 * const { resourceMetrics } = await reader.collect();
 * const active = resourceMetrics.scopeMetrics[0]?.metrics
 *   .find((m) => m.descriptor.name === "ws4d.server.connection.active");
 * assertEquals(active?.dataPoints[0]?.value, 3);
 * assertEquals(active?.dataPoints[0]?.attributes, { "http.route": "/chat" });
 * await meterProvider.shutdown();
 * ```
 */
export function observeServer(
  source: WSStatsSource,
  options: ObserveServerOptions = {},
): Disposable {
  validate(source, options);
  const meter = meterOf(options);
  const i = instrumentsOf(meter);
  const base: WSAttributes = source.path === undefined
    ? { ...options.attributes }
    : { "http.route": source.path, ...options.attributes };
  const receive = { ...base, "network.io.direction": "receive" };
  const transmit = { ...base, "network.io.direction": "transmit" };
  const callback = (result: WSBatchObservableResult): void => {
    const stats = source.stats;
    const each = (
      instrument: WSObservable,
      record: Readonly<Record<string, number>>,
      attribute: string,
    ) => {
      for (const [key, value] of Object.entries(record)) {
        result.observe(instrument, value, {
          ...base,
          [attribute]: keyValue(key),
        });
      }
    };
    result.observe(i.active, stats.connections, base);
    result.observe(i.accepted, stats.connectionsTotal, base);
    each(i.refused, stats.refused, "http.response.status_code");
    each(i.closed, stats.closes, "ws4d.close.code");
    result.observe(i.messages, stats.messagesReceived, receive);
    result.observe(i.messages, stats.messagesSent, transmit);
    result.observe(i.io, stats.bytesReceived, receive);
    result.observe(i.io, stats.bytesSent, transmit);
    each(i.errors, stats.errors, "error.type");
    result.observe(i.broadcasts, stats.broadcasts, base);
    result.observe(i.deliveries, stats.broadcastDeliveries, base);
    result.observe(i.publishes, stats.publishes, base);
    result.observe(i.publishDeliveries, stats.publishDeliveries, base);
    result.observe(i.failures, stats.backplaneFailures, base);
    result.observe(i.dropped, stats.backplaneDrops, base);
    each(i.limits, stats.limits, "ws4d.limit.name");
    result.observe(i.waiting, stats.sessionsWaiting, base);
    result.observe(i.resumed, stats.sessionsResumed, base);
    each(i.expired, stats.sessionsExpired, "ws4d.expiry.reason");
  };
  meter.addBatchObservableCallback(callback, i.all);
  let observing = true;
  return {
    [Symbol.dispose]() {
      if (!observing) return;
      observing = false;
      meter.removeBatchObservableCallback(callback, i.all);
    },
  };
}
