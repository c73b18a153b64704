/**
 * One session across the instances of a server (issue 22), in one process:
 * two or three servers on one `BroadcastChannelBackplane`, a TCP relay in
 * front that sends each reconnect to another instance, real sockets on
 * loopback. The relay's messages, the owner gone, ghosts, hostile data on
 * the channel, the whole server's counts.
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { deadline } from "@std/async/deadline";
import { WebSocket as WSClient } from "../client.ts";
import {
  type Backplane,
  type BackplaneSink,
  BroadcastChannelBackplane,
  type WebSocketConnection,
  WebSocketServer,
  type WSServerHandler,
} from "../mod.ts";
import { Relay } from "../testkit/relay.ts";
import { ClientRecorder, closeRaw, Events, rawHello } from "./_helpers.ts";
import {
  decodeHeartbeat,
  GONE_AFTER_MS,
  type NamedCounts,
} from "../_liveness.ts";
import { encodeAnswer } from "../_resume_frames.ts";
import { RESUME_PROTOCOL } from "../_resume_handshake.ts";

/** A server of the cluster: its opens and what it received, by connection. */
class Instance implements AsyncDisposable {
  readonly wss: WebSocketServer;
  readonly backplane: BroadcastChannelBackplane;
  opens = 0;
  terminates: number[] = [];
  received: string[] = [];
  readonly connections = new Set<WebSocketConnection>();
  /** Notified after each of its callbacks. */
  readonly #events = new Events();

  constructor(channel: string, options: { window?: number } = {}) {
    this.backplane = new BroadcastChannelBackplane(channel);
    const handler: WSServerHandler = {
      onConnection: () => ({
        onOpen: (ws) => {
          this.opens++;
          this.connections.add(ws);
          this.#events.notify();
        },
        onMessage: (ws, event) => {
          const text = String(event.data);
          this.received.push(text);
          if (text.startsWith("echo:")) ws.send(text.slice(5));
          this.#events.notify();
        },
        onError: () => {}, // a slow consumer, expected where tested
        onTerminate: (ws, event) => {
          this.connections.delete(ws);
          this.terminates.push(event.code);
          this.#events.notify();
        },
      }),
    };
    this.wss = new WebSocketServer(handler, {
      port: 0,
      hostname: "127.0.0.1",
      backplane: this.backplane,
      resume: { window: options.window ?? 30 },
    });
  }

  /** Resolves once `check` holds, checked after each of its callbacks. */
  until(check: () => boolean, what: string): Promise<void> {
    return this.#events.until(check, what, 10_000);
  }

  get target(): { hostname: string; port: number } {
    return { hostname: "127.0.0.1", port: this.wss.addr?.port ?? 0 };
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.wss.terminate(0);
  }
}

/** A ws4d client with reconnect, its calls recorded. */
class Client extends ClientRecorder {
  readonly ws: WSClient;

  constructor(url: string) {
    super({ reconnect: { delay: 0.01, jitter: 0 } });
    this.ws = new WSClient(url, this);
  }

  /** The messages, as text. */
  get texts(): string[] {
    return this.messages.map(String);
  }

  /** Resolves once `count` messages arrived in all. */
  async arrived(count: number): Promise<void> {
    await this.received(count, 10_000);
  }

  async end(): Promise<void> {
    this.ws.terminate();
    await this.terminated(10_000);
  }
}

/**
 * The heartbeats on a cluster's channel, heard as a foreign listener hears
 * them (each instance beats every 250 ms with its counts; it says goodbye
 * as it terminates): what the instances know of each other changes only
 * when one arrives.
 */
class Heartbeats implements Disposable {
  readonly #channel: BroadcastChannel;
  readonly #events = new Events();
  /** The counts of the last heartbeat of each instance. */
  readonly #last = new Map<string, NamedCounts>();

