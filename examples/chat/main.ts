/**
 * The chat of the 4D documentation's WebSocketServer example, on ws4d.
 *
 * - `deno task serve` runs `serve.ts`, which runs this module under
 *   `deno serve --parallel` (one worker per core) on `PORT` (default 8000).
 * - `deno serve examples/chat/main.ts` and Deno Deploy: `export default { fetch }`.
 *
 * `/stats` serves the whole chat's count of connections and the instance's
 * `wss.stats` as JSON, `/count?room=name` a room's count in the whole chat;
 * with `?fresh` (`&fresh`), each answers after the next heartbeat of another
 * worker or process. With `OTEL_DENO=true`, Deno exports the counters as
 * OpenTelemetry metrics (`observeServer`).
 *
 * The workers share broadcasts through a `BroadcastChannelBackplane`; with
 * `REDIS_URL` set, through a `RedisBackplane` instead, which joins processes
 * and machines too.
 *
 * The page (`index.html`) talks to `/ws` with ws4d's own client, served at
 * `/client.js` (bundled for the browser, see `bundle.ts`), with `reconnect`:
 * it comes back by itself when the chat restarts. The page (and the
 * stand-in client, where there is no bundle) is served by `@std/http`'s
 * `serveFile`: content type, ETag, and a 304 to `If-None-Match`; the bundle
 * gets the same from its text's hash (`@std/http/etag`).
 *
 * @module
 */
import { deadline } from "@std/async/deadline";
import { eTag, ifNoneMatch } from "@std/http/etag";
import { serveFile } from "@std/http/file-server";
import { bundleClient, CLIENT_ENV } from "./bundle.ts";
import { ChatHandler, roomOf } from "./chat.ts";
import { READY_ENV, READY_LINE } from "./ready.ts";
import {
  type Backplane,
  BroadcastChannelBackplane,
  WebSocketServer,
} from "../../mod.ts";

/** A file of this folder, as the path that `serveFile` reads. */
function here(name: string): string {
  return decodeURIComponent(new URL(name, import.meta.url).pathname);
}

/** The page, served by `serveFile`: its content type, ETag, 304. */
const PAGE = here("./index.html");
/** The page's client where ws4d's cannot be bundled. */
const STAND_IN = here("./plain_client.js");

/** The channel that the chat's instances share. */
const CHANNEL = "ws4d-chat";

/**
 * Redis when `REDIS_URL` is set (loaded only then), with the promise of its
 * first subscription, and `settled`, which resolves once Redis carries the
 * topics asked so far; else the workers' channel, which carries every topic
 * at once.
 */
async function chooseBackplane(): Promise<{
  backplane: Backplane;
  subscribed?: Promise<void>;
  settled: () => Promise<void>;
}> {
  const url = Deno.env.get("REDIS_URL");
  if (url === undefined || url === "") {
    return {
      backplane: new BroadcastChannelBackplane(CHANNEL),
      settled: () => Promise.resolve(),
    };
  }
  const { RedisBackplane } = await import("../../redis.ts");
  const backplane = new RedisBackplane(url, { channel: CHANNEL });
  return {
    backplane,
    subscribed: backplane.ready,
    settled: () => backplane.settled(),
  };
}

const { backplane, subscribed, settled } = await chooseBackplane();

/** The chat's WebSocket server, at `/ws`. */
export const wss = new WebSocketServer({
  // The page at `/?room=name` connects to `/ws?room=name`.
  onConnection: (_wss, { request }) =>
    new ChatHandler(roomOf(request.url), settled),
}, {
  path: "/ws",
  backplane,
  // Ctrl-C and SIGTERM terminate the chat: every client gets 1001. Under
  // `deno serve` each worker of --parallel listens for itself.
  signals: true,
  // A page whose network drops for a moment comes back where it was,
  // whichever worker or process its reconnect reaches: nothing missed
  // (docs/cluster.md).
  resume: true,
});

// With OTEL_DENO=true, Deno exports the chat's counters as OpenTelemetry
// metrics; the module that does it is loaded only then.
if (Deno.env.get("OTEL_DENO") === "true") {
  const { observeServer } = await import("../../otel.ts");
  observeServer(wss);
}

/**
 * How many clients each room has, in the whole chat: every worker's and
 * process's subscribers to the room's topic, as their heartbeats carry them
 * (`wss.clusterStats`, `topic:<name>`); with no backplane, this instance's.
 */
