/**
 * How a client offers resuming (docs/wire-protocol.md, the offer): a fresh
 * offer goes in the query (`?ws4d-resume=1`), which a server without
 * `resume` ignores, so that every runtime offers it by default; the server's
 * first frame tells the client whether it resumes. Real sockets on
 * loopback; the servers that do not speak ws4d are bare `Deno.serve` ones.
 */
import { assert, assertEquals } from "@std/assert";
import { deadline } from "@std/async";
import { WebSocket, type WebSocketConnection } from "../mod.ts";
import { RESUME_DEFAULTS } from "../_resume.ts";
import { encodeControl } from "../_resume_frames.ts";
import { ClientRecorder, listen, Recorder } from "./_helpers.ts";
import { Relay } from "../testkit/relay.ts";

const RECONNECT = { delay: 0, jitter: 0 } as const;

/** A bare WebSocket server: `onSocket` drives each upgraded socket. */
function bareServer(
  onSocket: (socket: globalThis.WebSocket, request: Request) => void,
): { url: string; [Symbol.asyncDispose](): Promise<void> } {
  const ac = new AbortController();
  const server = Deno.serve({
    port: 0,
    hostname: "127.0.0.1",
    signal: ac.signal,
    onListen() {},
  }, (request) => {
    // Read before the upgrade, after which headers cannot be read.
    const seen = new Request(request.url, { headers: request.headers });
    const offered = request.headers.get("sec-websocket-protocol");
    const { socket, response } = Deno.upgradeWebSocket(
      request,
      offered === null ? {} : { protocol: offered.split(", ")[0] as string },
    );
    socket.binaryType = "arraybuffer";
    onSocket(socket, seen);
    return response;
  });
  return {
    url: `ws://127.0.0.1:${server.addr.port}`,
    async [Symbol.asyncDispose]() {
      ac.abort();
      await server.finished;
    },
  };
}

function bytesOf(data: unknown): number[] {
  return Array.from(new Uint8Array(data as ArrayBuffer));
}

Deno.test("offer: the query parameter shows in no request, with or without resume; the rest of the query is kept as written", async () => {
  for (const resume of [true, false]) {
    const server = new Recorder({});
    let request: WebSocketConnection["request"] | undefined;
    await using listening = listen({
      onConnection: (_wss, event) => {
        request = event.request;
        return server;
      },
    }, { resume });
    const client = new ClientRecorder({ reconnect: RECONNECT });
    const ws = new WebSocket(`${listening.url}/room?x=a%20b&y=1`, client);
    await client.opened();
    await server.opened();
    assert(request !== undefined);
    assertEquals(request.url, "/room?x=a%20b&y=1", `resume: ${resume}`);
    assertEquals(request.query, { x: "a b", y: "1" });
    assertEquals(request.headers["sec-websocket-protocol"], undefined);
    assertEquals(ws.url, `${listening.url}/room?x=a%20b&y=1`);
    ws.terminate();
    await client.terminated();
    await server.terminated();
  }
});

Deno.test("offer: a server that does not resume sees the parameter, and its first message, a hello's look-alike, is data", async () => {
  const seen: { url: string; messages: unknown[] } = { url: "", messages: [] };
  const got = Promise.withResolvers<void>();
  await using bare = bareServer((socket, request) => {
    seen.url = new URL(request.url).search;
    socket.onopen = () => {
      socket.send(Uint8Array.of(0xc1, 0x01, 0, 0)); // Too short for a hello.
      socket.send(Uint8Array.of(0xc1, 0x02, 7)); // Marked, as an ack is.
      socket.send("text");
    };
    socket.onmessage = (event) => {
      seen.messages.push(
        typeof event.data === "string" ? event.data : bytesOf(event.data),
      );
      if (seen.messages.length === 2) got.resolve();
    };
  });
  const client = new ClientRecorder({ reconnect: RECONNECT, dataType: "blob" });
  const ws = new WebSocket(`${bare.url}/?a=1`, client);
  await client.received(3);
  assertEquals(seen.url, "?a=1&ws4d-resume=1");
  assertEquals(
    client.messages.map((data) => Array.from(data as Uint8Array)),
    [[0xc1, 1, 0, 0], [0xc1, 2, 7], [116, 101, 120, 116]],
  );
  // What the client sends goes as it is: no prefix, no control frame.
  ws.send(Uint8Array.of(0xc1, 0x00, 1));
  ws.send("after");
  await deadline(got.promise, 5000);
  assertEquals(seen.messages, [[0xc1, 0, 1], "after"]);
  assertEquals(
    client.calls.filter((c) => c.name === "onOpen").map((c) => c.event),
    [{ type: "open", reconnected: false, resumed: false }],
  );
  ws.terminate();
  await client.terminated();
});

