/**
 * The chat of the 4D documentation's WebSocketServer example, on ws4d.
 *
 * - `deno task serve` runs `serve.ts`, which runs this module under
 *   `deno serve --parallel` (one worker per core) on `PORT` (default 8000).
 * - `deno serve examples/chat/main.ts` and Deno Deploy: `export default { fetch }`.
 *
 * `/stats` serves the instance's `wss.stats` as JSON; with `OTEL_DENO=true`,
 * Deno exports them as OpenTelemetry metrics (`observeServer`).
 *
 * The workers share broadcasts through a `BroadcastChannelBackplane`; with
 * `REDIS_URL` set, through a `RedisBackplane` instead, which joins processes
 * and machines too.
 *
 * The page (`index.html`) talks to `/ws` with ws4d's own client, served at
 * `/client.js` (bundled for the browser, see `bundle.ts`), with `reconnect`:
 * it comes back by itself when the chat restarts.
 *
 * @module
 */
import { bundleClient, CLIENT_ENV } from "./bundle.ts";
import { ChatHandler } from "./chat.ts";
import { READY_ENV, READY_LINE } from "./ready.ts";
import {
  type Backplane,
  BroadcastChannelBackplane,
  WebSocketServer,
} from "../../mod.ts";

const PAGE = await Deno.readTextFile(new URL("./index.html", import.meta.url));

/** The channel that the chat's instances share. */
const CHANNEL = "ws4d-chat";

/** Redis when `REDIS_URL` is set (loaded only then), else the workers' channel. */
async function chooseBackplane(): Promise<Backplane> {
  const url = Deno.env.get("REDIS_URL");
  if (url === undefined || url === "") {
    return new BroadcastChannelBackplane(CHANNEL);
  }
  const { RedisBackplane } = await import("../../redis.ts");
  return new RedisBackplane(url, { channel: CHANNEL });
}

const backplane = await chooseBackplane();

/** The chat's WebSocket server, at `/ws`. */
export const wss = new WebSocketServer({
  onConnection: () => new ChatHandler(),
}, {
  path: "/ws",
  backplane,
  // Ctrl-C and SIGTERM terminate the chat: every client gets 1001. Under
  // `deno serve` each worker of --parallel listens for itself.
  signals: true,
  // A page whose network drops for a moment comes back where it was, on the
  // same worker: nothing missed (README, "Resuming").
  resume: true,
});

// With OTEL_DENO=true, Deno exports the chat's counters as OpenTelemetry
// metrics; the module that does it is loaded only then.
if (Deno.env.get("OTEL_DENO") === "true") {
  const { observeServer } = await import("../../otel.ts");
  observeServer(wss);
}

/**
 * The bundled client: serve.ts's, or bundled here on first need; where it
 * cannot be bundled (Deno Deploy, `deno serve` without --allow-run), a
 * stand-in over the browser's WebSocket (plain_client.js: no reconnect).
 */
let client: Promise<string> | undefined;

function clientScript(): Promise<string> {
  const given = Deno.env.get(CLIENT_ENV);
  return client ??= given
    ? Promise.resolve(given)
    : bundleClient().catch(() =>
      Deno.readTextFile(new URL("./plain_client.js", import.meta.url))
    );
}

/** Serves the page at `/`, the client at `/client.js`, the chat at `/ws`. */
export function fetch(
  request: Request,
  info?: Deno.ServeHandlerInfo,
): Response | Promise<Response> {
  if (wss.handles(request)) return wss.fetch(request, info);
  const { pathname } = new URL(request.url);
  if (pathname === "/stats") {
    // This instance's counters (under `deno serve --parallel`, the worker
    // that answers); OTEL_DENO=true exports them all, see the README.
    return Response.json(wss.stats);
  }
  if (pathname === "/" || pathname === "/index.html") {
    return new Response(PAGE, {
      headers: { "content-type": "text/html; charset=utf-8" },
    });
  }
  if (pathname === "/client.js") {
    return clientScript().then(
      (script) =>
        new Response(script, {
          headers: { "content-type": "text/javascript; charset=utf-8" },
        }),
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
  const subscribed = (backplane as { ready?: Promise<void> }).ready;
  if (subscribed !== undefined) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      subscribed,
      new Promise((resolve) => timer = setTimeout(resolve, 5000)),
    ]);
    clearTimeout(timer);
  }
  // deno-lint-ignore no-console
  console.error(READY_LINE);
}

export default { fetch };
