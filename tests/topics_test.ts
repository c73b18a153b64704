/**
 * Topics on one instance (docs/topics.md), over real sockets: subscribe,
 * publish, unsubscribe, a close that takes the subscriptions with it,
 * `except` and `ws.publish`, the limits and their errors, the counts, a
 * slow subscriber, and a hostile client that tries to reach a topic it was
 * not subscribed to.
 *
 * @module
 */
import { assert, assertEquals, assertFalse, assertThrows } from "@std/assert";
import { deadline } from "@std/async";
import {
  type Backplane,
  type BackplaneData,
  type BackplaneSink,
  ErrorCode,
  type WebSocketConnection,
  WebSocketServer,
  type WSServerHandler,
} from "../mod.ts";
import { connect, hangUp, listen, type Peer, Recorder } from "./_helpers.ts";
import { rawPeer, readFramesUntil } from "../testkit/raw_peer.ts";

/**
 * The server under test: a client's URL names the topics the server
 * subscribes it to (`/?topics=a,b`), then it says "ready". It publishes
 * what the client asks with "pub <topic> <text>" (to the others, as
 * `ws.publish`), and unsubscribes on "unsub <topic>".
 */
const rooms: WSServerHandler = {
  onConnection: (_wss, { request }) => ({
    onOpen(ws) {
      const topics =
        new URL(request.url, "http://localhost").searchParams.get("topics") ??
          "";
      for (const topic of topics.split(",")) if (topic) ws.subscribe(topic);
      ws.send("ready");
    },
    onMessage(ws, event) {
      const [verb, topic = "", ...rest] = String(event.data).split(" ");
      if (verb === "pub") ws.publish(topic, rest.join(" "));
      if (verb === "unsub") ws.send(`unsub ${ws.unsubscribe(topic)}`);
    },
  }),
};

/** A client subscribed to `topics`, once the server says "ready". */
async function join(url: string, ...topics: string[]): Promise<Peer> {
  const peer = await connect(`${url}/?topics=${topics.join(",")}`);
  await peer.received(1);
  peer.messages.length = 0;
  return peer;
}

Deno.test("topics: a publish reaches the subscribers of its topic only, each once, in order", async () => {
  await using server = listen(rooms);
  const { wss } = server;
  const a = await join(server.url, "red");
  const b = await join(server.url, "red", "blue");
  const c = await join(server.url, "blue");
  const d = await join(server.url);
  assertEquals(wss.subscriberCount("red"), 2);
  assertEquals(wss.subscriberCount("blue"), 2);
  assertEquals(wss.subscriberCount("green"), 0);
  assertEquals(wss.topicCounts(), new Map([["red", 2], ["blue", 2]]));
  for (let n = 0; n < 20; n++) {
    assertEquals(wss.publish("red", `r${n}`), 2);
    assertEquals(wss.publish("blue", `b${n}`), 2);
  }
  assertEquals(wss.publish("green", "nobody"), 0);
  await Promise.all([a.received(20), b.received(40), c.received(20)]);
  const r = Array.from({ length: 20 }, (_, n) => `r${n}`);
  const bl = Array.from({ length: 20 }, (_, n) => `b${n}`);
  assertEquals(a.messages, r);
  assertEquals(c.messages, bl);
  assertEquals(b.messages.filter((m) => String(m).startsWith("r")), r);
  assertEquals(b.messages.filter((m) => String(m).startsWith("b")), bl);
  // Binary and JSON go as send makes them.
  assertEquals(wss.publish("blue", new Uint8Array([7, 8])), 2);
  assertEquals(wss.publish("blue", { n: 1 }), 2);
  await c.received(22);
  assertEquals(
    new Uint8Array(c.messages[20] as ArrayBuffer),
    new Uint8Array([7, 8]),
  );
  assertEquals(c.messages[21], '{"n":1}');
  // d was never subscribed: nothing but what it is sent itself.
  d.socket.send("pub red from-d");
  await a.received(21);
  assertEquals(a.messages.at(-1), "from-d");
  assertEquals(d.messages, []);
  for (const peer of [a, b, c, d]) await hangUp(peer);
});

