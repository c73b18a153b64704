/**
 * One instance of a ws4d server with topics on a Redis backplane, in its
 * own process: `deno run tests/_topics_redis_server.ts <redis-url> <channel>`.
 * A client's URL names its topics (`/?topics=a,b`); it is told "ready" once
 * Redis has its subscriptions. It publishes what a client sends to "t" (as
 * `ws.publish`), but "pub <topic> <text>", published to that topic, and
 * "unsub <topic>", answered "unsubscribed" once Redis has it. It prints `port <n>` once listening, `left` each time a client
 * has gone and Redis has its unsubscriptions, the `statusText` of each
 * server `onError` (a recovery once Redis has the subscriptions again), and
 * terminates on SIGTERM.
 *
 * @module
 */
import { WebSocketServer } from "../mod.ts";
import { RedisBackplane } from "../redis.ts";

const [url, channel] = Deno.args as [string, string];
const backplane = new RedisBackplane(url, { channel, maxReconnectDelay: 0.2 });
const encoder = new TextEncoder();
const print = (line: string) =>
  Deno.stdout.write(encoder.encode(`${line}\n`)).then(() => {});

const wss = new WebSocketServer({
  onConnection: (_wss, { request }) => ({
    async onOpen(ws) {
      const query = new URL(request.url, "http://localhost").searchParams;
      for (const topic of (query.get("topics") ?? "").split(",")) {
        if (topic) ws.subscribe(topic);
      }
      await backplane.settled();
      ws.send("ready");
    },
    async onMessage(ws, event) {
      const text = String(event.data);
      if (text.startsWith("pub ")) {
        const [, topic = "", ...words] = text.split(" ");
        ws.publish(topic, words.join(" "));
        return;
      }
      if (!text.startsWith("unsub ")) {
        ws.publish("t", event.data);
        return;
      }
      ws.unsubscribe(text.slice(6));
      await backplane.settled();
      ws.send("unsubscribed");
    },
    async onTerminate() {
      await backplane.settled();
      await print("left");
    },
  }),
  async onError(_wss, event) {
    if (event.statusText === "backplane recovered") await backplane.settled();
    await print(event.statusText);
  },
}, { port: 0, hostname: "127.0.0.1", backplane });

Deno.addSignalListener("SIGTERM", async () => {
  await wss.terminate(1);
  Deno.exit(0);
});
await backplane.ready;
await print(`port ${wss.addr?.port}`);
