/**
 * Topics across two processes joined by a real `redis-server`: a publish
 * reaches the subscribers of both, each exactly once and in order; an
 * instance subscribes to a topic's channel only while it has a subscriber
 * there (so it receives none of the traffic of the others), and what
 * another process puts on a topic's channel that is no publish is ignored.
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import { Buffer } from "node:buffer";
import { createClient } from "npm:redis@^5.12.1";
import { connect, exchange, hangUp, type Peer } from "./_helpers.ts";
import {
  anyRedis,
  hasRedis,
  hasRedisServer,
  RedisProcess,
  RedisServerChild,
} from "./_redis.ts";

const ignore = !hasRedis();

/** Each instance's process: its clients subscribe to the topics they name. */
const SCRIPT = "_topics_redis_server.ts";

async function join(url: string): Promise<Peer> {
  const peer = await connect(url);
  await peer.received(1);
  assertEquals(peer.messages, ["ready"]);
  peer.messages.length = 0;
  return peer;
}

/** A plain Redis client of the test's own, to look and to meddle. */
async function redisClient(url: string) {
  const client = createClient({ url });
  client.on("error", () => {});
  await client.connect();
  return client;
}

Deno.test({
  name:
    "topics over RedisBackplane: two processes, each subscriber once and in order; a topic's channel only where it has subscribers",
  ignore,
  async fn() {
    await using redis = await anyRedis();
    const channel = `test-${crypto.randomUUID()}`;
    const topic = (name: string) => `${channel}\u0000topic:${name}`;
    await using a = new RedisServerChild(SCRIPT, redis.url, channel);
    await using b = new RedisServerChild(SCRIPT, redis.url, channel);
    const client = await redisClient(redis.url);
    const subscribersOf = async (name: string) =>
      (await client.pubSubNumSub(topic(name)))[topic(name)];
    const peers: Peer[] = [];
    try {
      peers.push(await join(await a.url("/?topics=t")));
      peers.push(await join(await a.url("/?topics=t")));
      peers.push(await join(await b.url("/?topics=t")));
      const onlyU = await join(await b.url("/?topics=u"));
      peers.push(onlyU);
      // t on both instances, u on b only: a is not on u's channel at all.
      assertEquals(await subscribersOf("t"), 2);
      assertEquals(await subscribersOf("u"), 1);
      assertEquals(await subscribersOf("nobody"), 0);
      // Each subscriber of t hears the two others, across the processes.
      await exchange(peers.slice(0, 3), { tag: "m", count: 50 });
      assertEquals(onlyU.messages, []);
      // The last subscriber of u leaves it: b leaves u's channel.
      onlyU.socket.send("unsub u");
      await onlyU.received(1);
      assertEquals(onlyU.messages, ["unsubscribed"]);
      assertEquals(await subscribersOf("u"), 0);
      // Both of a's clients close: a leaves t's channel, b stays.
      await hangUp(peers[0]!);
      await hangUp(peers[1]!);
      await a.line(/^left$/, 2);
      assertEquals(await subscribersOf("t"), 1);
    } finally {
      for (const peer of peers) await hangUp(peer).catch(() => {});
      await client.close();
    }
  },
});

Deno.test({
  name:
    "topics over RedisBackplane: what another process puts on a topic's channel that is no publish is ignored",
  ignore,
  async fn() {
    await using redis = await anyRedis();
    const channel = `test-${crypto.randomUUID()}`;
    const t = `${channel}\u0000topic:t`;
    await using a = new RedisServerChild(SCRIPT, redis.url, channel);
    await using b = new RedisServerChild(SCRIPT, redis.url, channel);
    const client = await redisClient(redis.url);
    const peers: Peer[] = [];
    try {
      const sender = await join(await a.url());
      const listener = await join(await b.url("/?topics=t"));
      peers.push(sender, listener);
      const origin = crypto.getRandomValues(new Uint8Array(16));
      const message = (kind: number, payload: Uint8Array) =>
        Buffer.concat([Buffer.from([kind]), origin, payload]);
      for (
        const junk of [
          Buffer.alloc(0),
          Buffer.from("short"),
          Buffer.from(origin), // no kind byte
          message(2, new TextEncoder().encode("an unknown kind")),
          message(0xff, new Uint8Array([1])),
          message(0, new Uint8Array([0xff, 0xfe, 0x80])), // not UTF-8
        ]
      ) await client.publish(t, junk);
      await client.publish(t, message(0, new TextEncoder().encode("valid")));
      await client.publish(t, message(1, new Uint8Array([1, 2])));
      sender.socket.send("from a");
      await listener.received(3);
      assertEquals(listener.messages.slice(0, 1), ["valid"]);
      assertEquals(
        new Uint8Array(listener.messages[1] as ArrayBuffer),
        new Uint8Array([1, 2]),
      );
      assertEquals(listener.messages[2], "from a");
    } finally {
      for (const peer of peers) await hangUp(peer).catch(() => {});
      await client.close();
    }
  },
});

Deno.test({
  name:
    "topics over RedisBackplane: Redis killed and restarted; a topic subscribed while it was down is carried once it is back",
  ignore: !hasRedisServer(),
  async fn() {
    await using redis = new RedisProcess();
    await redis.start();
    const channel = `test-${crypto.randomUUID()}`;
    await using a = new RedisServerChild(SCRIPT, redis.url, channel);
    await using b = new RedisServerChild(SCRIPT, redis.url, channel);
    const peers: Peer[] = [];
    try {
      const early = await join(await b.url("/?topics=t"));
      const sender = await join(await a.url());
      peers.push(early, sender);
      sender.socket.send("before");
      await early.received(1);
      await redis.stop();
      await Promise.all([
        a.line(/backplane failed/),
        b.line(/backplane failed/),
      ]);
      // A topic new to b, subscribed while Redis is down.
      const late = connect(await b.url("/?topics=u"));
      await redis.start();
      await Promise.all([
        a.line(/backplane recovered/),
        b.line(/backplane recovered/),
      ]);
      const latePeer = await late;
      peers.push(latePeer);
      await latePeer.received(1);
      // t was b's before (subscribed again by itself), u is new.
      sender.socket.send("after");
      sender.socket.send("pub u to u");
      await Promise.all([early.received(2), latePeer.received(2)]);
      assertEquals(early.messages, ["before", "after"]);
      assertEquals(latePeer.messages, ["ready", "to u"]);
    } finally {
      for (const peer of peers) await hangUp(peer).catch(() => {});
    }
  },
});