Deno.test("topics: ws.publish skips its sender, except skips the one named", async () => {
  await using server = listen(rooms);
  const a = await join(server.url, "t");
  const b = await join(server.url, "t");
  a.socket.send("pub t hello from a");
  await b.received(1);
  assertEquals(b.messages, ["hello from a"]);
  const [connectionOfB] = server.wss.connections.filter((ws) =>
    ws.isSubscribed("t")
  ).slice(1);
  assertEquals(server.wss.publish("t", "not b", { except: connectionOfB }), 1);
  await a.received(1);
  assertEquals(a.messages, ["not b"]);
  // A marker after both: b got neither its sender's echo nor "not b".
  server.wss.publish("t", "end");
  await Promise.all([a.received(2), b.received(2)]);
  assertEquals(b.messages, ["hello from a", "end"]);
  for (const peer of [a, b]) await hangUp(peer);
});

Deno.test("topics: unsubscribe and close take a connection out of its topics", async () => {
  const left = Promise.withResolvers<[number, string[]]>();
  await using server = listen({
    onConnection: (wss, event) => {
      const handler = rooms.onConnection(wss, event);
      if (handler === null || handler instanceof Response) return handler;
      return {
        ...handler,
        onTerminate: (ws: WebSocketConnection) =>
          left.resolve([wss.subscriberCount("t"), ws.subscriptions]),
      } as typeof handler;
    },
  });
  const { wss } = server;
  const a = await join(server.url, "t", "u");
  const b = await join(server.url, "t");
  const ws = wss.connections[0]!;
  assertEquals(ws.subscriptions, ["t", "u"]);
  // A fresh array each time.
  ws.subscriptions.pop();
  assertEquals(ws.subscriptions, ["t", "u"]);
  assert(ws.isSubscribed("u"));
  a.socket.send("unsub u");
  await a.received(1);
  assertEquals(a.messages, ["unsub true"]);
  assertFalse(ws.isSubscribed("u"));
  assertEquals(wss.subscriberCount("u"), 0);
  assertFalse(ws.unsubscribe("u"));
  assertEquals(wss.publish("u", "gone"), 0);
  // The same topic twice is one subscription.
  assert(ws.subscribe("t"));
  assertEquals(wss.subscriberCount("t"), 2);
  await hangUp(a);
  // In onTerminate, the connection has left its topics already.
  assertEquals(await deadline(left.promise, 5000), [1, []]);
  assertEquals(wss.publish("t", "only b"), 1);
  assertEquals(wss.topicCounts(), new Map([["t", 1]]));
  // A closed connection subscribes to nothing, and says so.
  assertFalse(ws.subscribe("t"));
  assertEquals(ws.subscriptions, []);
  await b.received(1);
  await hangUp(b);
  assertEquals(wss.topicCounts(), new Map());
});

Deno.test("topics: a wrong topic throws a precise error; maxSubscriptions bounds a connection", async () => {
  const recorder = new Recorder();
  await using server = listen({ onConnection: () => recorder }, {
    maxSubscriptions: 3,
  });
  const { wss } = server;
  const peer = await connect(server.url);
  await recorder.opened();
  const ws = recorder.connection!;
  for (
    const call of [
      (t: unknown) => ws.subscribe(t as string),
      (t: unknown) => ws.unsubscribe(t as string),
      (t: unknown) => ws.isSubscribed(t as string),
      (t: unknown) => wss.publish(t as string, "x"),
      (t: unknown) => ws.publish(t as string, "x"),
      (t: unknown) => wss.subscriberCount(t as string),
    ]
  ) {
    assertThrows(() => call(""), TypeError, "topic must be a non-empty string");
    assertThrows(() => call(42), TypeError, "current value is 42");
    assertThrows(() => call(undefined), TypeError, "topic must be");
    assertThrows(() => call("\uD800x"), TypeError, "well-formed");
    assertThrows(
      () => call("x".repeat(257)),
      RangeError,
      "at most 256 UTF-16 code units, current length is 257",
    );
    call("x".repeat(256)); // The longest topic is fine.
  }
  ws.unsubscribe("x".repeat(256));
  assertThrows(
    // @ts-expect-error: undefined cannot be sent, in types as at run time
    () => wss.publish("t", undefined),
    TypeError,
  );
  assertEquals(wss.stats.publishes, 2); // The two calls with 256 units.
  ws.subscribe("a");
  ws.subscribe("b");
  ws.subscribe("c");
  ws.subscribe("c"); // Subscribed already: no fourth.
  assertThrows(
    () => ws.subscribe("d"),
    RangeError,
    "the connection has 3 subscriptions already",
  );
  assertEquals(ws.subscriptions, ["a", "b", "c"]);
  ws.unsubscribe("a");
  ws.subscribe("d");
  assertEquals(ws.subscriptions, ["b", "c", "d"]);
  await hangUp(peer);
  // The option is checked as the others are.
  const handler = { onConnection: () => null };
  assertThrows(
    () => new WebSocketServer(handler, { maxSubscriptions: -1 }),
    RangeError,
    "options.maxSubscriptions",
  );
  assertThrows(
    () => new WebSocketServer(handler, { maxSubscriptions: 1.5 }),
    RangeError,
    "options.maxSubscriptions",
  );
  assertThrows(
    () =>
      new WebSocketServer(handler, {
        maxSubscriptions: "9" as unknown as number,
      }),
    TypeError,
    "options.maxSubscriptions",
  );
});

