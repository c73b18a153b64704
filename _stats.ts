// This module is browser compatible.
/**
 * The shape of `wss.stats`: what a server counts, always on, on the paths it
 * already takes. The server counts into the mutable object of
 * {@linkcode createStats} and hands out {@linkcode snapshotStats} copies;
 * `otel.ts` reads those copies at export time.
 *
 * @module
 */
import { ERROR_NAMES, ErrorCode } from "./_errors.ts";
import type { WSError } from "./_types.ts";

/** What a WebSocketServer has counted since it started (JSON-friendly). */
export interface WSServerStats {
  /** Connections open now: upgraded and not yet terminated. */
  readonly connections: number;
  /** Connections accepted (upgraded) since the server started. */
  readonly connectionsTotal: number;
  /** Handshakes refused, by HTTP status: `{ "403": 2, "429": 1 }`. */
  readonly refused: Readonly<Record<string, number>>;
  /**
   * Connections terminated, by the close code `onTerminate` reported:
   * `{ "1000": 5, "1006": 1 }`.
   */
  readonly closes: Readonly<Record<string, number>>;
  /** Messages received from peers. */
  readonly messagesReceived: number;
  /**
   * Messages sent to peers (a broadcast counts once per connection it
   * reaches).
   */
  readonly messagesSent: number;
  /** Payload bytes received (UTF-8 bytes for text). */
  readonly bytesReceived: number;
  /** Payload bytes sent (UTF-8 bytes for text). */
  readonly bytesSent: number;
  /** `onError` entries, by `ErrorCode` name: `{ "InvalidJSON": 1 }`. */
  readonly errors: Readonly<Record<string, number>>;
  /** Calls of `broadcast()`. */
  readonly broadcasts: number;
  /** The local deliveries that the calls of `broadcast()` made. */
  readonly broadcastDeliveries: number;
  /** Calls of `publish()` (`wss.publish`, `ws.publish`) on this instance. */
  readonly publishes: number;
  /**
   * Messages handed to subscribers on this instance by a publish, whichever
   * instance published it (so the sum over instances is every delivery).
   */
  readonly publishDeliveries: number;
  /** Backplane failures reported. */
  readonly backplaneFailures: number;
  /** Broadcasts that did not reach the other instances. */
  readonly backplaneDrops: number;
  /**
   * Limits hit, by limit: `{ "rateLimit": 1, "maxConnectionsPerAddress": 2,
   * "maxConnections": 0, "maxMessageSize": 0, "maxBufferedAmount": 0 }`.
   */
  readonly limits: Readonly<Record<string, number>>;
  /**
   * Resumable sessions whose socket broke and that wait for their client
   * now (server option `resume`): a gauge, back down when one is resumed or
   * ends.
   */
  readonly sessionsWaiting: number;
  /** Sessions resumed on a new socket (server option `resume`). */
  readonly sessionsResumed: number;
  /**
   * Sessions that ended with 1006 while their client was away, by reason,
   * both present from the start: `window` passed, or what was kept for the
   * client passed `maxMessages`/`maxBytes` (`limits`).
   */
  readonly sessionsExpired: Readonly<Record<"window" | "limits", number>>;
}

/** The names of the limits that `limits` counts, each present from the start. */
export type WSLimitName =
  | "rateLimit"
  | "maxConnectionsPerAddress"
  | "maxConnections"
  | "maxMessageSize"
  | "maxBufferedAmount";

/** The object a server counts into: {@linkcode WSServerStats}, writable. */
export interface WSServerCounts {
  /** See {@linkcode WSServerStats.connections}. */
  connections: number;
  /** See {@linkcode WSServerStats.connectionsTotal}. */
  connectionsTotal: number;
  /** See {@linkcode WSServerStats.refused}. */
  refused: Record<string, number>;
  /** See {@linkcode WSServerStats.closes}. */
  closes: Record<string, number>;
  /** See {@linkcode WSServerStats.messagesReceived}. */
  messagesReceived: number;
  /** See {@linkcode WSServerStats.messagesSent}. */
  messagesSent: number;
  /** See {@linkcode WSServerStats.bytesReceived}. */
  bytesReceived: number;
  /** See {@linkcode WSServerStats.bytesSent}. */
  bytesSent: number;
  /** See {@linkcode WSServerStats.errors}. */
  errors: Record<string, number>;
  /** See {@linkcode WSServerStats.broadcasts}. */
  broadcasts: number;
  /** See {@linkcode WSServerStats.broadcastDeliveries}. */
  broadcastDeliveries: number;
  /** See {@linkcode WSServerStats.publishes}. */
  publishes: number;
  /** See {@linkcode WSServerStats.publishDeliveries}. */
  publishDeliveries: number;
  /** See {@linkcode WSServerStats.backplaneFailures}. */
  backplaneFailures: number;
  /** See {@linkcode WSServerStats.backplaneDrops}. */
  backplaneDrops: number;
  /** See {@linkcode WSServerStats.limits}. */
  limits: Record<WSLimitName, number> & Record<string, number>;
  /** See {@linkcode WSServerStats.sessionsWaiting}. */
  sessionsWaiting: number;
  /** See {@linkcode WSServerStats.sessionsResumed}. */
  sessionsResumed: number;
  /** See {@linkcode WSServerStats.sessionsExpired}. */
  sessionsExpired: Record<"window" | "limits", number>;
}

