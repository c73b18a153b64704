/**
 * A relayed session through a real `redis-server` that is killed and
 * started again (issue 22): while Redis is down, a reconnect to an
 * instance that does not hold the session is answered 503 (the client
 * retries) rather than given a fresh session; once Redis is back, the
 * session resumes through the relay, every message once and in order.
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import { WebSocket as WSClient } from "../client.ts";
import { WebSocketServer } from "../mod.ts";
import { RedisBackplane } from "../redis.ts";
import { Relay } from "../testkit/relay.ts";
import { handshakeStatus } from "../_reconnect.ts";
import { hasRedisServer, RedisProcess } from "./_redis.ts";
import { type Call, ClientRecorder } from "./_helpers.ts";

/** A server on Redis that echoes `echo:` messages and records the rest. */
function instance(url: string): {
  wss: WebSocketServer;
  backplane: RedisBackplane;
  opens: () => number;
  received: string[];
  port: number;
} {
  const backplane = new RedisBackplane(url, {
    channel: "cluster-redis",
    maxReconnectDelay: 0.1,
  });
  let opens = 0;
  const received: string[] = [];
  const wss = new WebSocketServer({
    onConnection: () => ({
      onOpen: () => void opens++,
      onMessage: (ws, event) => {
        const text = String(event.data);
        received.push(text);
        ws.send(`got:${text}`);
      },
    }),
    onError: () => {}, // BackplaneFailed, expected here
  }, { port: 0, hostname: "127.0.0.1", backplane, resume: true });
  return {
    wss,
    backplane,
    opens: () => opens,
    received,
    port: wss.addr?.port ?? 0,
  };
}

Deno.test({
  name:
    "Redis killed and started again during a relay: 503 while it is down, then resumed through the relay, every message once and in order",
  ignore: !hasRedisServer(),
  async fn() {
    await using redis = new RedisProcess();
    await redis.start();
    const a = instance(redis.url);
    const b = instance(redis.url);
    await using relay = new Relay({ hostname: "127.0.0.1", port: a.port });
    const log = new ClientRecorder({
      reconnect: { delay: 0.05, maxDelay: 0.2, jitter: 0, maxRetries: 200 },
    });
    const client = new WSClient(relay.url("/"), log);
    // A try answered 503: the client's next onReconnecting says why.
    const refused503 = (call: Call) =>
      call.name === "onReconnecting" &&
      handshakeStatus(call.event.reason ?? "") === 503;
    try {
      await Promise.all([a.backplane.ready, b.backplane.ready]);
      assertEquals(await log.nextOpen(20_000), false);
      let sent = 0;
      client.send(`m${sent++}`);
      await log.received(1, 20_000);
      // Relayed by b.
      relay.retarget({ hostname: "127.0.0.1", port: b.port });
      relay.cut();
      assertEquals(await log.nextOpen(20_000), true);
      client.send(`m${sent++}`);
      await log.received(2, 20_000);
      // Redis goes: the relay breaks, b cannot reach a: 503, retried.
      await redis.stop();
      for (let i = 0; i < 3; i++) client.send(`m${sent++}`);
      // Until b has answered a try 503, as the client was told.
      await log.when(refused503, "a try answered 503", 10_000);
      const refused = b.wss.stats.refused["503"] ?? 0;
      await redis.start();
      assertEquals(await log.nextOpen(20_000), true);
      client.send(`m${sent++}`);
      await log.received(sent, 20_000);
      assertEquals(a.received, Array.from({ length: sent }, (_, i) => `m${i}`));
      assertEquals(
        log.messages,
        Array.from({ length: sent }, (_, i) => `got:m${i}`),
      );
      assertEquals(a.opens() + b.opens(), 1);
      assertEquals(log.opens.map((open) => open.resumed), [false, true, true]);
      assertEquals(refused > 0, true, "503 while Redis was down");
    } finally {
      client.terminate();
      await log.terminated(10_000).catch(() => {});
      await a.wss.terminate(0);
      await b.wss.terminate(0);
    }
  },
});
