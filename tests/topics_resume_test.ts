/**
 * Topics through a resume: a ws4d client with `reconnect` behind the TCP
 * relay of testkit/relay.ts, cut while the server publishes to its topic.
 * The session keeps its subscription (the connection object survives the
 * break), and what was published to it meanwhile arrives on resume,
 * exactly once, in order. Real sockets, bounded waits, no sleeps.
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import { deadline } from "@std/async";
import { WebSocket, type WebSocketConnection } from "../mod.ts";
import {
  ClientRecorder,
  connect,
  hangUp,
  listen,
  Recorder,
} from "./_helpers.ts";
import { Relay } from "../testkit/relay.ts";

const N = 2000;
/** The client's received counts at which the relay cuts it. */
const CUTS = [300, 800, 1300];
/** Published during each break, while the relay refuses the client. */
const DURING_BREAK = 100;
/** The most publishes on their way to the client at a time. */
const WINDOW = 400;

Deno.test("topics through a resume: the subscription survives 3 cuts; what was published meanwhile arrives once, in order", async () => {
  const connections = new Set<WebSocketConnection>();
  const server = new Recorder({
    onOpen(ws) {
      connections.add(ws);
      ws.subscribe("feed");
      ws.send("subscribed");
    },
  });
  await using listening = listen({ onConnection: () => server }, {
    resume: { window: 10 },
  });
  const { wss } = listening;
  await using relay = new Relay({
    hostname: "127.0.0.1",
    port: listening.port,
  });
  // A second subscriber that no cut reaches: it gets every publish too.
  const direct = await connect(listening.url);
  await direct.received(1);

  let published = 0;
  let received = 0;
  const faults: string[] = [];
  const done = Promise.withResolvers<void>();
  const publish = (count: number) => {
    for (let i = 0; i < count && published < N; i++) {
      wss.publish("feed", `p:${published++}`);
    }
  };
  const pump = () => publish(received + WINDOW - published);
  const marks = [...CUTS];
  let broken = false;
  /** Breaks the server saw, while the client was away. */
  let breaks = 0;
  const client = new ClientRecorder({
    reconnect: { delay: 0, jitter: 0, maxRetries: Infinity },
    onMessage(_ws, event) {
      if (event.data === "subscribed") {
        pump();
        return;
      }
      if (event.data !== `p:${received}` && faults.length < 10) {
        faults.push(`got ${String(event.data)}, expected p:${received}`);
      }
      received++;
      if (received === N) done.resolve();
      if (!broken && marks.length > 0 && received >= marks[0]!) {
        marks.shift();
        broken = true;
        relay.refuse("hangup");
        relay.cut();
        return;
      }
      pump();
    },
    onReconnecting() {
      // The relay hangs up on each retry until the server has seen the
      // break (its session waits for its client): then what is published
      // can only be kept for the client, and the relay lets it in.
      if (!broken || wss.stats.sessionsWaiting === 0) return;
      broken = false;
      breaks++;
      publish(DURING_BREAK);
      relay.admit();
    },
  });
  const ws = new WebSocket(relay.url("/"), client);
  let subscriptions: string[][] = [];
  try {
    await deadline(done.promise, 30_000);
    subscriptions = [...connections].map((c) => c.subscriptions);
  } finally {
    if (ws.status !== "Closed") ws.terminate();
    await client.terminated();
  }
  assertEquals(faults, []);
  assertEquals(received, N);
  assertEquals(breaks, CUTS.length);
  // Every cut was a break, and each was resumed.
  assertEquals(client.opens.map((open) => open.resumed), [
    false,
    ...CUTS.map(() => true),
  ]);
  // One connection for the relayed client all along, subscribed still.
  assertEquals(connections.size, 2);
  assertEquals(subscriptions, [["feed"], ["feed"]]);
  await server.when((c) => c.name === "onTerminate", "the relayed one's end");
  assertEquals(wss.subscriberCount("feed"), 1);
  // The direct subscriber got every publish, in order, once.
  await direct.received(1 + N);
  assertEquals(
    direct.messages.slice(1),
    Array.from({ length: N }, (_, n) => `p:${n}`),
  );
  await hangUp(direct);
});

Deno.test("topics through a resume: publishes past maxMessages while the client is away end the session (1006), which leaves its topics", async () => {
  const server = new Recorder({
    onOpen(ws) {
      ws.subscribe("feed");
      ws.send("subscribed");
    },
  });
  await using listening = listen({ onConnection: () => server }, {
    resume: { window: 10, maxMessages: 10 },
  });
  const { wss } = listening;
  await using relay = new Relay({
    hostname: "127.0.0.1",
    port: listening.port,
  });
  const published = Promise.withResolvers<number>();
  let cut = false;
  let done = false;
  const client = new ClientRecorder({
    reconnect: { delay: 0, jitter: 0, maxRetries: Infinity },
    onMessage() {
      if (cut) return;
      cut = true;
      relay.refuse("hangup");
      relay.cut();
    },
    onReconnecting() {
      // Once the server's session waits for its client: past its limits.
      if (done || wss.stats.sessionsWaiting === 0) return;
      done = true;
      let count = 0;
      for (let n = 0; n < 20; n++) count += wss.publish("feed", `p:${n}`);
      published.resolve(count);
      relay.admit();
    },
  });
  const ws = new WebSocket(relay.url("/"), client);
  try {
    // Handed to the waiting session, kept until the limit was passed.
    assertEquals(await deadline(published.promise, 10_000), 20);
    const end = await server.terminated();
    assertEquals(end.code, 1006);
    assertEquals(wss.subscriberCount("feed"), 0);
    assertEquals(wss.stats.sessionsExpired.limits, 1);
    // The client comes back to a fresh connection, subscribed anew.
    const open = await client.when(
      (c) => c.name === "onOpen" && c.event.reconnected === true,
      "the client's new connection",
    );
    assertEquals(open.event.resumed, false);
  } finally {
    ws.terminate();
    await client.terminated();
  }
});