Deno.test("topics: stats count publishes and their deliveries", async () => {
  await using server = listen(rooms);
  const { wss } = server;
  const a = await join(server.url, "t");
  const b = await join(server.url, "t");
  wss.publish("t", "one"); // 2
  wss.publish("nobody", "two"); // 0
  a.socket.send("pub t three"); // 1
  await b.received(2);
  await a.received(1);
  const { publishes, publishDeliveries, messagesSent } = wss.stats;
  assertEquals({ publishes, publishDeliveries }, {
    publishes: 3,
    publishDeliveries: 3,
  });
  assertEquals(messagesSent, 2 + 3); // two "ready", three deliveries
  for (const peer of [a, b]) await hangUp(peer);
});

Deno.test("topics: a subscriber that does not read is a slow consumer (1008); the others go on", async () => {
  const slow = new Recorder({ onOpen: (ws) => void ws.subscribe("feed") });
  const fast = new Recorder({ onOpen: (ws) => void ws.subscribe("feed") });
  await using server = listen({
    onConnection: (_, { request }) =>
      request.url.endsWith("/slow") ? slow : fast,
  }, { maxBufferedAmount: 256 * 1024, closeTimeout: 0.2 });
  const peer = await rawPeer(server.port, "/slow");
  await slow.opened();
  const reader = await connect(`${server.url}/fast`);
  await fast.opened();
  const chunk = "x".repeat(64 * 1024);
  // The reader paces the publishes: one more each time it got one.
  let sent = 0;
  reader.socket.onmessage = () => {
    if (!slow.types.includes("error") && sent < 2000) {
      sent++;
      server.wss.publish("feed", chunk);
    }
  };
  server.wss.publish("feed", chunk);
  await slow.when((c) => c.name === "onError", "the slow subscriber's onError");
  const error = slow.calls.find((c) => c.name === "onError")?.event;
  assertEquals(error?.errors?.[0]?.errCode, ErrorCode.SlowConsumer);
  await slow.terminated();
  assertEquals(slow.calls.at(-1)?.event.code, 1008);
  assertEquals(server.wss.subscriberCount("feed"), 1);
  peer.conn.close();
  await hangUp(reader);
});

Deno.test("topics: nothing a client sends subscribes it (a hostile client cannot reach a topic)", async () => {
  const recorder = new Recorder();
  await using server = listen({ onConnection: () => recorder });
  const peer = await rawPeer(server.port, "/?topic=secret&subscribe=secret");
  await recorder.opened();
  const encoder = new TextEncoder();
  for (
    const text of [
      "subscribe secret",
      '{"subscribe":"secret"}',
      '{"type":"subscribe","topic":"secret"}',
      "SUBSCRIBE secret",
      "\u0000secret",
    ]
  ) await peer.frame(1, encoder.encode(text));
  // A frame of an unknown opcode fails it (1002): before that, nothing.
  await recorder.when(
    (c) => c.name === "onMessage" && c.event.data === "\u0000secret",
    "the last message",
  );
  assertEquals(recorder.connection?.subscriptions, []);
  assertEquals(server.wss.subscriberCount("secret"), 0);
  assertEquals(server.wss.publish("secret", "for subscribers only"), 0);
  recorder.connection?.send("marker");
  const frames = await readFramesUntil(
    peer.conn,
    (got) => got.some((f) => new TextDecoder().decode(f.payload) === "marker"),
    "the marker",
  );
  assertEquals(
    frames.map((f) => new TextDecoder().decode(f.payload)),
    ["marker"],
  );
  peer.conn.close();
  await recorder.terminated();
});

