/**
 * `RedisBackplane` against a real `redis-server` that the tests start on a
 * free loopback port: two server instances in two processes, clients on
 * both; Redis killed and restarted in the middle of the run.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
  assertThrows,
} from "@std/assert";
import { deadline } from "@std/async";
import { spy } from "@std/testing/mock";
import { ErrorCode, WebSocketServer, type WSServerErrorEvent } from "../mod.ts";
import { RedisBackplane } from "../redis.ts";
import {
  connect,
  exchange,
  hangUp,
  listen,
  type Peer,
  sequences,
} from "./_helpers.ts";
import { hasRedisServer, RedisProcess, RedisServerChild } from "./_redis.ts";

const ignore = !hasRedisServer();
const MESSAGES = 50;
/** Each instance's process: it relays every message to the other clients. */
const SCRIPT = "_redis_server.ts";

Deno.test({
  name:
    "RedisBackplane: two processes share broadcasts exactly once and in order; Redis killed and restarted mid-run",
  ignore,
  async fn() {
    await using redis = new RedisProcess();
    await redis.start();
    const channel = `test-${crypto.randomUUID()}`;
    await using a = new RedisServerChild(SCRIPT, redis.url, channel);
    await using b = new RedisServerChild(SCRIPT, redis.url, channel);
    const instances = [a, b];
    const peers: Peer[] = [];
    try {
      const ports = await Promise.all(instances.map((i) => i.port()));
      assertNotEquals(ports[0], ports[1]);
      // Peers 0 and 1 on the first instance, 2 and 3 on the second.
      for (const port of [ports[0], ports[0], ports[1], ports[1]]) {
        peers.push(await connect(`ws://127.0.0.1:${port}`));
      }
      const sameInstance = (i: number, j: number) =>
        i !== j && (i < 2) === (j < 2);

      // 1. Redis up: every client hears every other, across instances.
      await exchange(peers, { tag: "a", count: MESSAGES });

      // 2. Redis killed: each instance reports it; delivery stays local.
      await redis.stop();
      for (const instance of instances) {
        const line = await instance.line(/backplane failed/);
        const report = JSON.parse(line);
        assertEquals(report.errors[0][0], ErrorCode.BackplaneFailed);
      }
      await exchange(peers, { tag: "b", count: MESSAGES, hears: sameInstance });

      // 3. Redis back on the same port: reconnected by itself, the drops
      // counted (each instance's two clients broadcast MESSAGES each).
      await redis.start();
      for (const instance of instances) {
        const line = await instance.line(/backplane recovered/);
        assertMatch(
          JSON.parse(line).errors[0][1],
          new RegExp(`: ${2 * MESSAGES} broadcast\\(s\\) did not reach`),
        );
      }
      await exchange(peers, { tag: "c", count: MESSAGES });

      // Nothing broadcast while Redis was down crossed over later.
      for (const [i, peer] of peers.entries()) {
        for (const sender of sequences(peer, "b").keys()) {
          const j = Number(sender.slice(1));
          assert(sameInstance(i, j), `${i} got ${sender} across instances`);
        }
      }
    } finally {
      for (const peer of peers) await hangUp(peer);
    }
  },
});

Deno.test({
  name:
    "RedisBackplane: with Redis unreachable, broadcasts stay local, the failure is reported once and drops are counted",
  ignore,
  async fn() {
    // Port 1: privileged, and never given to a port-0 listener, so nothing
    // listens there (a port found free and closed may be taken meanwhile).
    const backplane = new RedisBackplane("redis://127.0.0.1:1", {
      maxReconnectDelay: 0.1,
    });
    const failed = Promise.withResolvers<void>();
    const onError = spy(
      (_wss: WebSocketServer, _event: WSServerErrorEvent) => failed.resolve(),
    );
    await using server = listen({
      onConnection: () => ({ onMessage() {} }),
      onError,
    }, { backplane });
    const peer = await connect(server.url);
    await deadline(failed.promise, 5000);
    assertEquals(server.wss.broadcast("local only"), 1);
    assertEquals(server.wss.broadcast("local only"), 1);
    await peer.received(2);
    assertEquals(backplane.connected, false);
    assertEquals(backplane.dropped, 2);
    assertEquals(
      onError.calls.map((call) => call.args[1].statusText),
      ["backplane failed"],
    );
    await hangUp(peer);
  },
});

Deno.test("RedisBackplane() names each wrong argument", async () => {
  assertThrows(
    () => new RedisBackplane("http://127.0.0.1:6379"),
    TypeError,
    "url must be a redis:// or rediss:// URL",
  );
  assertThrows(() => new RedisBackplane(6379 as never), TypeError);
  assertThrows(
    () => new RedisBackplane("redis://127.0.0.1", { channel: "" }),
    TypeError,
    "options.channel",
  );
  assertThrows(
    () => new RedisBackplane("redis://127.0.0.1", { maxReconnectDelay: 0 }),
    RangeError,
    "options.maxReconnectDelay",
  );
  // One backplane serves one server.
  const backplane = new RedisBackplane("redis://127.0.0.1:1");
  const handler = { onConnection: () => null, onError() {} };
  await using _wss = new WebSocketServer(handler, { backplane });
  assertThrows(
    () => new WebSocketServer(handler, { backplane }),
    Error,
    "a backplane serves one server",
  );
});
