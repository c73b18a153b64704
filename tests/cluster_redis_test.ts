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
import { deadline } from "@std/async/deadline";
import { WebSocket as WSClient } from "../client.ts";
import { WebSocketServer } from "../mod.ts";
import { RedisBackplane } from "../redis.ts";
import { Relay } from "../testkit/relay.ts";
import { handshakeStatus } from "../_reconnect.ts";
import { hasRedisServer, RedisProcess } from "./_redis.ts";

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
    const opens: boolean[] = [];
    const messages: string[] = [];
    let opened = Promise.withResolvers<boolean>();
    const ended = Promise.withResolvers<void>();
    // A try answered 503: the client's next onReconnecting says why.
    const refused503 = Promise.withResolvers<void>();
    let arrived: { count: number; resolve: () => void } | null = null;
    await using relay = new Relay({ hostname: "127.0.0.1", port: a.port });
    const client = new WSClient(relay.url("/"), {
      reconnect: { delay: 0.05, maxDelay: 0.2, jitter: 0, maxRetries: 200 },
      onOpen: (_ws, event) => {
        opens.push(event.resumed === true);
        opened.resolve(event.resumed === true);
      },
      onMessage: (_ws, event) => {
        messages.push(String(event.data));
        if (arrived !== null && messages.length >= arrived.count) {
          arrived.resolve();
          arrived = null;
        }
      },
      onReconnecting: (_ws, event) => {
        if (handshakeStatus(event.reason) === 503) refused503.resolve();
      },
      onError: () => {},
      onTerminate: () => ended.resolve(),
    });
    const nextOpen = async () => {
      const resumed = await deadline(opened.promise, 20_000);
      opened = Promise.withResolvers<boolean>();
      return resumed;
    };
    const until = (count: number) => {
      if (messages.length >= count) return Promise.resolve();
      const { promise, resolve } = Promise.withResolvers<void>();
      arrived = { count, resolve };
      return deadline(promise, 20_000);
    };
    try {
      await Promise.all([a.backplane.ready, b.backplane.ready]);
      assertEquals(await nextOpen(), false);
      let sent = 0;
      client.send(`m${sent++}`);
      await until(1);
      // Relayed by b.
      relay.retarget({ hostname: "127.0.0.1", port: b.port });
      relay.cut();
      assertEquals(await nextOpen(), true);
      client.send(`m${sent++}`);
      await until(2);
      // Redis goes: the relay breaks, b cannot reach a: 503, retried.
      await redis.stop();
      for (let i = 0; i < 3; i++) client.send(`m${sent++}`);
      // Until b has answered a try 503, as the client was told.
      await deadline(refused503.promise, 10_000);
      const refused = b.wss.stats.refused["503"] ?? 0;
      await redis.start();
      assertEquals(await nextOpen(), true);
      client.send(`m${sent++}`);
      await until(sent);
      assertEquals(a.received, Array.from({ length: sent }, (_, i) => `m${i}`));
      assertEquals(
        messages,
        Array.from({ length: sent }, (_, i) => `got:m${i}`),
      );
      assertEquals(a.opens() + b.opens(), 1);
      assertEquals(opens, [false, true, true]);
      assertEquals(refused > 0, true, "503 while Redis was down");
    } finally {
      client.terminate();
      await deadline(ended.promise, 10_000).catch(() => {});
      await a.wss.terminate(0);
      await b.wss.terminate(0);
    }
  },
});
