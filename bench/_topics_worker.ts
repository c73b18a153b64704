/**
 * One instance of a ws4d server with topics, in a worker of
 * `bench/topics.ts`: every connection is subscribed to the topic "bench" at
 * open and told "hi"; each message goes out with `ws.publish`. The backplane
 * is a `BroadcastChannelBackplane` or a `RedisBackplane`. Messages: a
 * config (answered with the port), "settled" (answered once Redis has the
 * subscriptions), "stop" (answered once terminated).
 *
 * @module
 */
/// <reference lib="deno.worker" />
import {
  type Backplane,
  BroadcastChannelBackplane,
  WebSocketServer,
} from "../mod.ts";
import type { RedisBackplane } from "../redis.ts";

type Config = { kind: "channel" | "redis"; name: string; redisUrl?: string };

let wss: WebSocketServer | undefined;
let redis: RedisBackplane | undefined;

self.onmessage = async (event: MessageEvent<Config | "settled" | "stop">) => {
  const message = event.data;
  if (message === "settled") {
    await redis?.settled();
    self.postMessage("settled");
    return;
  }
  if (message === "stop") {
    await wss?.terminate(0);
    self.postMessage("stopped");
    return;
  }
  let backplane: Backplane;
  if (message.kind === "redis") {
    const { RedisBackplane } = await import("../redis.ts");
    redis = new RedisBackplane(message.redisUrl ?? "", {
      channel: message.name,
    });
    backplane = redis;
  } else backplane = new BroadcastChannelBackplane(message.name);
  wss = new WebSocketServer({
    onConnection: () => ({
      onOpen(ws) {
        ws.subscribe("bench");
        ws.send("hi");
      },
      onMessage: (ws, event) => void ws.publish("bench", event.data),
    }),
  }, { port: 0, hostname: "127.0.0.1", backplane, idleTimeout: 0 });
  await redis?.ready;
  self.postMessage(wss.addr?.port);
};
