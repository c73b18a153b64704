/**
 * Resuming end to end (SPEC.md, "Resuming"): a ws4d client with `reconnect`
 * and a ws4d server with `resume`, through the relay of testkit/relay.ts that
 * cuts the TCP under them. Real sockets, bounded waits, no sleeps.
 */
import { assertEquals, assertNotEquals, assertStrictEquals } from "@std/assert";
import { deadline } from "@std/async";
import { ErrorCode, WebSocket, type WebSocketConnection } from "../mod.ts";
import { encodeControl } from "../_resume_frames.ts";
import { RESUME_PROTOCOL } from "../_resume_handshake.ts";
import {
  ClientRecorder,
  closeRaw,
  listen,
  rawHello,
  Recorder,
  seeded,
} from "./_helpers.ts";
import { Relay } from "../testkit/relay.ts";

const RECONNECT = { delay: 0, jitter: 0 } as const;

/**
 * Sends `tag:0` … `tag:(count − 1)` through `send`, `batch` at a time, as
 * `received` (the other end's {@linkcode Sequence}) takes them: each batch
 * once at most `window` messages are on their way, so that messages keep
 * flowing across the cuts. A send refused (a client's queue full while it
 * reconnects) is tried again once all that went before it arrived.
 */
function pace(
  send: (message: string) => boolean,
  tag: string,
  count: number,
  received: Sequence,
  { batch = 50, window = 500 } = {},
): { stop: () => void } {
  let stopped = false;
  (async () => {
    let next = 0;
    while (next < count && !stopped) {
      const end = Math.min(count, next + batch);
      while (next < end && send(`${tag}:${next}`)) next++;
      if (next < end && received.next >= next) {
        throw new Error(`${tag}:${next} refused with nothing on its way`);
      }
      await received.upTo(next < end ? next : next - window);
    }
  })();
  return { stop: () => stopped = true };
}

/** Checks that `tag:n` messages arrive as 0, 1, 2, … once each. */
class Sequence {
  next = 0;
  readonly faults: string[] = [];
  #waiters: { count: number; resolve: () => void }[] = [];

  constructor(readonly tag: string) {}

  take(data: unknown): void {
    const expected = `${this.tag}:${this.next}`;
    if (data !== expected && this.faults.length < 10) {
      this.faults.push(`got ${String(data)}, expected ${expected}`);
    }
    this.next++;
    this.#waiters = this.#waiters.filter((waiter) => {
      if (waiter.count > this.next) return true;
      waiter.resolve();
      return false;
    });
  }

  /** Resolves once `count` messages arrived. */
  upTo(count: number): Promise<void> {
    if (this.next >= count) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiters.push({ count, resolve });
    return promise;
  }

  /** Resolves once `count` messages arrived; rejects after `ms`. */
  reached(count: number, ms: number): Promise<void> {
    return deadline(this.upTo(count), ms);
  }
}

