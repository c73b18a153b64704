/**
 * Test helpers of `otel.ts`: a stand-in for `wss.stats` (until
 * `WebSocketServer.stats` is on main), and the metrics that a `stats` object
 * must give, written out field by field independently of `otel.ts`.
 *
 * @module
 */
import {
  createStats,
  snapshotStats,
  type WSServerCounts,
  type WSServerStats,
} from "../_stats.ts";
import type { WSStatsSource } from "../otel.ts";

/** A stats source like a `WebSocketServer`, counting how often it is read. */
export interface FakeServer extends WSStatsSource {
  /** What `stats` snapshots; the test changes it. */
  readonly counts: WSServerCounts;
  /** How many times `stats` was read. */
  readonly reads: number;
}

/** A stats source with `path`, whose `stats` is a snapshot of `counts`. */
export function fakeServer(
  path: string | undefined,
  counts: WSServerCounts = sampleCounts(),
): FakeServer {
  let reads = 0;
  return {
    path,
    counts,
    get reads() {
      return reads;
    },
    get stats() {
      reads++;
      return snapshotStats(counts);
    },
  };
}

/** Counts with every field set, each to a different number. */
export function sampleCounts(): WSServerCounts {
  const counts = createStats();
  counts.connections = 3;
  counts.connectionsTotal = 11;
  counts.refused["403"] = 2;
  counts.refused["429"] = 5;
  counts.closes["1000"] = 6;
  counts.closes["1006"] = 1;
  counts.messagesReceived = 101;
  counts.messagesSent = 203;
  counts.bytesReceived = 4099;
  counts.bytesSent = 8209;
  counts.errors["InvalidJSON"] = 7;
  counts.broadcasts = 13;
  counts.broadcastDeliveries = 37;
  counts.publishes = 43;
  counts.publishDeliveries = 47;
  counts.backplaneFailures = 4;
  counts.backplaneDrops = 9;
  counts.limits.rateLimit = 17;
  counts.limits.maxConnectionsPerAddress = 19;
  counts.sessionsWaiting = 23;
  counts.sessionsResumed = 29;
  counts.sessionsExpired.window = 31;
  counts.sessionsExpired.limits = 41;
  return counts;
}

/** Every counter changed, and a new key in each record. */
export function changeCounts(counts: WSServerCounts): void {
  counts.connections -= 1;
  counts.connectionsTotal += 2;
  counts.refused["403"] = (counts.refused["403"] ?? 0) + 1;
  counts.refused["503"] = 1;
  counts.closes["1011"] = 2;
  counts.messagesReceived += 10;
  counts.messagesSent += 20;
  counts.bytesReceived += 300;
  counts.bytesSent += 400;
  counts.errors["CallbackFailed"] = 1;
  counts.broadcasts += 1;
  counts.broadcastDeliveries += 3;
  counts.publishes += 2;
  counts.publishDeliveries += 7;
  counts.backplaneFailures += 1;
  counts.backplaneDrops += 2;
  counts.limits.maxBufferedAmount += 1;
  counts.sessionsWaiting -= 2;
  counts.sessionsResumed += 3;
  counts.sessionsExpired.window += 1;
  counts.sessionsExpired.limits += 5;
}

/** The instruments: name, unit, and whether it is a monotonic sum. */
export const INSTRUMENTS: ReadonlyArray<
  { name: string; unit: string; monotonic: boolean }