/**
 * A zeroed {@linkcode WSServerCounts}: every number 0, `refused`, `closes` and
 * `errors` empty (a key appears when it is first counted), `limits` with every
 * limit at 0 so that a dashboard shows the limits that were never hit, and
 * `sessionsExpired` with both reasons at 0 for the same reason.
 *
 * @returns A new object, the server's to increment.
 *
 * @example
 * ```ts
 * import { createStats } from "./_stats.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const counts = createStats();
 * counts.refused["429"] = (counts.refused["429"] ?? 0) + 1;
 * assertEquals(counts.limits.rateLimit, 0);
 * assertEquals(counts.sessionsExpired, { window: 0, limits: 0 });
 * ```
 */
export function createStats(): WSServerCounts {
  return {
    connections: 0,
    connectionsTotal: 0,
    refused: {},
    closes: {},
    messagesReceived: 0,
    messagesSent: 0,
    bytesReceived: 0,
    bytesSent: 0,
    errors: {},
    broadcasts: 0,
    broadcastDeliveries: 0,
    publishes: 0,
    publishDeliveries: 0,
    backplaneFailures: 0,
    backplaneDrops: 0,
    limits: {
      rateLimit: 0,
      maxConnectionsPerAddress: 0,
      maxConnections: 0,
      maxMessageSize: 0,
      maxBufferedAmount: 0,
    },
    sessionsWaiting: 0,
    sessionsResumed: 0,
    sessionsExpired: { window: 0, limits: 0 },
  };
}

/**
 * A frozen copy of `counts`, its records copied and frozen too, so that what
 * a caller holds never changes under it and `JSON.stringify` gives all of it.
 *
 * @param counts What the server counted.
 * @returns The copy.
 *
 * @example
 * ```ts
 * import { createStats, snapshotStats } from "./_stats.ts";
 * import { assert, assertEquals } from "@std/assert";
 *
 * const counts = createStats();
 * const before = snapshotStats(counts);
 * counts.closes["1000"] = 1;
 * assertEquals(before.closes, {});
 * assert(Object.isFrozen(before.closes));
 * ```
 */
export function snapshotStats(counts: WSServerCounts): WSServerStats {
  return Object.freeze({
    connections: counts.connections,
    connectionsTotal: counts.connectionsTotal,
    refused: Object.freeze({ ...counts.refused }),
    closes: Object.freeze({ ...counts.closes }),
    messagesReceived: counts.messagesReceived,
    messagesSent: counts.messagesSent,
    bytesReceived: counts.bytesReceived,
    bytesSent: counts.bytesSent,
    errors: Object.freeze({ ...counts.errors }),
    broadcasts: counts.broadcasts,
    broadcastDeliveries: counts.broadcastDeliveries,
    publishes: counts.publishes,
    publishDeliveries: counts.publishDeliveries,
    backplaneFailures: counts.backplaneFailures,
    backplaneDrops: counts.backplaneDrops,
    limits: Object.freeze({ ...counts.limits }),
    sessionsWaiting: counts.sessionsWaiting,
    sessionsResumed: counts.sessionsResumed,
    sessionsExpired: Object.freeze({ ...counts.sessionsExpired }),
  });
}

/**
 * Counts `onError` entries by `ErrorCode` name.
 *
 * @example
 * ```ts
 * import { countErrors, createStats } from "./_stats.ts";
 * import { ErrorCode } from "./_errors.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const stats = createStats();
 * countErrors(stats, [
 *   { errCode: ErrorCode.InvalidJSON, message: "", componentSignature: "ws4d" },
 * ]);
 * assertEquals(stats.errors, { InvalidJSON: 1 });
 * ```
 */