Deno.test("resume: 10,000 messages each way, exactly once and in order, across 12 cuts (some mid-frame)", async () => {
  const N = 10_000;
  const CUTS = 12;
  const random = seeded(13);
  const fromClient = new Sequence("c");
  const fromServer = new Sequence("s");
  const connections = new Set<WebSocketConnection>();
  let serverSender: ReturnType<typeof pace> | undefined;
  const server = new Recorder({
    onOpen(ws) {
      connections.add(ws);
      serverSender = pace((m) => ws.send(m), "s", N, fromServer);
    },
    onMessage(ws, event) {
      connections.add(ws);
      fromClient.take(event.data);
    },
  });
  await using listening = listen({ onConnection: () => server }, {
    resume: { window: 10, maxMessages: 5000 },
  });
  await using relay = new Relay({
    hostname: "127.0.0.1",
    port: listening.port,
  });
  // The cuts happen when the client has received these many messages.
  const marks = Array.from(
    { length: CUTS },
    () => Math.floor(random() * N * 0.9),
  ).sort((a, b) => a - b);
  let cuts = 0;
  // One cut at a time: the next is armed once the client has resumed.
  let armed = true;
  const cutting: Promise<void>[] = [];
  const client = new ClientRecorder({
    reconnect: RECONNECT,
    onOpen() {
      armed = true;
    },
    onMessage(_ws, event) {
      fromServer.take(event.data);
      if (!armed || marks.length === 0) return;
      if (fromServer.next < (marks[0] as number)) return;
      marks.shift();
      armed = false;
      cuts++;
      if (cuts % 2 === 0) {
        relay.cut();
      } else {
        // Mid-frame: a few bytes more, either way, then the cut.
        const direction = random() < 0.5 ? "toServer" : "toClient";
        cutting.push(relay.cutAfter(1 + Math.floor(random() * 7), direction));
      }
    },
  });
  const ws = new WebSocket(relay.url("/"), client);
  await client.opened();
  const clientSender = pace((m) => ws.send(m), "c", N, fromClient);
  let serverEvents: string[];
  let live: WebSocketConnection[];
  try {
    await Promise.all([
      fromClient.reached(N, 60_000),
      fromServer.reached(N, 60_000),
    ]);
    serverEvents = server.types.filter((type) => type !== "message");
    live = listening.wss.connections;
  } finally {
    clientSender.stop();
    serverSender?.stop();
    if (ws.status !== "Closed") {
      ws.terminate();
      await client.terminated();
    }
  }
  // Bytes may stop flowing before a budget cut is reached: settle them.
  relay.cut();
  await Promise.all(cutting);
  assertEquals(fromClient.faults, []);
  assertEquals(fromServer.faults, []);
  assertEquals(cuts, CUTS);
  // Every cut broke an open connection, and each break was resumed.
  const breaks = client.calls.filter((c) => c.name === "onReconnecting");
  assertEquals(breaks.length, CUTS);
  const opens = client.opens;
  assertEquals(opens.length, CUTS + 1);
  for (const open of opens.slice(1)) {
    assertEquals(open, {
      type: "open",
      reconnected: true,
      resumed: true,
    });
  }
  assertEquals(serverEvents, ["open"]);
  assertEquals(connections.size, 1);
  assertEquals(live, [...connections]);
  const end = await server.terminated();
  assertEquals(end.code, 1000);
});

Deno.test("resume: the break is invisible on the server; what it sent meanwhile (broadcasts too) arrives", async () => {
  const server = new Recorder({});
  await using listening = listen({ onConnection: () => server }, {
    resume: true,
  });
  await using relay = new Relay({
    hostname: "127.0.0.1",
    port: listening.port,
  });
  const client = new ClientRecorder({ reconnect: RECONNECT });
  const ws = new WebSocket(relay.url("/"), client);
  await client.opened();
  assertEquals(ws.protocol, "");
  await server.opened();
  const connection = server.connection as WebSocketConnection;
  const { id, request, handler } = connection;
  assertEquals(connection.protocol, "");
  assertEquals(request.headers["sec-websocket-protocol"], undefined);
  relay.refuse();
  relay.cut();
  await client.when((c) => c.name === "onReconnecting", "onReconnecting");
  // The server may not have seen the break yet; either way it keeps them.
  assertEquals(connection.send("one"), true);
  assertEquals(listening.wss.broadcast("two"), 1);
  assertEquals(connection.status, "Connected");
  relay.admit();
  await client.received(2);
  assertEquals(client.messages, ["one", "two"]);
  assertEquals(
    client.opens,
    [
      { type: "open", reconnected: false, resumed: false },
      { type: "open", reconnected: true, resumed: true },
    ],
  );
  assertEquals(server.types, ["open"]);
  assertStrictEquals(listening.wss.connections[0], connection);
  assertEquals(connection.id, id);
  assertStrictEquals(connection.request, request);
  assertStrictEquals(connection.handler, handler);
  assertEquals(listening.wss.stats.connections, 1);
  ws.terminate();
  await client.terminated();
  await server.terminated();
});