  constructor(channel: string) {
    // The backplane's heartbeat channel (backplane.ts).
    this.#channel = new BroadcastChannel(`${channel}\u0000live`);
    this.#channel.onmessage = (event: MessageEvent<unknown>) => {
      const beat = decodeHeartbeat(event.data);
      if (beat === null) return;
      this.#last.set(beat.from, beat.counts);
      this.#events.notify();
    };
  }

  /**
   * Resolves once `check` holds, checked at each heartbeat: what an
   * instance missed from this one, it gets from the next.
   */
  until(check: () => boolean, what: string): Promise<void> {
    return this.#events.until(check, what, 10_000);
  }

  /** Resolves at a heartbeat of `instance` whose counts pass `check`. */
  from(
    instance: Instance,
    check: (counts: NamedCounts) => boolean,
    what: string,
  ): Promise<void> {
    const last = () => this.#last.get(instance.backplane.instance);
    this.#last.delete(instance.backplane.instance);
    return this.#events.until(
      () => {
        const counts = last();
        return counts !== undefined && check(counts);
      },
      what,
      10_000,
    );
  }

  [Symbol.dispose](): void {
    this.#channel.close();
  }
}

function numbered(prefix: string, from: number, to: number): string[] {
  return Array.from({ length: to - from }, (_, i) => `${prefix}${from + i}`);
}

Deno.test("a reconnect on another instance resumes through the relay, exactly once both ways", async () => {
  const channel = `cluster-${crypto.randomUUID()}`;
  await using a = new Instance(channel);
  await using b = new Instance(channel);
  await using relay = new Relay(a.target);
  const client = new Client(relay.url("/"));
  assertEquals(await client.nextOpen(), false);
  let sent = 0;
  let echoed = 0;
  const round = async (n: number) => {
    for (let i = 0; i < n; i++) client.ws.send(`echo:${sent++}`);
    echoed += n;
    await client.arrived(echoed);
  };
  await round(5);
  // Every cut sends the reconnect to the other instance: a, b, a, b…
  const targets = [b, a];
  for (let cut = 0; cut < 6; cut++) {
    relay.retarget(targets[cut % 2]!.target);
    // Messages sent during the break, both ways.
    relay.cut();
    for (const connection of a.connections) connection.send(`push:${cut}`);
    for (let i = 0; i < 3; i++) client.ws.send(`echo:${sent++}`);
    echoed += 3;
    assertEquals(await client.nextOpen(), true);
    await round(4);
    await client.arrived(echoed + cut + 1);
  }
  await client.end();
  // The session stayed on a, one open and one end; b held none.
  assertEquals(a.opens, 1);
  assertEquals(b.opens, 0);
  await a.until(() => a.terminates.length === 1, "a's onTerminate");
  assertEquals(a.terminates, [1000]);
  // Everything once, in order.
  assertEquals(
    a.received,
    Array.from({ length: sent }, (_, i) => `echo:${i}`),
  );
  const echoes = client.texts.filter((m) => !m.startsWith("push:"));
  assertEquals(echoes, Array.from({ length: sent }, (_, i) => `${i}`));
  const pushes = client.texts.filter((m) => m.startsWith("push:"));
  assertEquals(pushes, numbered("push:", 0, 6));
  assertEquals(client.opens.map((open) => open.resumed), [
    false,
    true,
    true,
    true,
    true,
    true,
    true,
  ]);
});

Deno.test("the owner gone: the client gets resumed: false within the bound, its unacknowledged messages sent again", async () => {
  const channel = `cluster-${crypto.randomUUID()}`;
  await using b = new Instance(channel);
  const a = new Instance(channel);
  await using relay = new Relay(a.target);
  const client = new Client(relay.url("/"));
  assertEquals(await client.nextOpen(), false);
  client.ws.send("echo:0");
  await client.arrived(1);
  relay.retarget(b.target);
  // a vanishes without a word (its heartbeats stop, no goodbye).
  relay.refuse();
  relay.cut();
  const gone = performance.now();
  await a.wss.terminate(0);
  client.ws.send("after");
  relay.admit();
  assertEquals(await client.nextOpen(), false);
  const took = performance.now() - gone;
  assert(took < 2000, `resumed: false after ${took} ms`);
  await b.until(() => b.received.includes("after"), "the resend on b");
  await client.end();
});

