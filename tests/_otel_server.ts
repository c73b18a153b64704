/**
 * The process of the end-to-end test of `otel.ts`, run with `OTEL_DENO=true`:
 * it observes a stats source with Deno's own MeterProvider (nothing set up
 * here), prints one JSON line `{ path, stats }`, and waits for its stdin to
 * close (or 30 s) before it exits.
 *
 * @module
 */
import { deadline } from "@std/async";
import { observeServer } from "../otel.ts";
import { WebSocketServer } from "../mod.ts";

const path = "/chat/:room";
const left = Promise.withResolvers<void>();
let terminated = 0;
const source = new WebSocketServer({
  onConnection: (_wss, { request }) =>
    request.params.room === "closed" ? null : {
      onMessage(ws, event) {
        if (event.data === "boom") throw new Error("boom");
        ws.send(event.data);
      },
      onError() {},
      onTerminate: () => void (++terminated === 2 && left.resolve()),
    },
}, { path, port: 0, hostname: "127.0.0.1" });

// A scripted session, so that the exported numbers are not all zero: a
// refusal (403), a plain request (426), one client echoing two messages, one
// whose message makes the callback throw (CallbackFailed, 1011).
const base = `ws://127.0.0.1:${source.addr?.port}/chat`;
const refused = new WebSocket(`${base}/closed`);
await new Promise((resolve) => refused.onerror = refused.onclose = resolve);
const plain = await fetch(`http://127.0.0.1:${source.addr?.port}/chat/x`);
await plain.body?.cancel();
const client = new WebSocket(`${base}/lobby`);
let echoed = 0;
await new Promise<void>((resolve) => {
  client.onopen = () => {
    client.send("one");
    client.send("two");
  };
  client.onmessage = () => {
    if (++echoed === 2) resolve();
  };
});
client.close(4000, "done");
const failing = new WebSocket(`${base}/lobby`);
failing.onopen = () => failing.send("boom");
await new Promise((resolve) => failing.onclose = resolve);
await left.promise;

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

// It stops when the test closes its stdin, or after 30 s if it never does.
await deadline(Deno.stdin.readable.pipeTo(new WritableStream()), 30_000)
  .catch(() => {});
await source.terminate();