export function roomCounts(): Map<string, number> {
  const rooms = new Map<string, number>();
  const prefix = "topic:room:";
  for (const [name, count] of Object.entries(wss.clusterStats.counts)) {
    if (name.startsWith(prefix)) rooms.set(name.slice(prefix.length), count);
  }
  return rooms;
}

/**
 * The chat's counts: the whole chat's connections, whichever worker or
 * process answers (`wss.clusterStats`, each client once); the other counters
 * are this instance's (`wss.stats`), and `cluster` has the sums of every
 * instance's counts. OTEL_DENO=true exports them all, see
 * docs/limits-and-metrics.md.
 */
function stats(): Response {
  const cluster = wss.clusterStats;
  return Response.json({
    ...wss.stats,
    connections: cluster.counts.connections ?? 0,
    cluster,
  });
}

/**
 * Resolves at the next heartbeat of another worker or process taken in, or
 * after 1 s (a chat alone hears none).
 */
async function nextHeartbeat(): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, 1000);
  });
  try {
    await Promise.race([backplane.heard?.() ?? Promise.resolve(), bound]);
  } finally {
    clearTimeout(timer);
  }
}

/** The bundled client and its ETag (a hash of its text). */
interface Bundled {
  readonly script: string;
  readonly etag: string;
}

/**
 * The bundled client: serve.ts's, or bundled here on first need; `null`
 * where it cannot be bundled (Deno Deploy, `deno serve` without
 * --allow-run): the page then gets a stand-in over the browser's WebSocket
 * (plain_client.js: no reconnect).
 */
let client: Promise<Bundled | null> | undefined;

function clientScript(): Promise<Bundled | null> {
  const given = Deno.env.get(CLIENT_ENV);
  return client ??= (given ? Promise.resolve(given) : bundleClient()).then(
    async (script) => ({ script, etag: await eTag(script) }),
    () => null,
  );
}

/** The bundle as `serveFile` serves a file: a 304 when the ETag matches. */
function serveBundle(request: Request, { script, etag }: Bundled): Response {
  const headers = { "content-type": "text/javascript; charset=UTF-8", etag };
  return ifNoneMatch(request.headers.get("if-none-match"), etag)
    ? new Response(script, { headers })
    : new Response(null, { status: 304, headers });
}

/** Serves the page at `/`, the client at `/client.js`, the chat at `/ws`. */
export function fetch(
  request: Request,
  info?: Deno.ServeHandlerInfo,
): Response | Promise<Response> {
  if (wss.handles(request)) return wss.fetch(request, info);
  const { pathname } = new URL(request.url);
  if (pathname === "/stats") {
    // `/stats?fresh`: after the next heartbeat of another worker or process
    // (at most 1 s), so that the whole chat's counts include it.
    return new URL(request.url).searchParams.has("fresh")
      ? nextHeartbeat().then(stats)
      : stats();
  }
  if (pathname === "/count") {
    // The room's count, as the page shows it (`/count?room=name`); with
    // `&fresh`, after the next heartbeat, as `/stats?fresh`.
    const room = roomOf(request.url);
    const count = () =>
      Response.json({ room, count: roomCounts().get(room) ?? 0 });
    return new URL(request.url).searchParams.has("fresh")
      ? nextHeartbeat().then(count)
      : count();
  }
  if (pathname === "/" || pathname === "/index.html") {
    return serveFile(request, PAGE);
  }
  if (pathname === "/client.js") {
    return clientScript().then(
      (bundled) =>
        bundled === null
          ? serveFile(request, STAND_IN)
          : serveBundle(request, bundled),
      (error: Error) => {
        client = undefined;
        return new Response(error.message, { status: 500 });
      },
    );
  }
  return new Response("Not Found", { status: 404 });
}

// Launched by serve.ts: say that this worker is up (see ready.ts), once a
// Redis backplane has subscribed (else what a client sends at once would not
// reach the other chat), or after 5 s if Redis cannot be reached.
if (import.meta.main && Deno.env.get(READY_ENV) === "1") {
  if (subscribed !== undefined) {
    await deadline(subscribed, 5000).catch(() => {});
  }
  // deno-lint-ignore no-console
  console.error(READY_LINE);
}

export default { fetch };