Deno.test("topics: a backplane without publishTopic keeps topics local; one with it carries them in order with broadcasts", async () => {
  const sinks: BackplaneSink[] = [];
  const carried: unknown[] = [];
  const plain: Backplane = {
    start: (sink) => void sinks.push(sink),
    publish: (data: BackplaneData) => void carried.push(data),
    close: () => Promise.resolve(),
  };
  const routed: string[] = [];
  const topical: Backplane = {
    ...plain,
    publishTopic: (topic, data) => void carried.push([topic, data]),
    subscribe: (topic) => void routed.push(`+${topic}`),
    unsubscribe: (topic) => void routed.push(`-${topic}`),
  };
  const recorder = new Recorder();
  await using a = listen({ onConnection: () => recorder }, {
    backplane: plain,
  });
  await using b = listen({ onConnection: () => recorder }, {
    backplane: topical,
  });
  a.wss.publish("t", "local only");
  assertEquals(carried, []);
  // First and last subscriber here: a routing backplane hears of them.
  const peer = await connect(b.url);
  await recorder.opened();
  const ws = recorder.connection!;
  ws.subscribe("t");
  ws.subscribe("u");
  assertEquals(b.wss.subscriberCount("t"), 1);
  ws.unsubscribe("t");
  assertEquals(routed, ["+t", "+u", "-t"]);
  await hangUp(peer);
  await recorder.terminated();
  assertEquals(routed, ["+t", "+u", "-t", "-u"]);
  // Publishes go in order with the broadcasts, a Blob keeping its place.
  b.wss.broadcast("one");
  b.wss.publish("t", "two");
  b.wss.publish("t", new Blob(["three"]));
  b.wss.broadcast("four");
  await b.wss.terminate(); // Settles what waited for the Blob.
  assertEquals(carried, [
    "one",
    ["t", "two"],
    ["t", new TextEncoder().encode("three")],
    "four",
  ]);
  // A sink ignores what is no topic or no message.
  const sink = sinks.at(-1)!;
  sink.deliverTopic("", "x");
  sink.deliverTopic("x".repeat(300), "x");
  sink.deliverTopic("\uDC00", "x");
  sink.deliverTopic(7 as unknown as string, "x");
  sink.deliverTopic("t", { not: "data" } as unknown as string);
  assertEquals(b.wss.stats.publishDeliveries, 0);
  assertThrows(
    () =>
      new WebSocketServer({ onConnection: () => null }, {
        backplane: { ...plain, publishTopic: 1 } as unknown as Backplane,
      }),
    TypeError,
    "options.backplane must be a Backplane",
  );
});

Deno.test("topics: 10,000 topics on one instance, their memory measured (tests/_topics_memory.ts)", async () => {
  // In a process of its own, with the garbage collector at hand.
  const { code, stdout } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--v8-flags=--expose-gc",
      new URL("./_topics_memory.ts", import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assertEquals(code, 0);
  const measured = JSON.parse(new TextDecoder().decode(stdout));
  assertEquals(measured.topics, 10_000);
  assertEquals(measured.delivered, 1);
  // A bound on memory, not on time: about 314 bytes a topic on Deno 2.9.6
  // (one subscriber each), given back once they are left.
  assert(
    measured.bytesPerTopic > 0 && measured.bytesPerTopic < 1024,
    `${measured.bytesPerTopic} bytes per topic`,
  );
  assert(measured.after < measured.bytes / 10, `${measured.after} bytes kept`);
});
