/**
 * Topics across the instances that share a `BroadcastChannelBackplane`: two
 * servers of this worker, and the chat's rooms under `deno serve --parallel`
 * with 3 workers (`deno task serve`). A publish reaches the subscribers on
 * every instance, each exactly once, in the order each instance published;
 * what another worker puts on the channel that is no publish is ignored.
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { BroadcastChannelBackplane, type WSServerHandler } from "../mod.ts";
import {
  connect,
  exchange,
  hangUp,
  listen,
  type Peer,
  sequences,
} from "./_helpers.ts";
import { Chat } from "./_chat_process.ts";

/** Subscribes a client to the topics its URL names, then says "ready". */
const rooms: WSServerHandler = {
  onConnection: (_wss, { request }) => ({
    onOpen(ws) {
      const url = new URL(request.url, "http://localhost");
      const topics = url.searchParams.get("topics") ?? "";
      for (const topic of topics.split(",")) if (topic) ws.subscribe(topic);
      ws.send("ready");
    },
    onMessage: (ws, event) => void ws.publish("t", event.data),
  }),
};

async function join(url: string, topics: string): Promise<Peer> {
  const peer = await connect(`${url}/?topics=${topics}`);
  await peer.received(1);
  peer.messages.length = 0;
  return peer;
}

Deno.test("topics over BroadcastChannelBackplane: two instances, each subscriber once, in order", async () => {
  const channel = `test-${crypto.randomUUID()}`;
  await using a = listen(rooms, {
    backplane: new BroadcastChannelBackplane(channel),
  });
  await using b = listen(rooms, {
    backplane: new BroadcastChannelBackplane(channel),
  });
  const onA = [await join(a.url, "t"), await join(a.url, "t")];
  const onB = [await join(b.url, "t"), await join(b.url, "u")];
  // Each of the three subscribers of t hears the two others, on both sides.
  const subscribers = [onA[0]!, onA[1]!, onB[0]!];
  await exchange(subscribers, { tag: "m", count: 50 });
  // The server's own publishes, bytes among them, in order.
  for (let n = 0; n < 50; n++) {
    a.wss.publish("t", `a:${n}`);
    b.wss.publish(
      "t",
      n % 2 === 0 ? `b:${n}` : new TextEncoder().encode(`b:${n}`),
    );
  }
  assertEquals(a.wss.publish("u", "to u"), 0);
  for (const peer of subscribers) await peer.received(100 + 100);
  for (const peer of subscribers) {
    const texts = peer.messages.map((m) =>
      typeof m === "string" ? m : new TextDecoder().decode(m as ArrayBuffer)
    );
    const got = sequences({ ...peer, messages: texts }, "");
    const all = Array.from({ length: 50 }, (_, n) => n);
    assertEquals(got.get("a"), all);
    assertEquals(got.get("b"), all);
  }
  await onB[1]!.received(1);
  assertEquals(onB[1]!.messages, ["to u"]);
  // Deliveries from the other instance are counted where they happen.
  assertEquals(
    b.wss.stats.publishDeliveries,
    2 * 50 + 50 + 50 + 1, // from a's clients, a's, b's own, the one to u
  );
  for (const peer of [...onA, ...onB]) await hangUp(peer);
});

Deno.test("topics over BroadcastChannelBackplane: what is no publish on the channel is ignored", async () => {
  const channel = `test-${crypto.randomUUID()}`;
  await using a = listen(rooms, {
    backplane: new BroadcastChannelBackplane(channel),
  });
  const peer = await join(a.url, "t");
  const other = new BroadcastChannel(channel);
  try {
    for (
      const junk of [
        [],
        ["t"],
        ["t", "x", "y"],
        ["", "empty topic"],
        ["x".repeat(257), "too long"],
        ["\uD800", "lone surrogate"],
        [7, "not a string"],
        [null, "null"],
        ["t", 5],
        ["t", { data: "object" }],
        ["t", null],
        ["t", new ArrayBuffer(3)],
        { 0: "t", 1: "x", length: 2 },
        new Map([["t", "x"]]),
      ]
    ) other.postMessage(junk);
    other.postMessage(["t", "valid"]);
    other.postMessage("a broadcast");
    await peer.received(2);
    assertEquals(peer.messages, ["valid", "a broadcast"]);
    assertEquals(a.wss.stats.publishDeliveries, 1);
    // The instance goes on as before.
    assertEquals(a.wss.publish("t", "still here"), 1);
    await peer.received(3);
  } finally {
    other.close();
  }
  await hangUp(peer);
});

/**
 * A room's count in the whole chat, from `/count` of any worker, read after
 * the next heartbeat it takes in (`&fresh`): no polling.
 */
async function roomCount(
  chat: Chat,
  room: string,
): Promise<{ room: string; count: number }> {
  const answer = await fetch(chat.http(`/count?room=${room}&fresh`));
  return await answer.json();
}

Deno.test("the chat's rooms under deno serve --parallel with 3 workers: a room's messages reach that room only, each once, in order", async () => {
  await using served = new Chat({ DENO_JOBS: "3" });
  await served.listening();
  assertEquals(served.workers, 3);
  const url = (room: string) => `${served.url}?room=${room}`;
  // 12 clients, the kernel spreads them over the 3 workers' listeners.
  const roomOf = (i: number) => i % 2 === 0 ? "red" : "blue";
  const peers: Peer[] = [];
  try {
    for (let i = 0; i < 12; i++) {
      const peer = await connect(url(roomOf(i)));
      await peer.received(1);
      assertEquals(peer.messages[0], "Welcome on the chat!");
      peers.push(peer);
    }
    // Each heard of the later arrivals of its own room only.
    await Promise.all(
      peers.map((peer, i) => peer.received(1 + (5 - Math.floor(i / 2)))),
    );
    for (const [i, peer] of peers.entries()) {
      assertEquals(
        peer.messages.slice(1),
        Array(5 - Math.floor(i / 2)).fill("New client connected"),
      );
      peer.messages.length = 0;
    }
    await exchange(peers, {
      tag: "m",
      count: 20,
      hears: (i, j) => i !== j && roomOf(i) === roomOf(j),
    });
    // One leaves red: red hears of it, blue does not.
    await hangUp(peers[0]!);
    const red = peers.filter((_, i) => i > 0 && roomOf(i) === "red");
    const blue = peers.filter((_, i) => roomOf(i) === "blue");
    for (const peer of red) await peer.received(5 * 20 + 1);
    for (const peer of red) {
      assertEquals(peer.messages.at(-1), "Client disconnected");
    }
    blue[0]!.socket.send("blue end");
    for (const peer of blue.slice(1)) await peer.received(5 * 20 + 1);
    for (const peer of blue.slice(1)) {
      assertEquals(peer.messages.at(-1), "blue end");
      assert(!peer.messages.includes("Client disconnected"));
    }
    // The count the page shows is its room's in the whole chat, whichever
    // worker answers: each read waits for a heartbeat (every 0.25 s), and
    // the workers' counts agree within a few (red's just lost one).
    const expected = new Map([["blue", 6], ["red", 5], ["none", 0]]);
    for (const [room, count] of expected) {
      let said = await roomCount(served, room);
      for (let beats = 0; said.count !== count && beats < 12; beats++) {
        said = await roomCount(served, room);
      }
      assertEquals(said, { room, count });
    }
  } finally {
    for (const peer of peers) await hangUp(peer).catch(() => {});
  }
});
