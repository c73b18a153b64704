// deno-lint-ignore-file no-console
/**
 * The server process of the benchmark: one WebSocket server on 127.0.0.1, a
 * free port, which it prints as its first stdout line.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 bench/server.ts \
 *   --impl raw|raw-headers|ws4d --scenario echo|broadcast --dataType text|blob|object \
 *   [--fanout loop|broadcast|redis|publish|publish-redis --redis <url>] \
 *   [--module <path of a mod.ts>] [--options <JSON>] [--preload <module path>] \
 *   [--extra backplane|topic]
 * ```
 *
 * Both implementations do the same work:
 * - every connection gets `"hi"` when it opens (the client's "ready");
 * - `echo` sends each message back: under `"object"` parsed with
 *   `JSON.parse` and sent with `JSON.stringify`, under `"blob"` received and
 *   sent back as binary;
 * - `broadcast` sends each message to every other open connection. ws4d does
 *   it as 4D code does (`--fanout loop`: `for (const c of wss.connections)
 *   if (c !== ws) c.send(data)`) or with `wss.broadcast(data, { except: ws })`
 *   (`--fanout broadcast`), or with `wss.broadcast` through a
 *   `RedisBackplane` (`--fanout redis --redis <url>`: run two instances, the
 *   sender on one, the receivers on the other). With topics, every
 *   connection is subscribed to one topic at open and each message goes
 *   out with `ws.publish(topic, data)` (`--fanout publish`), or through a
 *   `RedisBackplane` (`--fanout publish-redis --redis <url>`).
 *
 * ws4d is the working tree's (`../mod.ts`) unless `--module` names another
 * copy of the package (the benchmark's `ws4d@<ref>`, extracted from git),
 * imported dynamically either way; `--options` adds server options (JSON)
 * to the ones below, and `--preload` imports a module before the server
 * starts (for example one that registers an OpenTelemetry `MeterProvider`).
 * `--extra backplane` gives the server a `BroadcastChannelBackplane` with no
 * other instance on its channel; `--extra topic` subscribes every connection
 * to one topic at open, the echo unchanged (the option-cost rows).
 * The API used is the one every version has: `new WebSocketServer(handler,
 * { port, hostname, dataType })`, `ws.send`, `wss.broadcast`,
 * `wss.connections`.
 *
 * `raw` is `Deno.serve` and `Deno.upgradeWebSocket` written directly, with
 * the `idleTimeout` of 30 s that ws4d uses by default. `raw-headers` is the
 * same, plus what the 4D contract asks of ws4d before the upgrade: a copy of
 * every request header, kept for the life of the connection (the idle
 * memory scenario compares all three).
 *
 * Lines on stdin: `count` answers the number of open connections, `gc` runs
 * the garbage collector (with `--v8-flags=--expose-gc`) and answers `ok`,
 * `heap` answers the JS heap in use (bytes, after `gc`). The process exits
 * when stdin ends.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import type {
  WebSocketConnection,
  WSConnectionHandler,
  WSMessageEvent,
} from "../mod.ts";
import { onStdinLines } from "./_lines.ts";

type Impl = "raw" | "raw-headers" | "ws4d";
type Scenario = "echo" | "broadcast";
type DataType = "text" | "blob" | "object";
type Fanout = "loop" | "broadcast" | "redis" | "publish" | "publish-redis";
type Extra = "none" | "backplane" | "topic";

/** The one topic of the publish fan-outs. */
const TOPIC = "bench";

function choice<T extends string>(
  name: string,
  value: string | undefined,
  allowed: readonly T[],
): T {
  const found = allowed.find((item) => item === value);
  if (found === undefined) {
    throw new TypeError(
      `--${name} must be one of ${allowed.join("|")}, got ${value}`,
    );
  }
  return found;
}

/** A running server: its port and its count of open connections. */
interface Running {
  readonly port: number;
  count(): number;
}

const GREETING = "hi";
const IDLE_TIMEOUT = 30;

function startRaw(
  scenario: Scenario,
  dataType: DataType,
  copyHeaders: boolean,
): Running {
  const open = new Set<WebSocket>();
  // raw-headers: each connection's copy of its request headers.
  const copies = new Map<WebSocket, Record<string, string>>();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (request) => {
      let headers: Record<string, string> | undefined;
      if (copyHeaders) {
        headers = {};
        for (const [name, value] of request.headers) headers[name] = value;
      }
      const { socket, response } = Deno.upgradeWebSocket(request, {
        idleTimeout: IDLE_TIMEOUT,
      });
      if (headers !== undefined) copies.set(socket, headers);
      socket.binaryType = "arraybuffer";
      socket.onopen = () => {
        open.add(socket);
        socket.send(GREETING);
      };
      socket.onclose = () => {
        open.delete(socket);
        copies.delete(socket);
      };
      socket.onerror = () => {};
      if (scenario === "broadcast") {
        socket.onmessage = (event: MessageEvent<string | ArrayBuffer>) => {
          const data = event.data;
          for (const other of open) if (other !== socket) other.send(data);
        };
      } else if (dataType === "object") {
        socket.onmessage = (event: MessageEvent<string>) => {
          socket.send(JSON.stringify(JSON.parse(event.data)));
        };
      } else {
        socket.onmessage = (event: MessageEvent<string | ArrayBuffer>) => {
          socket.send(event.data);
        };
      }
      return response;
    },
  );
  return { port: server.addr.port, count: () => open.size };
}

/** A copy of the package. */
interface Package {
  readonly mod: typeof import("../mod.ts");
  redis(): Promise<typeof import("../redis.ts")>;
}