Deno.test("resume: past the window, the server ends 1006 and the client gets a fresh session, its unacknowledged messages first", async () => {
  const sessions: Recorder[] = [];
  await using listening = listen({
    onConnection: () => {
      const recorder = new Recorder({});
      sessions.push(recorder);
      return recorder;
    },
  }, { resume: { window: 0.05 } });
  await using relay = new Relay({
    hostname: "127.0.0.1",
    port: listening.port,
  });
  const client = new ClientRecorder({ reconnect: RECONNECT });
  const ws = new WebSocket(relay.url("/"), client);
  await client.opened();
  const first = sessions[0] as Recorder;
  await first.opened();
  // "early" arrives, but the server acknowledges only every 250 messages.
  ws.send("early");
  await first.received(1);
  relay.refuse();
  relay.cut();
  await client.when((c) => c.name === "onReconnecting", "onReconnecting");
  ws.send("queued");
  const end = await first.terminated();
  assertEquals(end.code, 1006);
  relay.admit();
  assertEquals(await client.nthOpen(2), {
    type: "open",
    reconnected: true,
    resumed: false,
  });
  const second = sessions[1] as Recorder;
  await second.received(2);
  assertEquals(second.messages, ["early", "queued"]);
  ws.terminate();
  await client.terminated();
  await second.terminated();
});

Deno.test("resume: a server without resume, and a client with its own subprotocol: plain connections, resumed: false", async () => {
  {
    const server = new Recorder({});
    await using listening = listen({ onConnection: () => server });
    await using relay = new Relay({
      hostname: "127.0.0.1",
      port: listening.port,
    });
    const client = new ClientRecorder({ reconnect: RECONNECT });
    const ws = new WebSocket(relay.url("/"), client);
    await client.opened();
    await server.opened();
    assertEquals(ws.protocol, "");
    assertEquals(
      server.connection?.request.headers["sec-websocket-protocol"],
      undefined,
    );
    ws.send("plain");
    await server.received(1);
    assertEquals(server.messages, ["plain"]);
    relay.cut();
    assertEquals(await client.nthOpen(2), {
      type: "open",
      reconnected: true,
      resumed: false,
    });
    await server.terminated();
    ws.terminate();
    await client.terminated();
  }
  {
    let offered: string | undefined;
    const server = new Recorder({});
    await using listening = listen({
      onConnection: (_wss, event) => {
        offered = event.request.headers["sec-websocket-protocol"];
        return server;
      },
    }, { resume: true, protocols: ["chat"] });
    const client = new ClientRecorder({
      reconnect: RECONNECT,
      protocols: ["chat"],
    });
    const ws = new WebSocket(listening.url, client);
    await client.opened();
    assertEquals(offered, "chat");
    assertEquals(ws.protocol, "chat");
    assertEquals(server.connection?.protocol, "chat");
    ws.terminate();
    await client.terminated();
    await server.terminated();
  }
});