Deno.test("hostile data on the channel is ignored: malformed, foreign, replayed, forged", async () => {
  const channel = `cluster-${crypto.randomUUID()}`;
  await using a = new Instance(channel);
  // A foreign publisher: the instance's inbox, the heartbeats, the broadcasts.
  const inbox = new BroadcastChannel(
    `${channel}\u0000to\u0000${a.backplane.instance}`,
  );
  const live = new BroadcastChannel(`${channel}\u0000live`);
  try {
    for (
      const junk of [
        null,
        42,
        "text",
        [],
        ["short", new Uint8Array(3)],
        ["AAAAAAAA", new Uint8Array(0)],
        ["AAAAAAAA", Uint8Array.of(1, ...new Uint8Array(16), 0x7b)],
        ["AAAAAAAA", Uint8Array.of(9, ...new Uint8Array(16))],
        ["AAAAAAAA", Uint8Array.of(4, ...new Uint8Array(16), 0xff, 0xfe)],
        ["AAAAAAAA", Uint8Array.of(7, ...new Uint8Array(16))],
      ]
    ) inbox.postMessage(junk);
    for (const junk of ["{", "[]", '{"from":"AAAAAAAA","bye":1}', 7]) {
      live.postMessage(junk);
    }
    // Still serves.
    await using relay = new Relay(a.target);
    const client = new Client(relay.url("/"));
    assertEquals(await client.nextOpen(), false);
    client.ws.send("echo:ok");
    await client.arrived(1);
    assertEquals(client.messages, ["ok"]);
    await client.end();
  } finally {
    inbox.close();
    live.close();
  }
});

Deno.test("the whole server's counts: each client once, at its owner", async () => {
  const channel = `cluster-${crypto.randomUUID()}`;
  using heard = new Heartbeats(channel);
  await using a = new Instance(channel);
  await using b = new Instance(channel);
  await using relay = new Relay(a.target);
  const one = new Client(relay.url("/"));
  assertEquals(await one.nextOpen(), false);
  relay.retarget(b.target);
  const two = new Client(relay.url("/"));
  assertEquals(await two.nextOpen(), false);
  // one comes back on b: relayed, still counted at a.
  relay.cut();
  assertEquals(await one.nextOpen(), true);
  assertEquals(await two.nextOpen(), true);
  await heard.until(
    () =>
      a.wss.clusterStats.counts.connections === 2 &&
      b.wss.clusterStats.counts.connections === 2,
    "both instances to count 2",
  );
  assertEquals(a.wss.stats.connections, 1);
  assertEquals(b.wss.stats.connections, 1);
  assertEquals(a.wss.clusterStats.instances, 2);
  await one.end();
  await two.end();
  await heard.until(
    () => a.wss.clusterStats.counts.connections === 0,
    "the counts back to 0",
  );
});

Deno.test("Backplane.heard(): resolves once another instance's heartbeat is taken in; at once when closed", async () => {
  const channel = `cluster-${crypto.randomUUID()}`;
  await using a = new Instance(channel);
  await using b = new Instance(channel);
  await deadline(a.backplane.heard(), 2000);
  const ids = a.backplane.instances().map(({ instance }) => instance);
  assertEquals(ids, [a.backplane.instance, b.backplane.instance]);
  await b.wss.terminate(0);
  await deadline(b.backplane.heard(), 100);
});

Deno.test("an instance gone is known within the bound", async () => {
  const channel = `cluster-${crypto.randomUUID()}`;
  using heard = new Heartbeats(channel);
  await using a = new Instance(channel);
  const b = new Instance(channel);
  await heard.until(() => a.wss.clusterStats.instances === 2, "b heard");
  await b.wss.terminate(0);
  const start = performance.now();
  await heard.until(() => a.wss.clusterStats.instances === 1, "b gone");
  assert(performance.now() - start < GONE_AFTER_MS + 300);
});