export function countErrors(
  stats: WSServerCounts,
  errors: readonly WSError[],
): void {
  for (const { errCode } of errors) {
    const name = ERROR_NAMES[errCode];
    stats.errors[name] = (stats.errors[name] ?? 0) + 1;
  }
}

/** The limit each error hits, where it is one. */
const LIMIT_OF: Partial<Record<number, WSLimitName>> = {
  [ErrorCode.RateLimited]: "rateLimit",
  [ErrorCode.MessageTooLarge]: "maxMessageSize",
  [ErrorCode.SlowConsumer]: "maxBufferedAmount",
};

/**
 * Counts the limits that `errors` say were hit.
 *
 * @example
 * ```ts
 * import { countLimits, createStats } from "./_stats.ts";
 * import { ErrorCode } from "./_errors.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const stats = createStats();
 * countLimits(stats, [
 *   { errCode: ErrorCode.SlowConsumer, message: "", componentSignature: "ws4d" },
 * ]);
 * assertEquals(stats.limits.maxBufferedAmount, 1);
 * ```
 */
export function countLimits(
  stats: WSServerCounts,
  errors: readonly WSError[],
): void {
  for (const { errCode } of errors) {
    const limit = LIMIT_OF[errCode];
    if (limit !== undefined) stats.limits[limit]++;
  }
}

/**
 * The counts of the whole server, across the instances alive on its
 * backplane: each instance's named counts, and their sums.
 */
export interface WSClusterStats {
  /** The instances counted (this one included). */
  readonly instances: number;
  /**
   * Each named count summed over the instances: `connections`,
   * `connectionsTotal`, `messagesReceived`, `messagesSent`,
   * `sessionsWaiting`, `sessionsResumed`, and any other an instance
   * carries (a topic's subscribers, for one).
   */
  readonly counts: Readonly<Record<string, number>>;
  /** Each instance's id and its own counts, this one first. */
  readonly byInstance: readonly {
    readonly instance: string;
    readonly counts: Readonly<Record<string, number>>;
  }[];
}

/**
 * How many topics' subscriber counts a heartbeat carries, beside the
 * server's own counts (a heartbeat carries at most 256 names).
 */
export const CLUSTER_TOPICS = 240;

/**
 * The named counts an instance's heartbeats carry: the server's own, and
 * `topic:<name>` for the subscribers of each topic (at most
 * {@linkcode CLUSTER_TOPICS} of them, in the order they were first
 * subscribed).
 */
export function clusterCounts(
  stats: WSServerCounts,
  topics: ReadonlyMap<string, number> = new Map(),
): Record<string, number> {
  const counts: Record<string, number> = {
    connections: stats.connections,
    connectionsTotal: stats.connectionsTotal,
    messagesReceived: stats.messagesReceived,
    messagesSent: stats.messagesSent,
    sessionsWaiting: stats.sessionsWaiting,
    sessionsResumed: stats.sessionsResumed,
  };
  let n = 0;
  for (const [topic, subscribers] of topics) {
    if (++n > CLUSTER_TOPICS) break;
    counts[`topic:${topic}`] = subscribers;
  }
  return counts;
}

/**
 * The sums of each instance's counts.
 *
 * @example
 * ```ts
 * import { sumCounts } from "./_stats.ts";
 * import { assertEquals } from "@std/assert";
 *
 * const stats = sumCounts([
 *   { instance: "a", counts: { connections: 2 } },
 *   { instance: "b", counts: { connections: 3, "topic:news": 1 } },
 * ]);
 * assertEquals(stats.counts, { connections: 5, "topic:news": 1 });
 * assertEquals(stats.instances, 2);
 * ```
 */
export function sumCounts(
  instances: readonly {
    instance: string;
    counts: Readonly<Record<string, number>>;
  }[],
): WSClusterStats {
  const counts: Record<string, number> = {};
  for (const { counts: own } of instances) {
    for (const [name, count] of Object.entries(own)) {
      counts[name] = (counts[name] ?? 0) + count;
    }
  }
  return Object.freeze({
    instances: instances.length,
    counts: Object.freeze(counts),
    byInstance: Object.freeze(
      instances.map(({ instance, counts }) =>
        Object.freeze({ instance, counts: Object.freeze({ ...counts }) })
      ),
    ),
  });
}