Deno.test("offer: marked binary messages sent before the hello arrive as they are, and after the accept too, across a resume", async () => {
  const server = new Recorder({});
  await using listening = listen({ onConnection: () => server }, {
    resume: true,
    dataType: "blob",
  });
  await using relay = new Relay({
    hostname: "127.0.0.1",
    port: listening.port,
  });
  // Each looks like a frame of the protocol: an accept, an ack, a prefix.
  const marked = [
    [0xc1, 0x03, ...new TextEncoder().encode("A".repeat(36))],
    [0xc1, 0x02, 0, 0, 0, 0, 0, 0, 0, 1],
    [0xc1, 0x00],
  ];
  const client = new ClientRecorder({
    reconnect: RECONNECT,
    dataType: "blob",
    // At open, before the server's hello can have arrived.
    onOpen: (ws, event) => {
      if (!event.reconnected) {
        for (const m of marked) ws.send(Uint8Array.from(m));
      }
    },
  });
  const ws = new WebSocket(relay.url("/"), client);
  await server.received(3);
  // After the accept: the server's "go" comes after its hello.
  const connection = server.connection as WebSocketConnection;
  connection.send("go");
  await client.received(1);
  for (const m of marked) ws.send(Uint8Array.from(m));
  await server.received(6);
  relay.refuse();
  relay.cut();
  await client.when((c) => c.name === "onReconnecting", "onReconnecting");
  for (const m of marked) ws.send(Uint8Array.from(m));
  connection.send("during");
  relay.admit();
  await server.received(9);
  await client.received(2);
  const sent = [...marked, ...marked, ...marked];
  assertEquals(
    server.messages.map((data) => Array.from(data as Uint8Array)),
    sent,
  );
  assertEquals(
    client.calls.filter((c) => c.name === "onOpen").map((c) => c.event),
    [
      { type: "open", reconnected: false, resumed: false },
      { type: "open", reconnected: true, resumed: true },
    ],
  );
  assertEquals(server.types, [
    "open",
    ...Array(6).fill("message"),
    ...Array(3).fill("message"),
  ]);
  ws.terminate();
  await client.terminated();
  await server.terminated();
});

Deno.test("offer: against a server that stays silent, the client keeps at most the default limits, then declines a late hello", async () => {
  const token = "T".repeat(36);
  const count = RESUME_DEFAULTS.maxMessages + 1;
  const seen: unknown[] = [];
  const declined = Promise.withResolvers<number[]>();
  const after = Promise.withResolvers<void>();
  await using bare = bareServer((socket) => {
    socket.onmessage = (event) => {
      const data = typeof event.data === "string"
        ? event.data
        : bytesOf(event.data);
      if (seen.length === count) {
        // The client's answer to the hello.
        declined.resolve(data as number[]);
        socket.send(Uint8Array.of(0xc1, 0x00, 0xc1, 7)); // Prefixed, still.
        socket.send(Uint8Array.of(0xc1, 0x05)); // Declined: plain from here.
        socket.send(Uint8Array.of(0xc1, 0x00, 9)); // Plain: as it is.
        socket.send("end");
        seen.push("answer");
        return;
      }
      seen.push(data);
      if (seen.length === count) {
        // Only now, with the client past the limits, a hello.
        socket.send(encodeControl({
          type: "hello",
          resumed: false,
          received: 0,
          limits: RESUME_DEFAULTS,
          token,
        }));
      } else if (seen.length === count + 3) after.resolve();
    };
  });
  const client = new ClientRecorder({
    reconnect: RECONNECT,
    dataType: "blob",
    onOpen: (ws) => {
      for (let i = 0; i < count; i++) ws.send(`m${i}`);
    },
  });
  const ws = new WebSocket(`${bare.url}/`, client);
  const answer = await deadline(declined.promise, 5000);
  assertEquals(answer, [0xc1, 0x04, ...new TextEncoder().encode(token)]);
  await client.received(3);
  assertEquals(
    client.messages.map((data) => Array.from(data as Uint8Array)),
    [[0xc1, 7], [0xc1, 0, 9], [101, 110, 100]],
  );
  assertEquals(seen.slice(0, 3), ["m0", "m1", "m2"]);
  assertEquals(seen[count - 1], `m${count - 1}`);
  ws.send("plain");
  ws.send(Uint8Array.of(0xc1, 0x03));
  await deadline(after.promise, 5000);
  assertEquals(seen.slice(count), ["answer", "plain", [0xc1, 0x03]]);
  assertEquals(client.errors, []);
  ws.terminate();
  await client.terminated();
});

Deno.test("offer: none with resume: false, none with protocols of its own, none without reconnect", async () => {
  const seen: { search: string; protocol: string | null }[] = [];
  await using bare = bareServer((socket, request) => {
    seen.push({
      search: new URL(request.url).search,
      protocol: request.headers.get("sec-websocket-protocol"),
    });
    socket.onopen = () => socket.send("hi");
  });
  const handlers = [
    { reconnect: RECONNECT, resume: false },
    { reconnect: RECONNECT, protocols: ["chat"] },
    {},
  ];
  for (const handler of handlers) {
    const client = new ClientRecorder(handler);
    const ws = new WebSocket(`${bare.url}/?a=1`, client);
    await client.received(1);
    ws.terminate();
    await client.terminated();
  }
  assertEquals(seen, [
    { search: "?a=1", protocol: null },
    { search: "?a=1", protocol: "chat" },
    { search: "?a=1", protocol: null },
  ]);
});
