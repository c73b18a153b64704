import { assert, assertEquals, assertThrows } from "@std/assert";
import { deadline } from "@std/async";
import { connect, hangUp, type Peer } from "./_helpers.ts";
import { type Refusal, Relay } from "../testkit/relay.ts";

/** Deno reports 0 for a connection that broke; the SPEC says 1006. */
function isBreak(event: CloseEvent): boolean {
  return (event.code === 1006 || event.code === 0) && !event.wasClean;
}

/** A Deno.serve echo on 127.0.0.1, with the close of each server socket. */
function echoServer(): Deno.HttpServer<Deno.NetAddr> & {
  closes: Promise<CloseEvent>[];
  received: unknown[];
} {
  const closes: Promise<CloseEvent>[] = [];
  const received: unknown[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      const { socket, response } = Deno.upgradeWebSocket(request);
      socket.onmessage = (event) => {
        received.push(event.data);
        socket.send(event.data);
      };
      closes.push(
        new Promise((resolve) => socket.addEventListener("close", resolve)),
      );
      return response;
    },
  );
  return Object.assign(server, { closes, received });
}

function relayTo(server: Deno.HttpServer<Deno.NetAddr>): Relay {
  return new Relay({ hostname: "127.0.0.1", port: server.addr.port });
}

async function echoes(peer: Peer, text: string): Promise<void> {
  const before = peer.messages.length;
  peer.socket.send(text);
  await peer.received(before + 1);
  assertEquals(peer.messages[before], text);
}

/** Opens a socket that must fail: resolves with its close, never opened. */
async function failsToConnect(url: string): Promise<CloseEvent> {
  const socket = new WebSocket(url);
  let opened = false;
  let failed = false;
  socket.onopen = () => opened = true;
  socket.onerror = () => failed = true;
  const closed = await deadline(
    new Promise<CloseEvent>((resolve) => socket.onclose = resolve),
    5000,
  );
  assertEquals(opened, false, "it opened");
  assertEquals(failed, true, "no error event");
  return closed;
}

Deno.test("Relay forwards a WebSocket both ways and counts it", async () => {
  await using server = echoServer();
  await using relay = relayTo(server);
  const peer = await connect(relay.url("/echo"));
  await echoes(peer, "hello");
  await echoes(peer, "x".repeat(100_000));
  assertEquals(relay.counts.connections, 1);
  assertEquals(relay.counts.open, 1);
  assert(relay.counts.toServer > 100_000, `${relay.counts.toServer}`);
  assert(relay.counts.toClient > 100_000, `${relay.counts.toClient}`);
  const closed = await hangUp(peer);
  assertEquals(closed.code, 1005);
  assertEquals(closed.wasClean, true);
  await deadline(relay.idle(), 5000);
  assertEquals(relay.counts.open, 0);
  await deadline(server.closes[0] as Promise<CloseEvent>, 5000);
});

Deno.test("Relay.cut() breaks every connection: both ends see 1006, no close frame", async () => {
  await using server = echoServer();
  await using relay = relayTo(server);
  const peers = [
    await connect(relay.url()),
    await connect(relay.url()),
  ];
  for (const peer of peers) await echoes(peer, "before");
  assertEquals(relay.cut(), 2);
  for (const peer of peers) {
    const event = await deadline(peer.closed, 5000);
    assert(isBreak(event), `client: ${event.code} ${event.wasClean}`);
  }
  for (const close of server.closes) {
    const event = await deadline(close, 5000);
    assert(isBreak(event), `server: ${event.code} ${event.wasClean}`);
  }
  await deadline(relay.idle(), 5000);
  // The relay forwards new connections after a cut.
  const again = await connect(relay.url());
  await echoes(again, "after");
  assertEquals(relay.counts.connections, 3);
  await hangUp(again);
});

Deno.test("Relay.cutAfter() cuts in the middle of a frame to the server", async () => {
  await using server = echoServer();
  await using relay = relayTo(server);
  const peer = await connect(relay.url());
  await echoes(peer, "steady");
  const before = relay.counts.toServer;
  const cut = relay.cutAfter(100, "toServer");
  peer.socket.send("y".repeat(1000));
  await deadline(cut, 5000);
  assertEquals(relay.counts.toServer, before + 100);
  const event = await deadline(peer.closed, 5000);
  assert(isBreak(event), `client: ${event.code}`);
  const serverEvent = await deadline(
    server.closes[0] as Promise<CloseEvent>,
    5000,
  );
  assert(isBreak(serverEvent), `server: ${serverEvent.code}`);
  assertEquals(server.received, ["steady"], "no part of the frame arrived");
});

Deno.test("Relay.cutAfter() cuts in the middle of a frame to the client", async () => {
  await using server = echoServer();
  await using relay = relayTo(server);
  const peer = await connect(relay.url());
  await echoes(peer, "steady");
  const before = relay.counts.toClient;
  const cut = relay.cutAfter(50, "toClient");
  peer.socket.send("z".repeat(5000));
  await deadline(cut, 5000);
  assertEquals(relay.counts.toClient, before + 50);
  const event = await deadline(peer.closed, 5000);
  assert(isBreak(event), `client: ${event.code}`);
  assertEquals(peer.messages, ["steady"], "no part of the frame arrived");
  assertEquals(server.received.length, 2, "the server got the whole message");
  await deadline(server.closes[0] as Promise<CloseEvent>, 5000);
});

for (const how of ["unlisten", "hangup"] as const satisfies Refusal[]) {
  Deno.test(`Relay.refuse("${how}") fails new connections until admit(); open ones go on`, async () => {
    await using server = echoServer();
    await using relay = relayTo(server);
    const open = await connect(relay.url());
    relay.refuse(how);
    for (let i = 0; i < 3; i++) {
      const event = await failsToConnect(relay.url());
      assert(isBreak(event), `${event.code}`);
    }
    await echoes(open, "still here");
    assertEquals(relay.counts.connections, 1);
    assertEquals(relay.counts.refused, how === "hangup" ? 3 : 0);
    relay.admit();
    const later = await connect(relay.url());
    await echoes(later, "back");
    assertEquals(relay.counts.connections, 2);
    await hangUp(open);
    await hangUp(later);
  });
}

Deno.test("Relay refuses again after admitting, and disposes while refusing", async () => {
  await using server = echoServer();
  const relay = relayTo(server);
  relay.refuse();
  relay.admit();
  relay.refuse("hangup");
  relay.refuse();
  await failsToConnect(relay.url());
  relay.admit();
  const peer = await connect(relay.url());
  relay.refuse();
  await relay.close();
  const event = await deadline(peer.closed, 5000);
  assert(isBreak(event));
  await deadline(server.closes[0] as Promise<CloseEvent>, 5000);
  assertThrows(() => relay.cutAfter(-1, "toServer"), RangeError);
});