Deno.test("a forged, wrong or stale token sent to another instance gets a fresh session, never someone else's; a stale count ends the owner's session at once", async () => {
  const channel = `cluster-${crypto.randomUUID()}`;
  await using a = new Instance(channel);
  await using b = new Instance(channel);
  const bUrl = `ws://127.0.0.1:${b.target.port}/`;
  // A real session on a, its token read from its hello.
  const real = await rawHello(
    `ws://127.0.0.1:${a.target.port}/?ws4d-resume=1`,
    {},
    10_000,
  );
  const token = real.hello.token;
  assertEquals(token.slice(0, 8), a.backplane.instance);
  try {
    const offers = [
      // Another token naming a as its owner.
      `${a.backplane.instance}${"x".repeat(36)}`,
      // The real selector, a wrong secret.
      `${token.slice(0, 20)}${"y".repeat(24)}`,
      // A token naming an instance that does not exist.
      `ZZZZZZZZ${token.slice(8)}`,
    ];
    for (const offer of offers) {
      const { hello, socket } = await rawHello(bUrl, {
        protocols: [RESUME_PROTOCOL, `${RESUME_PROTOCOL}.${offer}.0`],
      }, 10_000);
      assertEquals(hello.resumed, false, offer);
      assert(hello.token !== token);
      await closeRaw(socket);
    }
    assertEquals(a.wss.stats.sessionsResumed, 0);
    assertEquals(a.connections.size, 1);
    // The real token with a count the session cannot resume from: a fresh
    // session on b, and a's session ends now, not at the window's end.
    const stale = await rawHello(bUrl, {
      protocols: [RESUME_PROTOCOL, `${RESUME_PROTOCOL}.${token}.999`],
    }, 10_000);
    assertEquals(stale.hello.resumed, false);
    await closeRaw(stale.socket);
    await a.until(() => a.terminates.length === 1, "a's session to end");
  } finally {
    await closeRaw(real.socket);
  }
});

Deno.test("a break during a relay resumes again, on the owner, the relaying instance or a third one", async () => {
  const channel = `cluster-${crypto.randomUUID()}`;
  await using a = new Instance(channel);
  await using b = new Instance(channel);
  await using c = new Instance(channel);
  await using relay = new Relay(a.target);
  const client = new Client(relay.url("/"));
  assertEquals(await client.nextOpen(), false);
  let sent = 0;
  const round = async () => {
    for (let i = 0; i < 3; i++) client.ws.send(`echo:${sent++}`);
    await client.arrived(sent);
  };
  await round();
  // Relayed by b, then broken and back on: c (a third), b (the relaying
  // one, again), a (the owner, no relay), c.
  for (const next of [b, c, b, a, c]) {
    relay.retarget(next.target);
    relay.cut();
    client.ws.send(`echo:${sent++}`);
    assertEquals(await client.nextOpen(), true);
    await round();
  }
  await client.end();
  assertEquals([a.opens, b.opens, c.opens], [1, 0, 0]);
  assertEquals(a.received, Array.from({ length: sent }, (_, i) => `echo:${i}`));
  assertEquals(client.messages, Array.from({ length: sent }, (_, i) => `${i}`));
});

Deno.test("a replayed open on the channel joins no session", async () => {
  const channel = `cluster-${crypto.randomUUID()}`;
  await using a = new Instance(channel);
  await using b = new Instance(channel);
  // A foreign listener on a's inbox sees what b sends a.
  const spy = new BroadcastChannel(
    `${channel}\u0000to\u0000${a.backplane.instance}`,
  );
  const seen: unknown[] = [];
  const firstSeen = Promise.withResolvers<void>();
  spy.onmessage = (event) => {
    seen.push(event.data);
    firstSeen.resolve();
  };
  try {
    await using relay = new Relay(a.target);
    const client = new Client(relay.url("/"));
    assertEquals(await client.nextOpen(), false);
    client.ws.send("echo:0");
    await client.arrived(1);
    relay.retarget(b.target);
    relay.cut();
    assertEquals(await client.nextOpen(), true);
    await deadline(firstSeen.promise, 10_000);
    const resumed = a.wss.stats.sessionsResumed;
    // The open again, as b sent it, and again.
    const open = seen[0];
    spy.postMessage(open);
    spy.postMessage(open);
    client.ws.send("echo:1");
    await client.arrived(2);
    assertEquals(a.wss.stats.sessionsResumed, resumed);
    assertEquals(client.messages, ["0", "1"]);
    await client.end();
  } finally {
    spy.close();
  }
});

