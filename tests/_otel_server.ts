/**
 * The process of the end-to-end test of `otel.ts`, run with `OTEL_DENO=true`:
 * it observes a stats source with Deno's own MeterProvider (nothing set up
 * here), prints one JSON line `{ path, stats }`, and waits for its stdin to
 * close (or 30 s) before it exits.
 *
 * @module
 */
import { observeServer, type WSStatsSource } from "../otel.ts";
import { fakeServer } from "./_otel_source.ts";

const path = "/chat/:room";
// The one line to change when WebSocketServer.stats is on main:
//   const source: WSStatsSource = new WebSocketServer(
//     { onConnection: () => ({ onMessage() {} }) },
//     { path, port: 0, hostname: "127.0.0.1" },
//   );
// (import WebSocketServer from "../mod.ts"; terminate it before exiting).
const source: WSStatsSource = fakeServer(path);

using _metrics = observeServer(source, {
  attributes: { "service.instance.id": "e2e" },
});
const stdout = Deno.stdout.writable.getWriter();
await stdout.write(
  new TextEncoder().encode(
    JSON.stringify({ path: source.path, stats: source.stats }) + "\n",
  ),
);
stdout.releaseLock();

let timer: ReturnType<typeof setTimeout> | undefined;
await Promise.race([
  Deno.stdin.readable.pipeTo(new WritableStream()),
  new Promise((resolve) => timer = setTimeout(resolve, 30_000)),
]);
clearTimeout(timer);