Deno.test("resume: a forged or stale token gets a fresh session, never someone else's; allowedOrigins applies; a resume counts once", async () => {
  const sessions: Recorder[] = [];
  const GOOD = "https://good.example";
  await using listening = listen({
    onConnection: () => {
      const recorder = new Recorder({});
      sessions.push(recorder);
      return recorder;
    },
  }, { resume: true, allowedOrigins: [GOOD], maxConnections: 3 });
  const url = listening.url;
  const a = await rawHello(url, { protocols: [RESUME_PROTOCOL], origin: GOOD });
  assertEquals(a.hello.resumed, false);
  assertEquals(a.hello.token.length, 36);
  const victim = sessions[0] as Recorder;
  const offer = (token: string, count: number) => [
    RESUME_PROTOCOL,
    `${RESUME_PROTOCOL}.${token}.${count}`,
  ];
  // The victim's own token from an origin that is not allowed: 403.
  const response = await listening.wss.fetch(
    new Request(url.replace("ws:", "http:"), {
      headers: {
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-version": "13",
        "sec-websocket-protocol": offer(a.hello.token, 0).join(", "),
        origin: "https://evil.example",
      },
    }),
  );
  await response.body?.cancel();
  assertEquals(response.status, 403);
  // Same selector, another secret: a fresh session.
  const forged = a.hello.token.slice(0, 12) + "A".repeat(24);
  const b = await rawHello(url, { protocols: offer(forged, 0), origin: GOOD });
  assertEquals(b.hello.resumed, false);
  assertNotEquals(b.hello.token, a.hello.token);
  // The right token with a count the server never sent (stale): fresh.
  const c = await rawHello(url, {
    protocols: offer(a.hello.token, 5),
    origin: GOOD,
  });
  assertEquals(c.hello.resumed, false);
  assertEquals(sessions.length, 3);
  assertEquals(victim.types, ["open"]);
  // At maxConnections, a resume of the victim's session is still taken:
  // it counts once.
  const d = await rawHello(url, {
    protocols: offer(a.hello.token, 0),
    origin: GOOD,
  });
  assertEquals(d.hello.resumed, true);
  assertEquals(d.hello.token, a.hello.token);
  assertEquals(sessions.length, 3);
  assertEquals(listening.wss.stats.connections, 3);
  d.socket.send("after the resume");
  await victim.received(1);
  assertEquals(victim.messages, ["after the resume"]);
  assertEquals(victim.types, ["open", "message"]);
  for (const raw of [a, b, c, d]) await closeRaw(raw.socket);
  for (const session of sessions) await session.terminated();
});

Deno.test("resume: a peer that stops acknowledging past the limits is a slow consumer (server 1008, client 1000)", async () => {
  // The server's side: a raw client that negotiates and never acks.
  const server = new Recorder({});
  await using listening = listen({ onConnection: () => server }, {
    resume: { maxMessages: 8 },
  });
  const raw = await rawHello(listening.url, { protocols: [RESUME_PROTOCOL] });
  const closed = new Promise<CloseEvent>((resolve) =>
    raw.socket.onclose = resolve
  );
  await server.opened();
  const connection = server.connection as WebSocketConnection;
  for (let i = 0; i < 9; i++) connection.send(`m${i}`);
  const close = await deadline(closed, 5000);
  assertEquals(close.code, 1008);
  assertEquals(close.reason, "slow consumer");
  assertEquals(server.errors.map((e) => e.errCode), [
    ErrorCode.SlowConsumer,
  ]);
  assertEquals((await server.terminated()).code, 1008);

  // The client's side: a bare server that says hello and never acks.
  const ac = new AbortController();
  const accepted = Promise.withResolvers<void>();
  const bare = Deno.serve({
    port: 0,
    hostname: "127.0.0.1",
    signal: ac.signal,
    onListen() {},
  }, (request) => {
    assertEquals(new URL(request.url).search, "?ws4d-resume=1");
    const { socket, response } = Deno.upgradeWebSocket(request);
    // The client's first frame answers the hello: C1 03, then the token.
    socket.onmessage = (event) => {
      const bytes = new Uint8Array(event.data as ArrayBuffer);
      socket.onmessage = null;
      if (bytes[0] === 0xc1 && bytes[1] === 0x03) accepted.resolve();
    };
    socket.onopen = () =>
      socket.send(encodeControl({
        type: "hello",
        resumed: false,
        received: 0,
        limits: { window: 60, maxMessages: 4, maxBytes: 1 << 20 },
        token: "B".repeat(36),
      }));
    return response;
  });
  const client = new ClientRecorder({ reconnect: RECONNECT });
  const ws = new WebSocket(`ws://127.0.0.1:${bare.addr.port}/`, client);
  await client.opened();
  await deadline(accepted.promise, 5000);
  for (let i = 0; i < 5; i++) ws.send(`m${i}`);
  const end = await client.terminated();
  assertEquals(end.code, 1000);
  assertEquals(end.reason, "slow consumer");
  assertEquals(client.errors.map((e) => e.errCode), [
    ErrorCode.SlowConsumer,
  ]);
  ac.abort();
  await bare.finished;
});