/**
 * The working tree's package, or the copy whose `mod.ts` is at `path`. By
 * a URL made at run time either way: a literal `import("../mod.ts")` would
 * put the package's module graph (and npm's redis) in every server process
 * of the bench, raw's too, where it counted in raw's fixed memory.
 */
async function loadPackage(
  path: string | undefined,
  here: URL,
): Promise<Package> {
  const url = new URL(
    path ?? "../mod.ts",
    path === undefined ? import.meta.url : here,
  );
  return {
    mod: await import(url.href),
    redis: () => import(new URL("redis.ts", url).href),
  };
}

/** What a ws4d server is made of. */
interface Ws4dSpec {
  readonly scenario: Scenario;
  readonly dataType: DataType;
  readonly fanout: Fanout;
  readonly redisUrl: string | undefined;
  /** The package: its `mod.ts`, and its `redis.ts` when asked. */
  readonly pkg: Package;
  readonly options: Record<string, unknown>;
  readonly extra: Extra;
}

async function startWs4d(
  { scenario, dataType, fanout, redisUrl, pkg, options, extra }: Ws4dSpec,
): Promise<Running> {
  const { WebSocketServer } = pkg.mod;
  const publishes = fanout === "publish" || fanout === "publish-redis";
  const subscribes = publishes || extra === "topic";
  const onMessage = scenario === "echo"
    ? (ws: WebSocketConnection, event: WSMessageEvent) => ws.send(event.data)
    : fanout === "loop"
    ? (ws: WebSocketConnection, event: WSMessageEvent) => {
      for (const c of ws.wss.connections) if (c !== ws) c.send(event.data);
    }
    : publishes
    ? (ws: WebSocketConnection, event: WSMessageEvent) => {
      ws.publish(TOPIC, event.data);
    }
    : (ws: WebSocketConnection, event: WSMessageEvent) => {
      ws.wss.broadcast(event.data, { except: ws });
    };
  const handler: WSConnectionHandler = {
    onOpen: subscribes
      ? (ws) => {
        ws.subscribe(TOPIC);
        ws.send(GREETING);
      }
      : (ws) => ws.send(GREETING),
    onMessage,
  };
  // Loaded only for this row, as users of the local broadcast never load it.
  const redis = fanout === "redis" || fanout === "publish-redis"
    ? new (await pkg.redis()).RedisBackplane(redisUrl ?? "", {
      channel: "ws4d-bench",
    })
    : undefined;
  // Alone on its channel: what a backplane costs when nothing comes back.
  const backplane = redis ??
    (extra === "backplane"
      ? new pkg.mod.BroadcastChannelBackplane(`ws4d-bench-${Deno.pid}`)
      : undefined);
  const wss = new WebSocketServer({ onConnection: () => handler }, {
    port: 0,
    hostname: "127.0.0.1",
    dataType,
    backplane,
    ...options,
  });
  await redis?.ready;
  // A preload may watch the server (bench/preload_otel.ts observes it).
  (globalThis as { ws4dBenchServerStarted?: (wss: unknown) => void })
    .ws4dBenchServerStarted?.(wss);
  const port = wss.addr?.port;
  if (port === undefined) throw new Error("ws4d server is not listening");
  return { port, count: () => wss.connections.length };
}

const values = parseArgs(Deno.args, {
  string: [
    "impl",
    "scenario",
    "dataType",
    "fanout",
    "redis",
    "module",
    "options",
    "preload",
    "extra",
  ],
  default: { dataType: "text", fanout: "loop", options: "{}", extra: "none" },
  unknown: (arg) => {
    throw new TypeError(`Unknown argument ${arg}`);
  },
});
const impl = choice<Impl>("impl", values.impl, ["raw", "raw-headers", "ws4d"]);
const scenario = choice<Scenario>("scenario", values.scenario, [
  "echo",
  "broadcast",
]);
const dataType = choice<DataType>("dataType", values.dataType, [
  "text",
  "blob",
  "object",
]);
const fanout = choice<Fanout>("fanout", values.fanout, [
  "loop",
  "broadcast",
  "redis",
  "publish",
  "publish-redis",
]);
if (
  (fanout === "redis" || fanout === "publish-redis") &&
  values.redis === undefined
) {
  throw new TypeError("--fanout redis needs --redis <url>");
}

const extra = choice<Extra>("extra", values.extra, [
  "none",
  "backplane",
  "topic",
]);

const options: unknown = JSON.parse(values.options);
if (typeof options !== "object" || options === null || Array.isArray(options)) {
  throw new TypeError(`--options must be a JSON object, got ${values.options}`);
}
const here = new URL(`file://${Deno.cwd()}/`);
if (values.preload !== undefined) {
  await import(new URL(values.preload, here).href);
}
const running = impl === "ws4d"
  ? await startWs4d({
    scenario,
    dataType,
    fanout,
    redisUrl: values.redis,
    pkg: await loadPackage(values.module, here),
    options: options as Record<string, unknown>,
    extra,
  })
  : startRaw(scenario, dataType, impl === "raw-headers");
console.log(String(running.port));

const gc = (globalThis as { gc?: () => void }).gc;
onStdinLines((line) => {
  if (line === "count") console.log(String(running.count()));
  else if (line === "gc") {
    gc?.();
    gc?.();
    console.log("ok");
  } else if (line === "heap") {
    gc?.();
    gc?.();
    console.log(String(Deno.memoryUsage().heapUsed));
  }
});