> = [
  {
    name: "ws4d.server.connection.active",
    unit: "{connection}",
    monotonic: false,
  },
  {
    name: "ws4d.server.connection.accepted",
    unit: "{connection}",
    monotonic: true,
  },
  {
    name: "ws4d.server.connection.refused",
    unit: "{connection}",
    monotonic: true,
  },
  {
    name: "ws4d.server.connection.closed",
    unit: "{connection}",
    monotonic: true,
  },
  { name: "ws4d.server.messages", unit: "{message}", monotonic: true },
  { name: "ws4d.server.io", unit: "By", monotonic: true },
  { name: "ws4d.server.errors", unit: "{error}", monotonic: true },
  { name: "ws4d.server.broadcasts", unit: "{broadcast}", monotonic: true },
  {
    name: "ws4d.server.broadcast.deliveries",
    unit: "{message}",
    monotonic: true,
  },
  { name: "ws4d.server.publishes", unit: "{publish}", monotonic: true },
  {
    name: "ws4d.server.publish.deliveries",
    unit: "{message}",
    monotonic: true,
  },
  {
    name: "ws4d.server.backplane.failures",
    unit: "{failure}",
    monotonic: true,
  },
  {
    name: "ws4d.server.broadcast.dropped",
    unit: "{broadcast}",
    monotonic: true,
  },
  { name: "ws4d.server.limit.hits", unit: "{hit}", monotonic: true },
  {
    name: "ws4d.server.session.waiting",
    unit: "{session}",
    monotonic: false,
  },
  { name: "ws4d.server.session.resumed", unit: "{session}", monotonic: true },
  { name: "ws4d.server.session.expired", unit: "{session}", monotonic: true },
];

/** One data point: its metric, attributes and value. */
export interface Point {
  name: string;
  attributes: Record<string, unknown>;
  value: number;
}

/** Points sorted by name then attributes, for deepEqual. */
export function sorted(points: Point[]): Point[] {
  const key = (p: Point) =>
    `${p.name} ${
      JSON.stringify(
        Object.entries(p.attributes).sort(([a], [b]) =>
          a < b ? -1 : a > b ? 1 : 0
        ),
      )
    }`;
  return points.map((p) => ({ ...p, attributes: sortKeys(p.attributes) }))
    .sort((a, b) => key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
}

function sortKeys(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(record).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0),
  );
}

/** The data points that `stats` must give, with `base` on each. */
export function expectedPoints(
  stats: WSServerStats,
  base: Record<string, unknown>,
): Point[] {
  const points: Point[] = [];
  const one = (name: string, value: number, more = {}) =>
    points.push({ name, attributes: { ...base, ...more }, value });
  const each = (
    name: string,
    record: Readonly<Record<string, number>>,
    attribute: string,
    asNumber: boolean,
  ) => {
    for (const [key, value] of Object.entries(record)) {
      one(name, value, { [attribute]: asNumber ? Number(key) : key });
    }
  };
  one("ws4d.server.connection.active", stats.connections);
  one("ws4d.server.connection.accepted", stats.connectionsTotal);
  each(
    "ws4d.server.connection.refused",
    stats.refused,
    "http.response.status_code",
    true,
  );
  each("ws4d.server.connection.closed", stats.closes, "ws4d.close.code", true);
  one("ws4d.server.messages", stats.messagesReceived, {
    "network.io.direction": "receive",
  });
  one("ws4d.server.messages", stats.messagesSent, {
    "network.io.direction": "transmit",
  });
  one("ws4d.server.io", stats.bytesReceived, {
    "network.io.direction": "receive",
  });
  one("ws4d.server.io", stats.bytesSent, {
    "network.io.direction": "transmit",
  });
  each("ws4d.server.errors", stats.errors, "error.type", false);
  one("ws4d.server.broadcasts", stats.broadcasts);
  one("ws4d.server.broadcast.deliveries", stats.broadcastDeliveries);
  one("ws4d.server.publishes", stats.publishes);
  one("ws4d.server.publish.deliveries", stats.publishDeliveries);
  one("ws4d.server.backplane.failures", stats.backplaneFailures);
  one("ws4d.server.broadcast.dropped", stats.backplaneDrops);
  each("ws4d.server.limit.hits", stats.limits, "ws4d.limit.name", false);
  one("ws4d.server.session.waiting", stats.sessionsWaiting);
  one("ws4d.server.session.resumed", stats.sessionsResumed);
  one("ws4d.server.session.expired", stats.sessionsExpired.window, {
    "ws4d.expiry.reason": "window",
  });
  one("ws4d.server.session.expired", stats.sessionsExpired.limits, {
    "ws4d.expiry.reason": "limits",
  });
  return sorted(points);
}