Deno.test("a replayed open from another sender joins no session: the proof does not name the sender", async () => {
  const channel = `cluster-${crypto.randomUUID()}`;
  await using a = new Instance(channel);
  await using b = new Instance(channel);
  const spy = new BroadcastChannel(
    `${channel}\u0000to\u0000${a.backplane.instance}`,
  );
  const firstOpen = Promise.withResolvers<Uint8Array>();
  spy.onmessage = (event: MessageEvent<unknown>) => {
    const [, data]: unknown[] = Array.isArray(event.data) ? event.data : [];
    if (data instanceof Uint8Array) firstOpen.resolve(data);
  };
  // The inbox of a forger: whatever a answers it.
  const forger = "AAAAAAAA";
  const answers = new BroadcastChannel(`${channel}\u0000to\u0000${forger}`);
  const answered: string[] = [];
  const sentinel = crypto.getRandomValues(new Uint8Array(16));
  const refused = Promise.withResolvers<void>();
  answers.onmessage = (event: MessageEvent<unknown>) => {
    const [, data]: unknown[] = Array.isArray(event.data) ? event.data : [];
    if (!(data instanceof Uint8Array)) return;
    const id = data.subarray(1, 17).join();
    answered.push(id);
    if (id === sentinel.join()) refused.resolve();
  };
  try {
    await using relay = new Relay(a.target);
    const client = new Client(relay.url("/"));
    assertEquals(await client.nextOpen(), false);
    client.ws.send("echo:0");
    await client.arrived(1);
    relay.retarget(b.target);
    relay.cut();
    assertEquals(await client.nextOpen(), true);
    const open = await deadline(firstOpen.promise, 10_000);
    assertEquals(open[0], 1, "b's first message to a is its open");
    const resumed = a.wss.stats.sessionsResumed;
    // b's open, as if the forger had sent it; then an open of the forger's
    // own for the same session with a wrong proof, which a refuses: its
    // answer comes after any answer to the replay.
    spy.postMessage([forger, open]);
    const { s, r } = JSON.parse(new TextDecoder().decode(open.subarray(17)));
    const own = new TextEncoder().encode(JSON.stringify({ s, p: "x", r }));
    spy.postMessage([forger, Uint8Array.of(1, ...sentinel, ...own)]);
    await deadline(refused.promise, 10_000);
    assertEquals(answered, [sentinel.join()], "the replay got an answer");
    client.ws.send("echo:1");
    await client.arrived(2);
    assertEquals(a.wss.stats.sessionsResumed, resumed);
    assertEquals(client.messages, ["0", "1"]);
    assertEquals(client.opens.map((open) => open.resumed), [false, true]);
    await client.end();
  } finally {
    spy.close();
    answers.close();
  }
});

Deno.test("a slow consumer behind a relay: the owner closes it with 1008, through the relay", async () => {
  const channel = `cluster-${crypto.randomUUID()}`;
  using heard = new Heartbeats(channel);
  await using a = new Instance(channel);
  await using b = new Instance(channel);
  await using relay = new Relay(a.target);
  // A raw client that resumes but never acknowledges.
  const first = await rawHello(`${relay.url("/")}?ws4d-resume=1`, {}, 10_000);
  const token = first.hello.token;
  first.socket.send(encodeAnswer("accept", token));
  await a.until(() => a.connections.size === 1, "the session on a");
  relay.retarget(b.target);
  relay.cut();
  await heard.from(
    a,
    (counts) => counts.sessionsWaiting === 1,
    "a to see the break",
  );
  const second = await rawHello(relay.url("/"), {
    protocols: [RESUME_PROTOCOL, `${RESUME_PROTOCOL}.${token}.0`],
  }, 10_000);
  assertEquals(second.hello.resumed, true);
  const closed = new Promise<number>((resolve) => {
    second.socket.onclose = (event) => resolve(event.code);
  });
  for (const connection of a.connections) {
    for (let i = 0; i < 1200; i++) connection.send(`n${i}`);
  }
  assertEquals(await deadline(closed, 10_000), 1008);
  await a.until(() => a.terminates.length === 1, "a's onTerminate");
  assertEquals(a.terminates, [1008]);
  assertEquals(a.wss.stats.errors.SlowConsumer, 1);
  await closeRaw(first.socket);
});

