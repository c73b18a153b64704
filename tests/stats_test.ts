/**
 * `wss.stats` (issue 14): exact counts after a scripted session of opens,
 * refusals, closes by code, messages both ways and a broadcast.
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { connect, hangUp, listen, Recorder } from "./_helpers.ts";

Deno.test("wss.stats counts a scripted session exactly", async () => {
  const recorders: Recorder[] = [];
  await using server = listen({
    onConnection: (_wss, { request }) => {
      if (request.query.who === "nobody") return null;
      if (request.query.who === "later") {
        return new Response(null, { status: 429 });
      }
      const recorder = new Recorder({
        onMessage(ws, event) {
          if (event.data === "bad") throw new Error("bad");
          ws.send(`echo:${event.data}`);
        },
      });
      recorders.push(recorder);
      return recorder;
    },
  }, { path: "/ws", dataType: "text" });
  const { wss, url } = server;
  const base = `${url}/ws`;
  const empty = wss.stats;
  assertEquals(empty.refused, {});
  assertEquals(empty.limits.rateLimit, 0);

  // Refusals: 403, 429, and a plain request (426); a wrong path is not ours.
  for (const who of ["nobody", "later"]) {
    const socket = new WebSocket(`${base}?who=${who}`);
    await new Promise((resolve) => socket.onerror = socket.onclose = resolve);
  }
  const plain = await fetch(`http://127.0.0.1:${server.port}/ws`);
  await plain.body?.cancel();
  const elsewhere = await fetch(`http://127.0.0.1:${server.port}/other`);
  await elsewhere.body?.cancel();

  // Three clients: two messages each way on the first, a broadcast to all,
  // a client that closes with 4000, one whose callback throws (1011).
  const a = await connect(base);
  const b = await connect(base);
  const c = await connect(base);
  a.socket.send("one");
  a.socket.send("two");
  await a.received(2);
  assertEquals(wss.broadcast("news"), 3);
  await Promise.all([a.received(3), b.received(1), c.received(1)]);
  b.socket.close(4000, "bye");
  await recorders[1]!.terminated();
  c.socket.send("bad");
  await recorders[2]!.terminated();
  await hangUp(a);
  await recorders[0]!.terminated();
  await hangUp(b);
  await hangUp(c);

  const stats = wss.stats;
  assertEquals(
    { ...stats, refused: { ...stats.refused } },
    {
      connections: 0,
      connectionsTotal: 3,
      refused: { "403": 1, "429": 1, "426": 1 },
      closes: { "1005": 1, "1011": 1, "4000": 1 }, // a close with no code is 1005
      messagesReceived: 3, // "one", "two", "bad"
      messagesSent: 5, // two echoes, three broadcast deliveries
      bytesReceived: 3 + 3 + 3,
      bytesSent: "echo:one".length + "echo:two".length + 3 * "news".length,
      errors: { CallbackFailed: 1 },
      broadcasts: 1,
      broadcastDeliveries: 3,
      publishes: 0, // tests/topics_test.ts counts them
      publishDeliveries: 0,
      backplaneFailures: 0,
      backplaneDrops: 0,
      limits: {
        rateLimit: 0,
        maxConnectionsPerAddress: 0,
        maxConnections: 0,
        maxMessageSize: 0,
        maxBufferedAmount: 0,
      },
      sessionsWaiting: 0, // no resume: tests/resume_expiry_test.ts counts them
      sessionsResumed: 0,
      sessionsExpired: { window: 0, limits: 0 },
    },
  );
  assert(Object.isFrozen(stats));
  assertEquals(JSON.parse(JSON.stringify(stats)), stats);
});

Deno.test("wss.stats counts the limits hit: maxConnections and maxMessageSize", async () => {
  const recorder = new Recorder();
  await using server = listen({ onConnection: () => recorder }, {
    maxConnections: 1,
    maxMessageSize: 4,
  });
  const peer = await connect(server.url);
  const second = await fetch(`http://127.0.0.1:${server.port}/`, {
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
    },
  });
  assertEquals(second.status, 503);
  await second.body?.cancel();
  peer.socket.send("too long");
  await recorder.terminated();
  await hangUp(peer);
  const { limits, refused, errors, closes } = server.wss.stats;
  assertEquals(limits.maxConnections, 1);
  assertEquals(limits.maxMessageSize, 1);
  assertEquals(refused, { "503": 1 });
  assertEquals(errors, { MessageTooLarge: 1 });
  assertEquals(closes, { "1009": 1 });
});
