/**
 * Measures the memory of 10,000 topics on one instance: one connection
 * subscribed to 10,000 topics (their names made before the first reading),
 * the heap read after a full garbage collection before and after. Run with
 * `deno run --allow-net --v8-flags=--expose-gc tests/_topics_memory.ts`; it
 * prints one JSON line `{ topics, bytes, bytesPerTopic, delivered, after }`.
 *
 * @module
 */
import { WebSocketServer } from "../mod.ts";

const TOPICS = 10_000;
const gc = Reflect.get(globalThis, "gc");
if (typeof gc !== "function") {
  throw new Error("run with --v8-flags=--expose-gc");
}
const collect = () => {
  gc();
  gc();
  return Deno.memoryUsage().heapUsed;
};

const names = Array.from(
  { length: TOPICS },
  (_, i) => `topic-${String(i).padStart(5, "0")}`,
);
const opened = Promise.withResolvers<void>();
await using wss = new WebSocketServer({
  onConnection: () => ({ onOpen: () => opened.resolve(), onMessage() {} }),
}, { port: 0, hostname: "127.0.0.1", maxSubscriptions: TOPICS });
const socket = new WebSocket(`ws://127.0.0.1:${wss.addr?.port}/`);
const got = Promise.withResolvers<void>();
socket.onmessage = () => got.resolve();
await opened.promise;
const [ws] = wss.connections;
if (ws === undefined) throw new Error("no connection");

const before = collect();
for (const name of names) ws.subscribe(name);
const during = collect();
const delivered = wss.publish(names[TOPICS - 1]!, "last");
await got.promise;
const counted = wss.topicCounts().size;
for (const name of names) ws.unsubscribe(name);
const after = collect();
const closed = new Promise((resolve) => socket.onclose = resolve);
socket.close();
await closed;

const bytes = during - before;
// deno-lint-ignore no-console
console.log(JSON.stringify({
  topics: counted,
  bytes,
  bytesPerTopic: Math.round(bytes / TOPICS),
  delivered,
  after: after - before,
}));