Deno.test("a backplane written against the earlier interface keeps working: broadcasts cross, a reconnect to another instance gets resumed: false", async () => {
  // start, publish, close only: a bus in this process.
  const sinks = new Set<BackplaneSink>();
  const plain = (): Backplane => {
    let own: BackplaneSink | undefined;
    return {
      start(sink) {
        own = sink;
        sinks.add(sink);
      },
      publish(data) {
        for (const sink of sinks) if (sink !== own) sink.deliver(data);
      },
      close() {
        if (own !== undefined) sinks.delete(own);
        return Promise.resolve();
      },
    };
  };
  const echo: WSServerHandler = {
    onConnection: () => ({ onMessage: (ws, event) => ws.send(event.data) }),
  };
  await using a = new WebSocketServer(echo, {
    port: 0,
    hostname: "127.0.0.1",
    backplane: plain(),
    resume: true,
  });
  await using b = new WebSocketServer(echo, {
    port: 0,
    hostname: "127.0.0.1",
    backplane: plain(),
    resume: true,
  });
  await using relay = new Relay({ hostname: "127.0.0.1", port: a.addr!.port });
  const client = new Client(relay.url("/"));
  assertEquals(await client.nextOpen(), false);
  client.ws.send("one");
  await client.arrived(1);
  b.broadcast("from b");
  await client.arrived(2);
  relay.retarget({ hostname: "127.0.0.1", port: b.addr!.port });
  relay.cut();
  assertEquals(await client.nextOpen(), false);
  assertEquals(b.clusterStats.instances, 1);
  await client.end();
});

Deno.test("terminate() with a relayed, a resumed and a waiting session ends well within closeTimeout", async () => {
  const channel = `cluster-${crypto.randomUUID()}`;
  using heard = new Heartbeats(channel);
  const a = new Instance(channel);
  await using b = new Instance(channel);
  await using relay = new Relay(a.target);
  await using direct = new Relay(a.target);
  // Relayed through b.
  const relayed = new Client(relay.url("/"));
  assertEquals(await relayed.nextOpen(), false);
  relayed.ws.send("echo:0");
  await relayed.arrived(1);
  relay.retarget(b.target);
  relay.cut();
  assertEquals(await relayed.nextOpen(), true);
  // Resumed on a itself.
  const resumed = new Client(direct.url("/"));
  assertEquals(await resumed.nextOpen(), false);
  resumed.ws.send("echo:1");
  await resumed.arrived(1);
  direct.cut();
  assertEquals(await resumed.nextOpen(), true);
  // Waiting: its client cannot come back.
  await using gone = new Relay(a.target);
  const waiting = await rawHello(`${gone.url("/")}?ws4d-resume=1`, {}, 10_000);
  waiting.socket.send(encodeAnswer("accept", waiting.hello.token));
  await a.until(() => a.connections.size === 3, "three sessions on a");
  gone.refuse();
  gone.cut();
  await heard.from(a, (counts) => counts.sessionsWaiting === 1, "one waiting");
  const start = performance.now();
  await a.wss.terminate();
  const took = performance.now() - start;
  assert(took < 1000, `terminate() took ${Math.round(took)} ms`);
  assertEquals(a.connections.size, 0);
  assertEquals(a.terminates.length, 3);
  await relayed.end();
  await resumed.end();
  await closeRaw(waiting.socket);
});
